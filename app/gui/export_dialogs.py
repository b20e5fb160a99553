"""Export frame / animation dialogs: choose size, quality, renderer and target, see how long it will take,
then render on a task thread behind a cancellable progress dialog. Cancelling leaves no output.

The estimate comes from a quick probe on a task thread (:mod:`app.export_estimate`: one frame prepared and a
small image rendered with the chosen renderer), scaled to the size, samples and frames as they change; above
:data:`~app.export_estimate.LONG_EXPORT_S` the dialog warns before starting. The progress dialog shows
frames, samples per pixel, elapsed time and time left, refreshed twice a second.
"""

from __future__ import annotations

import threading
import time

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressDialog,
    QPushButton,
    QSpinBox,
    QWidget,
)


def progress_text(title: str, done: int, total: int, elapsed_s: float) -> str:
    """``"Exporting frame: 40% · about 12 s left"`` (no estimate before the first progress)."""
    frac = min(max(done / max(total, 1), 0.0), 1.0)
    text = f"{title}: {int(100 * frac)}%"
    if 0.0 < frac < 1.0 and elapsed_s > 0.0:
        left = elapsed_s * (1.0 - frac) / frac
        text += f" · about {left:.0f} s left" if left < 90 else f" · about {left / 60:.0f} min left"
    return text


def run_with_progress(
    window, title: str, fn, on_done, frames: int = 1, spp: int | None = None
) -> QProgressDialog:
    """Run ``fn(progress, cancel)`` on a task thread with a modal, cancellable progress dialog.

    ``progress(done, total)`` may be called from the task thread at any rate: it only records the newest value
    and posts one update to the GUI thread at a time (no Qt call from the task thread). ``frames`` and ``spp``
    (default: ``total`` of the first report) let the label count frames and samples; a timer refreshes the
    elapsed time and the time left twice a second."""
    from hyperinr_app.export import Cancelled
    from hyperinr_app.export_progress import ProgressState, progress_line

    dlg = QProgressDialog(progress_text(title, 0, 1, 0.0), "Cancel", 0, 100, window)
    dlg.setWindowModality(Qt.WindowModal)
    dlg.setMinimumDuration(0)
    dlg.setAutoClose(False)
    dlg.setAutoReset(False)
    cancelled = threading.Event()
    dlg.canceled.connect(cancelled.set)
    state = {"value": None, "posted": False}  # newest (done, total); whether an update is on its way
    finished = []
    shown: dict = {"state": None}  # ProgressState, made on the GUI thread at the first report

    def refresh():
        st = shown["state"]
        if st is not None and not finished:
            dlg.setValue(int(100 * st.eta.fraction))
            dlg.setLabelText(f"{title}: {int(100 * st.eta.fraction)}% · {progress_line(st)}")

    def show_progress():
        state["posted"] = False  # first: a value set after this line posts again
        value = state["value"]
        if value is not None and not finished:
            if shown["state"] is None:
                shown["state"] = ProgressState.create(frames, spp or max(value[1] // max(frames, 1), 1))
                shown["state"].eta.start = started
                if state.get("costs") is not None:
                    shown["state"].eta.set_frame_costs(state["costs"], shown["state"].spp)
            shown["state"].eta.update(value[0], value[1])
            refresh()

    def progress(d, t):  # task thread
        state["value"] = (d, t)
        if not state["posted"]:
            state["posted"] = True
            window.tasks.inbox.post(show_progress)

    def set_frame_costs(costs):  # task thread, before the first report of an animation
        state["costs"] = list(costs)

    progress.set_frame_costs = set_frame_costs

    # The path tracer would compete with the export for the CPU: stop refining while the export runs.
    canvas = window.canvas
    was_progressive = canvas.progressive
    canvas.set_progressive(False)

    timer = QTimer(dlg)
    timer.setInterval(500)
    timer.timeout.connect(refresh)
    timer.start()

    def finish():
        finished.append(True)
        timer.stop()
        dlg.close()
        canvas.set_progressive(was_progressive)

    def done(value):
        finish()
        on_done(value)

    def failed(exc):
        finish()
        if isinstance(exc, Cancelled):
            window.statusBar().showMessage("export cancelled; nothing was written", 5000)
        else:
            window.show_error(title + " failed", exc)

    started = time.perf_counter()
    window.tasks.submit(lambda: fn(progress, cancelled.is_set), done, failed)
    dlg.show()
    window.set_export_progress(dlg)  # Ctrl-C cancels it; tests reach it as window.export_progress
    return dlg


def _path_row(dialog, default: str, filt: str) -> tuple[QWidget, QLineEdit]:
    w = QWidget()
    lay = QHBoxLayout(w)
    lay.setContentsMargins(0, 0, 0, 0)
    edit = QLineEdit(default)
    b = QPushButton("…")
    b.clicked.connect(
        lambda: edit.setText(
            QFileDialog.getSaveFileName(dialog, "Export to", edit.text(), filt)[0] or edit.text()
        )
    )
    lay.addWidget(edit, 1)
    lay.addWidget(b)
    return w, edit


class _ExportDialog(QDialog):
    """Size, samples, renderer, texture resolution and file, with the estimated time (subclasses add rows)."""

    def __init__(self, window, title: str, default: str, filt: str, w=800, h=600, spp=64):
        super().__init__(window)
        self.window_ = window
        self.setWindowTitle(title)
        self.form = QFormLayout(self)
        self.width_ = QSpinBox()
        self.width_.setRange(16, 8192)
        self.width_.setValue(w)
        self.height_ = QSpinBox()
        self.height_.setRange(16, 8192)
        self.height_.setValue(h)
        self.spp = QSpinBox()
        self.spp.setRange(1, 65536)
        self.spp.setValue(spp)
        self.renderer = QComboBox()
        self.renderer.addItem("GL (the window's shaders, offscreen)", "gl")
        self.renderer.addItem("torch (reference, on the INR itself; slow)", "torch")
        self.volume_res = QSpinBox()
        self.volume_res.setRange(16, 512)
        self.volume_res.setValue(128)
        self.volume_res.setToolTip("GL renders the INR decoded on an N³ grid")
        self.estimate = QLabel("Estimating the time…")
        self.estimate.setWordWrap(True)
        row, self.path = _path_row(self, default, filt)
        self.form.addRow("Width (px)", self.width_)
        self.form.addRow("Height (px)", self.height_)
        self.form.addRow("Samples per pixel", self.spp)
        self.form.addRow("Renderer", self.renderer)
        self.form.addRow("Volume resolution", self.volume_res)
        self.form.addRow("File", row)
        self.form.addRow("Time", self.estimate)
        self.probed = None  # ProbeResult of the current renderer and resolution
        self._probe_key = None
        self._probe_timer = QTimer(self)
        self._probe_timer.setSingleShot(True)
        self._probe_timer.setInterval(300)
        self._probe_timer.timeout.connect(self._probe)
        self.finished.connect(self._probe_timer.stop)  # no probe once the export starts (or is dropped)
        for sb in (self.width_, self.height_, self.spp):
            sb.valueChanged.connect(self.update_estimate)
        self.renderer.currentIndexChanged.connect(self._renderer_changed)
        self.volume_res.valueChanged.connect(lambda _v: self._probe_timer.start())

    def _renderer_changed(self) -> None:
        self.volume_res.setEnabled(self.renderer_name() == "gl")
        self._probe_timer.start()

    def renderer_name(self) -> str:
        return self.renderer.currentData()

    def _buttons(self) -> None:
        box = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        box.accepted.connect(self.start)
        box.rejected.connect(self.reject)
        self.form.addRow(box)
        self._probe_timer.start()

    # -- estimate ----------------------------------------------------------------------------------------
    def work(self) -> tuple[int, int]:
        """(frames, frames whose volume must be generated and decoded)."""
        return 1, 1

    def _probe(self) -> None:
        """Measure the chosen renderer on a task thread; the estimate follows (the GUI never waits)."""
        from hyperinr_app.export_estimate import probe

        key = (self.renderer_name(), self.volume_res.value())
        if key == self._probe_key:
            return
        self._probe_key = key
        self.probed = None
        self.estimate.setText("Estimating the time…")
        try:
            scene = self.window_.export_scene()
        except Exception as exc:  # noqa: BLE001 - nothing to estimate; shown, not raised
            self.estimate.setText(str(exc))
            return

        def done(result, key=key):
            if key == self._probe_key:
                self.probed = result
                self.update_estimate()

        def failed(exc, key=key):
            if key == self._probe_key:
                self.estimate.setText(f"could not estimate the time: {exc}")

        self.window_.tasks.submit(lambda: probe(scene, *key), done, failed)

    def estimated_seconds(self) -> float | None:
        if self.probed is None:
            return None
        frames, preps = self.work()
        size = (self.width_.value(), self.height_.value())
        return self.probed.estimate(size, self.spp.value(), frames, preps)

    def update_estimate(self) -> None:
        from hyperinr_app.export_estimate import LONG_EXPORT_S, estimate_text

        seconds = self.estimated_seconds()
        if seconds is None:
            return
        words, long = estimate_text(seconds)
        text = f"{words} with {self.probed.renderer} (measured on this machine)"
        if self.probed.note:
            text += f". {self.probed.note}"
        if long:
            text = (f"<b>{text}</b>: over {LONG_EXPORT_S / 60:.0f} minutes. Lower the size, samples per pixel"
                    + (" or frames" if self.work()[0] > 1 else "") + " for a quicker export.")
        self.estimate.setText(text)
        self.estimate.setStyleSheet("color: #c0392b;" if long else "")

    def export_renderer(self) -> str:
        """The renderer the export uses: torch when the probe found no GL context."""
        if self.probed is not None and self.probed.note and self.renderer_name() == "gl":
            return self.probed.renderer
        return self.renderer_name()


class ExportFrameDialog(_ExportDialog):
    def __init__(self, window):
        super().__init__(window, "Export frame", "frame.png", "PNG (*.png)")
        self._buttons()

    def start(self) -> None:
        from hyperinr_app.export import export_frame

        scene = self.window_.export_scene()
        size, spp, path = (self.width_.value(), self.height_.value()), self.spp.value(), self.path.text()
        renderer, res = self.export_renderer(), self.volume_res.value()
        self.accept()
        run_with_progress(
            self.window_,
            "Exporting frame",
            lambda progress, cancel: export_frame(scene, path, size, spp, progress, cancel, renderer, res),
            lambda p: self.window_.statusBar().showMessage(f"wrote {p}", 5000),
            frames=1,
            spp=spp,
        )


class ExportAnimationDialog(_ExportDialog):
    def __init__(self, window):
        super().__init__(
            window, "Export animation", "animation.mp4", "MP4 (*.mp4);;PNG folder (*)", 640, 480, 8
        )
        self.kind = QComboBox()
        names = list(window.session.model.cfg.param_names)
        self.kind.addItems(
            [f"parameter {n}" for n in names] + ["light azimuth", "light polar", "camera orbit"]
        )
        self.start_ = QDoubleSpinBox()
        self.stop_ = QDoubleSpinBox()
        for s in (self.start_, self.stop_):
            s.setRange(-1e9, 1e9)
            s.setDecimals(3)
        self.frames = QSpinBox()
        self.frames.setRange(1, 100000)
        self.frames.setValue(48)
        self.fps = QSpinBox()
        self.fps.setRange(1, 120)
        self.fps.setValue(12)
        self.form.insertRow(0, "Sweep", self.kind)
        self.form.insertRow(1, "From", self.start_)
        self.form.insertRow(2, "To", self.stop_)
        self.form.insertRow(3, "Frames", self.frames)
        self.form.insertRow(4, "Frames per second", self.fps)
        self.kind.currentIndexChanged.connect(self._defaults)
        self.kind.currentIndexChanged.connect(self.update_estimate)
        self.frames.valueChanged.connect(self.update_estimate)
        self._defaults(0)
        self._buttons()

    def work(self) -> tuple[int, int]:
        """Every frame of a parameter sweep decodes a new volume; the light and the camera reuse one."""
        n = self.frames.value()
        return n, (n if self.kind.currentIndex() < len(self.window_.session.model.cfg.param_names) else 1)

    def _defaults(self, i: int) -> None:
        cfg = self.window_.session.model.cfg
        n = len(cfg.param_names)
        if i < n:
            self.start_.setValue(cfg.param_lo[i])
            self.stop_.setValue(cfg.param_hi[i])
        elif i == n:
            self.start_.setValue(0.0)
            self.stop_.setValue(360.0)
        elif i == n + 1:
            self.start_.setValue(10.0)
            self.stop_.setValue(80.0)
        else:
            az = self.window_.export_scene().camera.azimuth
            self.start_.setValue(az)
            self.stop_.setValue(az + 360.0)

    def sweep(self):
        from hyperinr_app.export import Sweep

        names = list(self.window_.session.model.cfg.param_names)
        i = self.kind.currentIndex()
        kind, name = (
            ("param", names[i]) if i < len(names) else (["azimuth", "polar", "orbit"][i - len(names)], "")
        )
        return Sweep(kind, self.start_.value(), self.stop_.value(), self.frames.value(), name)

    def start(self) -> None:
        from hyperinr_app.export import export_animation

        scene, sweep = self.window_.export_scene(), self.sweep()
        size, spp, path, fps = (
            (self.width_.value(), self.height_.value()),
            self.spp.value(),
            self.path.text(),
            self.fps.value(),
        )
        renderer, res = self.export_renderer(), self.volume_res.value()
        self.accept()
        run_with_progress(
            self.window_,
            "Exporting animation",
            lambda progress, cancel: export_animation(scene, sweep, path, size, spp, fps, progress, cancel,
                                                      renderer, res, costs=progress.set_frame_costs),
            lambda p: self.window_.statusBar().showMessage(f"wrote {p}", 5000),
            frames=sweep.frames,
            spp=spp,
        )
