"""Export frame / animation dialogs: choose size, quality and target, then render on a task thread behind a
cancellable progress dialog. Cancelling leaves no output."""

from __future__ import annotations

import threading
import time

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
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


def run_with_progress(window, title: str, fn, on_done) -> QProgressDialog:
    """Run ``fn(progress, cancel)`` on a task thread with a modal, cancellable progress dialog.

    ``progress(done, total)`` may be called from the task thread at any rate: it only records the newest value
    and posts one update to the GUI thread at a time (no Qt call from the task thread)."""
    from hyperinr_app.export import Cancelled

    dlg = QProgressDialog(progress_text(title, 0, 1, 0.0), "Cancel", 0, 100, window)
    dlg.setWindowModality(Qt.WindowModal)
    dlg.setMinimumDuration(0)
    dlg.setAutoClose(False)
    dlg.setAutoReset(False)
    cancelled = threading.Event()
    dlg.canceled.connect(cancelled.set)
    state = {"value": None, "posted": False}  # newest (done, total); whether an update is on its way
    finished = []

    def show_progress():
        state["posted"] = False  # first: a value set after this line posts again
        value = state["value"]
        if value is not None and not finished:
            dlg.setValue(int(100 * value[0] / max(value[1], 1)))
            dlg.setLabelText(progress_text(title, value[0], value[1], time.perf_counter() - started))

    def progress(d, t):  # task thread
        state["value"] = (d, t)
        if not state["posted"]:
            state["posted"] = True
            window.tasks.inbox.post(show_progress)

    # The path tracer would compete with the export for the CPU: stop refining while the export runs.
    canvas = window.canvas
    was_progressive = canvas.progressive
    canvas.set_progressive(False)

    def finish():
        finished.append(True)
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
        row, self.path = _path_row(self, default, filt)
        self.form.addRow("Width (px)", self.width_)
        self.form.addRow("Height (px)", self.height_)
        self.form.addRow("Samples per pixel", self.spp)
        self.form.addRow("File", row)

    def _buttons(self) -> None:
        box = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        box.accepted.connect(self.start)
        box.rejected.connect(self.reject)
        self.form.addRow(box)


class ExportFrameDialog(_ExportDialog):
    def __init__(self, window):
        super().__init__(window, "Export frame", "frame.png", "PNG (*.png)")
        self._buttons()

    def start(self) -> None:
        from hyperinr_app.export import export_frame

        scene = self.window_.export_scene()
        size, spp, path = (self.width_.value(), self.height_.value()), self.spp.value(), self.path.text()
        self.accept()
        run_with_progress(
            self.window_,
            "Exporting frame",
            lambda progress, cancel: export_frame(scene, path, size, spp, progress, cancel),
            lambda p: self.window_.statusBar().showMessage(f"wrote {p}", 5000),
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
        self._defaults(0)
        self._buttons()

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
        self.accept()
        run_with_progress(
            self.window_,
            "Exporting animation",
            lambda progress, cancel: export_animation(scene, sweep, path, size, spp, fps, progress, cancel),
            lambda p: self.window_.statusBar().showMessage(f"wrote {p}", 5000),
        )
