"""The explorer's main window: the GL path tracer in the centre, docks for parameters, light, transfer
function and render settings, a status line, File menu with open and export.

Nothing here blocks the GUI thread: model files load on a task thread, INRs are generated and decoded by the
:class:`~app.controller.GenerationWorker`, exports render on a task thread behind a cancellable progress
dialog. Errors become dialogs naming the problem; what is already open stays open.
"""

from __future__ import annotations

import os
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np
from hyperinr_app.bundle import Bundle
from hyperinr_app.controller import GenerationWorker, Request, Result
from hyperinr_app.gui.tasks import TaskRunner
from hyperinr_app.gui.widgets import FloatSlider, LightSphere, OpacityEditor
from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QColor, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QColorDialog,
    QComboBox,
    QDockWidget,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

SETTINGS_ORG = os.environ.get("HYPERINR_SETTINGS_ORG", "HyperINR")
SETTINGS_APP = "Explorer"


def _one_torch_thread() -> None:
    import torch

    torch.set_num_threads(1)


RECENT_MAX = 8
BUNDLE_TF_ITEM = "as in the bundle"


def settings() -> QSettings:
    return QSettings(SETTINGS_ORG, SETTINGS_APP)


def _source_key(path: str | os.PathLike) -> str:
    """Settings key of an opened file (its resolved path, hashed: keys must not contain separators)."""
    import hashlib

    return hashlib.sha1(str(Path(path).resolve()).encode()).hexdigest()[:16]


class MainWindow(QMainWindow):
    """The explorer window. ``open_path`` loads a bundle, model or dataset (asynchronously)."""

    result_ready = Signal(object)  # Result, emitted on the GUI thread (the worker posts through the inbox)
    first_frame = Signal()

    def __init__(self, parent=None, interactive_resolutions=(32, 64), canvas_surface: str = "window",
                 restore_session: bool = True):
        """``restore_session=False`` (scripted screenshots): start from defaults and leave the saved
        session (layout, recent files, transfer functions) untouched."""
        super().__init__(parent)
        from hyperinr_renderer import Light, TransferFunction
        from hyperinr_renderer.gl.canvas import PathTracerCanvas

        self.setWindowTitle("HyperINR Explorer")
        # One torch thread per pool thread: the GUI thread and the software GL rasteriser need the other core,
        # and OpenMP threads competing for busy cores run many times slower than one thread.
        self.tasks = TaskRunner(self, thread_init=_one_torch_thread)
        # The canvas on its own native GL window (in a window container): a QOpenGLWidget ("widget") would
        # make every repaint of every other widget go through GL composition (hyperinr bench latency).
        self.canvas = PathTracerCanvas(size=(800, 600), show=False, surface=canvas_surface)
        self.setCentralWidget(self.canvas.widget)
        self.model = None
        self.shadow_model = None
        self.bundle: Bundle | None = None
        self.worker: GenerationWorker | None = None
        self.sliders: dict[str, FloatSlider] = {}
        self.initial_params: dict[str, float] = {}  # --param values, applied when a model loads
        self.shadow_explicit = False  # --shadow given: keep that mode instead of field shadows by default
        self.compile_decoder = True  # compile the decoder after the first full frame (not for one screenshot)
        self.light = Light(azimuth=45.0, polar=45.0)
        self.tf = TransferFunction.preset("viridis")
        self.resolutions = tuple(interactive_resolutions)
        self.errors: list[str] = []  # every error shown, for tests and the log
        self._shown_final = False
        self._pending_first = True
        self._session = bool(restore_session)
        self._source: str | None = None  # the file the current model came from (settings key of its TF)
        self._bundle_tf = None  # the transfer function the bundle itself names
        self.histogram: np.ndarray | None = None  # of the last full-resolution volume shown
        self._play = QTimer(self)
        self._play.setInterval(80)
        self._play.timeout.connect(self._advance)
        # The status line changes with every frame; repainting it (and with it the GL window's composition)
        # that often costs the event loop more than the text is worth: at most 5 updates a second.
        self._status_timer = QTimer(self)
        self._status_timer.setSingleShot(True)
        self._status_timer.setInterval(200)
        self._status_timer.timeout.connect(self._update_status)
        self.result_ready.connect(self._on_result)
        self.canvas.events.frame_rendered.connect(self._on_frame)
        self._build_menus()
        self._build_docks()
        self._build_status()
        self.canvas.set_light(self.light)
        self.canvas.set_transfer_function(self.tf)
        self._update_shadow_availability()
        self._restore_settings()

    # -- construction ----------------------------------------------------------------------------------
    def _build_menus(self) -> None:
        m = self.menuBar().addMenu("&File")
        for text, key, slot in (
            ("&Open…", QKeySequence.Open, self._open_dialog),
            (None, None, None),
            ("Export &frame…", "Ctrl+E", self._export_frame_dialog),
            ("Export &animation…", "Ctrl+Shift+E", self._export_animation_dialog),
            ("&Quit", QKeySequence.Quit, self.close),
        ):
            if text is None:
                self.recent_menu = m.addMenu("Open &recent")
                continue
            a = QAction(text, self)
            a.setShortcut(key)
            a.triggered.connect(slot)
            m.addAction(a)
        self._refresh_recent_menu()
        self.view_menu = self.menuBar().addMenu("&View")
        reset = QAction("&Reset camera", self)
        reset.setShortcut("Ctrl+R")
        reset.triggered.connect(self.canvas.reset_camera)
        self.view_menu.addAction(reset)
        info = QAction("Model &info…", self)
        info.triggered.connect(self.show_model_info)
        self.view_menu.addAction(info)
        self.view_menu.addSeparator()

    def _dock(self, title: str, widget: QWidget, area=Qt.RightDockWidgetArea, grow=False) -> QDockWidget:
        if not grow:  # spare height goes to the docks that can use it, not to gaps under the others
            widget.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Fixed)
        d = QDockWidget(title, self)
        d.setObjectName(title)
        d.setWidget(widget)
        d.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetFloatable)
        self.addDockWidget(area, d)
        self.view_menu.addAction(d.toggleViewAction())
        return d

    def _build_docks(self) -> None:
        from hyperinr_renderer.transfer import presets

        # Parameters (filled when a model loads)
        self.param_box = QWidget()
        self.param_form = QFormLayout(self.param_box)
        self.play_button = QToolButton()
        self.play_button.setText("▶ Play")
        self.play_button.setCheckable(True)
        self.play_button.toggled.connect(self._toggle_play)
        self.param_message = QLabel("Open a model or bundle (File > Open).")
        self.param_message.setWordWrap(True)
        self.param_form.addRow(self.param_message)
        self._dock("Parameters", self.param_box)

        # Light and shadows
        light = QWidget()
        lf = QFormLayout(light)
        self.sphere = LightSphere()
        self.sphere.set_direction(self.light.azimuth, self.light.polar)
        self.sphere.directionChanged.connect(self._light_from_sphere)
        self.azimuth = FloatSlider(0, 360, self.light.azimuth, 1, "°")
        self.polar = FloatSlider(0, 180, self.light.polar, 1, "°")
        self.azimuth.valueChanged.connect(lambda v: self._set_light(azimuth=v))
        self.polar.valueChanged.connect(lambda v: self._set_light(polar=v))
        self.shadow_combo = QComboBox()
        self.shadow_combo.addItems(["none", "rays", "field"])
        self.shadow_combo.currentTextChanged.connect(self._set_shadow_mode)
        self.shadow_reason = QLabel()
        self.shadow_reason.setWordWrap(True)
        self.shadow_reason.setStyleSheet("color: #b0a070;")
        lf.addRow(self.sphere)
        lf.addRow("Azimuth", self.azimuth)
        lf.addRow("Polar", self.polar)
        lf.addRow("Shadows", self.shadow_combo)
        lf.addRow(self.shadow_reason)
        self._dock("Light", light)

        # Transfer function
        tfw = QWidget()
        tl = QVBoxLayout(tfw)
        row = QHBoxLayout()
        self.cmap_combo = QComboBox()
        from hyperinr_renderer.transfer import COLORMAPS

        self.cmap_combo.addItems(sorted(COLORMAPS))
        self.cmap_combo.currentTextChanged.connect(self._set_colormap)
        self.preset_combo = QComboBox()
        self.preset_combo.addItems(["preset…", *presets()])
        self.preset_combo.activated.connect(self._apply_preset)
        row.addWidget(QLabel("Colormap"))
        row.addWidget(self.cmap_combo, 1)
        row.addWidget(self.preset_combo)
        tl.addLayout(row)
        self.opacity = OpacityEditor(alpha_max=0.5)
        self.opacity.pointsChanged.connect(self._set_opacity)
        tl.addWidget(self.opacity)
        row = QHBoxLayout()
        for text, slot, tip in (
            ("Fit to volume", self._fit_opacity,
             "Stretch the opacity curve over the value range of the volume shown now"),
            ("Load…", self._load_tf, "Load a transfer function (JSON)"),
            ("Save…", self._save_tf, "Save the transfer function (JSON)"),
        ):
            b = QPushButton(text)
            b.setToolTip(tip)
            b.clicked.connect(slot)
            row.addWidget(b)
            if slot == self._fit_opacity:
                self.fit_button = b
        tl.addLayout(row)
        self._dock("Transfer function", tfw, grow=True)

        # Render settings
        rw = QWidget()
        rf = QFormLayout(rw)
        self.quality = QSpinBox()
        self.quality.setRange(16, 1024)
        self.quality.setValue(256)
        self.quality.setSuffix(" steps/unit")
        self.quality.valueChanged.connect(self.canvas.set_quality)
        self.progressive = QCheckBox("accumulate samples at rest")
        self.progressive.setChecked(True)
        self.progressive.toggled.connect(self.canvas.set_progressive)
        self.bg_button = QPushButton("Background…")
        self.bg_button.clicked.connect(self._pick_background)
        rf.addRow("Quality", self.quality)
        rf.addRow("Progressive", self.progressive)
        rf.addRow(self.bg_button)
        self._dock("Render", rw)
        self._sync_tf_widgets()

    def _build_status(self) -> None:
        self.status_label = QLabel("no model")
        self.statusBar().addPermanentWidget(self.status_label, 1)
        self._stats = {"gen": 0.0, "decode": 0.0, "res": 0}

    # -- opening -----------------------------------------------------------------------------------------
    def _open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Open model, bundle or dataset",
            self._last_dir(),
            "HyperINR files (*.h5 *.json);;All files (*)",
        )
        if path:
            self.open_path(path)

    def _last_dir(self) -> str:
        return str(settings().value("last_dir", str(Path.home())))

    # -- recent files ------------------------------------------------------------------------------------
    def recent_files(self) -> list[str]:
        value = settings().value("recent_files", [])
        if isinstance(value, str):  # QSettings returns a one-element list as a plain string
            value = [value]
        return [str(v) for v in (value or [])]

    def _remember_recent(self, path: str | os.PathLike) -> None:
        if not self._session:
            return
        p = str(Path(path).resolve())
        settings().setValue("last_dir", str(Path(p).parent))
        settings().setValue("recent_files", [p, *[r for r in self.recent_files() if r != p]][:RECENT_MAX])
        self._refresh_recent_menu()

    def _forget_recent(self, path: str) -> None:
        settings().setValue("recent_files", [r for r in self.recent_files() if r != path])
        self._refresh_recent_menu()

    def _refresh_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = self.recent_files()
        for i, p in enumerate(recent):
            a = self.recent_menu.addAction(f"&{i + 1} {Path(p).name}")
            a.setToolTip(p)
            a.setData(p)
            a.triggered.connect(partial(self._open_recent, p))
        if recent:
            self.recent_menu.addSeparator()
        clear = self.recent_menu.addAction("Clear list")
        clear.setEnabled(bool(recent))
        clear.triggered.connect(lambda: (settings().remove("recent_files"), self._refresh_recent_menu()))

    def _open_recent(self, path: str, _checked=False) -> None:
        if not Path(path).exists():
            self._forget_recent(path)
            self.show_error("Cannot open a recent file", f"{path}: no such file (removed from the list)")
            return
        self.open_path(path)

    def open_path(self, path: str | os.PathLike) -> None:
        """Load a bundle, model or dataset on a task thread; the window stays usable meanwhile."""
        self.statusBar().showMessage(f"opening {path}…")

        def load():
            from hyperinr_app.loading import load_target

            return load_target(path, have_model=self.model is not None)

        def done(value):
            kind, obj, payload = value
            if kind == "dataset":
                self._open_dataset(obj, n_frames=payload[1])
            elif kind == "nvs":
                from hyperinr_app.gui.nvs_view import show_nvs_model

                show_nvs_model(self, obj, *payload)
            else:
                self._install(obj, *payload, source=path)
            self._remember_recent(path)
            self.statusBar().showMessage(f"opened {path}", 4000)

        self.tasks.submit(load, done, lambda exc: self.show_error(f"Cannot open {path}", exc))

    def _install(self, bundle: Bundle, model, shadow, tf, source=None) -> None:
        if getattr(self, "nvs_view", None) is not None:
            from hyperinr_app.gui.nvs_view import show_volume_canvas

            show_volume_canvas(self)
        if self.worker is not None:
            self.worker.close()
        self.bundle, self.model, self.shadow_model = bundle, model, shadow
        self.setWindowTitle(f"HyperINR Explorer — {bundle.title or Path(bundle.model).name}")
        self._save_session_tf()  # the model being replaced keeps its transfer function for next time
        self._bundle_tf = tf
        self._set_bundle_tf_item(tf is not None)
        self._source = str(source) if source is not None else None
        restored = self._saved_tf(self._source)
        if restored is not None and restored != tf:
            tf = restored
            self.statusBar().showMessage(
                f"transfer function restored from the last session"
                f"{f' (preset… > {BUNDLE_TF_ITEM} goes back to the bundle’s)' if self._bundle_tf else ''}",
                8000,
            )
        if tf is not None:
            self.tf = tf
            self._sync_tf_widgets()
            self.canvas.set_transfer_function(tf)
        self._build_param_sliders()
        self._update_shadow_availability()
        if shadow is not None and self.field_unavailable_reason() is None and not self.shadow_explicit:
            self.shadow_combo.setCurrentText("field")  # the shadow model was made for this TF: show it
        # The worker thread never emits a Qt signal: it posts, and result_ready is emitted on the GUI thread.
        # The decoder compiles once the first full-quality frame is up (on_frame), not during the first image;
        # a model opened later starts compiling after its first volume.
        self.worker = GenerationWorker(model, partial(self.tasks.inbox.post, self.result_ready.emit),
                                       shadow_model=shadow, compile_after_first=not self._pending_first)
        self._shown_final = False
        self.request()

    def _build_param_sliders(self) -> None:
        while self.param_form.rowCount():
            self.param_form.removeRow(0)
        self.sliders = {}
        cfg = self.model.cfg
        for name, lo, hi in zip(cfg.param_names, cfg.param_lo, cfg.param_hi, strict=True):
            start = self.initial_params.get(name, (lo + hi) / 2)  # mid-series: where the flow is developed
            s = FloatSlider(lo, hi, start, 3)
            s.valueChanged.connect(lambda _v: self.request())
            self.sliders[name] = s
            self.param_form.addRow(name, s)
        self.play_button = QToolButton()
        self.play_button.setText("▶ Play")
        self.play_button.setCheckable(True)
        self.play_button.toggled.connect(self._toggle_play)
        self.param_form.addRow(self.play_button)
        info = QLabel(f"{self.model.n_encoders} encoders · {cfg.encoding.n_params:,} parameters each")
        info.setStyleSheet("color: gray;")
        self.param_form.addRow(info)

    def theta(self) -> list[float]:
        return [self.sliders[n].value() for n in self.model.cfg.param_names]

    def request(self) -> None:
        """Ask the worker for the volume (and shadow volume) at the current parameters and light."""
        if self.worker is None:
            return
        want_shadow = self.shadow_model is not None and self.shadow_combo.currentText() == "field"
        light = (self.light.azimuth, self.light.polar) if want_shadow else None
        self.worker.request(Request(self.theta(), light, self.resolutions))

    def _on_result(self, r: Result) -> None:
        if r.error:
            self.show_error("Generating the volume failed", r.error)
            return
        self.canvas.set_volume(r.volume)
        if r.shadow is not None:
            self.canvas.set_shadow_volume(r.shadow)
        self._stats.update(gen=r.generate_ms, decode=r.decode_ms + r.shadow_ms, res=r.resolution)
        self._shown_final = r.final
        self._schedule_status()
        if r.histogram is not None:  # final volumes: the editor follows the volume shown
            self.histogram = r.histogram
            self.opacity.set_histogram(r.histogram)

    def data_range(self, tail: float = 0.002) -> tuple[float, float] | None:
        """The shown volume's value range from its histogram, without the lowest ``tail`` of the values."""
        h = self.histogram
        if h is None or h.sum() == 0:
            return None
        edges = np.linspace(0.0, 1.0, len(h) + 1)
        cdf = np.cumsum(h) / h.sum()
        lo = edges[int(np.searchsorted(cdf, tail, side="right"))]
        hi = edges[int(np.flatnonzero(h)[-1]) + 1]
        return float(lo), float(max(hi, lo + 1.0 / len(h)))

    def _fit_opacity(self) -> None:
        """Stretch the opacity curve from [0, 1] over the shown volume's value range (e.g. an early timestep
        whose values all lie where the series-wide curve is still transparent)."""
        rng = self.data_range()
        if rng is None:
            return
        lo, hi = rng
        pts = [(lo + v * (hi - lo), a) for v, a in self.tf.opacity]
        self.set_transfer_function(self.tf.with_opacity(pts))
        self._sync_tf_widgets()
        self.statusBar().showMessage(f"opacity curve fitted to this volume's values {lo:.3f}…{hi:.3f}", 6000)

    def _on_frame(self, event) -> None:
        self._schedule_status()
        if self._pending_first and self._shown_final and not event.interactive and event.spp >= 4:
            self._pending_first = False
            if self.worker is not None and self.compile_decoder:
                self.worker.start_compiling()
            self.first_frame.emit()

    def _schedule_status(self) -> None:
        if not self._status_timer.isActive():
            self._status_timer.start()

    def _update_status(self) -> None:
        s = self._stats
        self.status_label.setText(
            f"generate {s['gen']:.2f} ms · decode {s['decode']:.0f} ms ({s['res']}³) · "
            f"frame {self.canvas.last_frame_ms:.0f} ms · {self.canvas.spp} spp"
        )

    # -- parameters ----------------------------------------------------------------------------------------
    def _toggle_play(self, on: bool) -> None:
        self.play_button.setText("⏸ Pause" if on else "▶ Play")
        self._play.start() if on else self._play.stop()

    def _advance(self) -> None:
        if not self.sliders:
            return
        s = next(iter(self.sliders.values()))
        s.setValue(s.lo if s.value() >= s.hi else s.value() + (s.hi - s.lo) / 100)

    def keyPressEvent(self, event) -> None:
        if self.sliders and event.key() in (Qt.Key_Left, Qt.Key_Right):
            next(iter(self.sliders.values())).step(1 if event.key() == Qt.Key_Right else -1)
        else:
            super().keyPressEvent(event)

    # -- light and shadows ---------------------------------------------------------------------------------
    def _light_from_sphere(self, az: float, polar: float) -> None:
        self._set_light(azimuth=az, polar=polar)

    def _set_light(self, **kw) -> None:
        self.light = replace(self.light, **kw)
        for w, v in ((self.azimuth, self.light.azimuth), (self.polar, self.light.polar)):
            w.blockSignals(True)
            w.setValue(v)
            w._sync(v)
            w.blockSignals(False)
        self.sphere.set_direction(self.light.azimuth, self.light.polar)
        self.canvas.set_light(self.light)
        if self.shadow_combo.currentText() == "field":
            self.request()

    def field_unavailable_reason(self) -> str | None:
        if self.shadow_model is None:
            return "Shadow field needs a shadow model (open a bundle that has one)."
        made_for = self.shadow_model.cfg.metadata.get("tf_fingerprint")
        if made_for and made_for != self.tf.fingerprint():
            return "The shadow model was made for another transfer function; use rays, or reload its TF."
        return None

    def _update_shadow_availability(self) -> None:
        reason = self.field_unavailable_reason()
        item = self.shadow_combo.model().item(2)
        item.setEnabled(reason is None)
        item.setToolTip(reason or "one shadow-INR lookup per sample")
        self.shadow_reason.setText(reason or "")
        self.shadow_reason.setVisible(bool(reason))  # an empty row would leave a gap under "Shadows"
        if reason and self.shadow_combo.currentText() == "field":
            self.shadow_combo.setCurrentText("none")

    def _set_shadow_mode(self, mode: str) -> None:
        self.canvas.set_shadow_mode(mode)
        if mode == "field":
            self.request()

    # -- transfer function ---------------------------------------------------------------------------------
    def _sync_tf_widgets(self) -> None:
        for w in (self.cmap_combo, self.opacity):
            w.blockSignals(True)
        self.cmap_combo.setCurrentText(self.tf.colormap)
        self.opacity.set_points(self.tf.opacity)
        self.opacity.set_colors(self.tf.colors(np.linspace(0, 1, 64)))
        for w in (self.cmap_combo, self.opacity):
            w.blockSignals(False)

    def set_transfer_function(self, tf) -> None:
        self.tf = tf
        self.canvas.set_transfer_function(tf)
        self._update_shadow_availability()

    def _set_colormap(self, name: str) -> None:
        self.set_transfer_function(replace(self.tf, colormap=name))
        self.opacity.set_colors(self.tf.colors(np.linspace(0, 1, 64)))

    def _set_opacity(self, points: list) -> None:
        self.set_transfer_function(self.tf.with_opacity(points))

    def _set_bundle_tf_item(self, present: bool) -> None:
        i = self.preset_combo.findText(BUNDLE_TF_ITEM)
        if present and i < 0:
            self.preset_combo.insertItem(1, BUNDLE_TF_ITEM)
        elif not present and i >= 0:
            self.preset_combo.removeItem(i)

    def _saved_tf(self, source: str | None):
        """The transfer function last used with ``source`` (None if none, or not restoring the session)."""
        if not self._session or source is None:
            return None
        import json

        from hyperinr_renderer.transfer import TransferFunction

        text = settings().value(f"transfer_functions/{_source_key(source)}")
        if not text:
            return None
        try:
            return TransferFunction.from_dict(json.loads(str(text)), source="the saved session")
        except Exception:  # noqa: BLE001 - a damaged setting is dropped, never an error dialog at startup
            settings().remove(f"transfer_functions/{_source_key(source)}")
            return None

    def _save_session_tf(self) -> None:
        if not self._session or self._source is None:
            return
        import json

        settings().setValue(f"transfer_functions/{_source_key(self._source)}", json.dumps(self.tf.to_dict()))

    def _apply_preset(self, index: int) -> None:
        from hyperinr_renderer.transfer import TransferFunction

        if index <= 0:
            return
        name = self.preset_combo.itemText(index)
        if name == BUNDLE_TF_ITEM and self._bundle_tf is not None:
            self.set_transfer_function(self._bundle_tf)
        else:
            self.set_transfer_function(TransferFunction.preset(name))
        self._sync_tf_widgets()
        self.preset_combo.setCurrentIndex(0)

    def _load_tf(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Load transfer function", self._last_dir(), "JSON (*.json)"
        )
        if not path:
            return
        from hyperinr_renderer.transfer import TransferFunction

        def apply(tf) -> None:
            self.set_transfer_function(tf)
            self._sync_tf_widgets()

        self.tasks.submit(lambda: TransferFunction.from_json(path), apply,
                          lambda exc: self.show_error("Cannot load the transfer function", exc))

    def _save_tf(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Save transfer function", self._last_dir(), "JSON (*.json)"
        )
        if path:
            tf = self.tf
            self.tasks.submit(
                lambda: tf.to_json(path),
                lambda _v: None,
                lambda exc: self.show_error("Cannot save the transfer function", exc),
            )

    def _pick_background(self) -> None:
        c = QColorDialog.getColor(QColor(20, 20, 26), self, "Background")
        if c.isValid():
            self.canvas.set_background((c.redF(), c.greenF(), c.blueF()))

    # -- datasets ------------------------------------------------------------------------------------------
    def _open_dataset(self, path, n_frames: int) -> None:
        from hyperinr_app.gui.compare import CompareDock

        dock = CompareDock(self, path, n_frames)  # n_frames was read on the loading thread
        self.addDockWidget(Qt.BottomDockWidgetArea, dock)

    # -- export --------------------------------------------------------------------------------------------
    def export_scene(self):
        from hyperinr_app.export import ExportScene

        if self.model is None:
            raise ValueError("nothing to export: open a model first")
        mode = self.shadow_combo.currentText()
        return ExportScene(
            self.model,
            self.theta(),
            self.tf,
            self.canvas.camera,
            self.light,
            mode,
            self.shadow_model if mode == "field" else None,
            background=self.canvas.tracer.settings.background,
        )

    def _export_frame_dialog(self) -> None:
        from hyperinr_app.gui.export_dialogs import ExportFrameDialog

        if self.model is None:
            self.show_error("Nothing to export", "open a model first")
            return
        ExportFrameDialog(self).exec()

    def _export_animation_dialog(self) -> None:
        from hyperinr_app.gui.export_dialogs import ExportAnimationDialog

        if self.model is None:
            self.show_error("Nothing to export", "open a model first")
            return
        ExportAnimationDialog(self).exec()

    # -- errors, settings, closing -------------------------------------------------------------------------
    def show_model_info(self) -> None:
        """View > Model info: configuration, teacher selection and held-out check of the loaded models."""
        from hyperinr_app.gui.model_info import ModelInfoDialog, model_info_text

        b = self.bundle
        text = model_info_text(
            self.model,
            self.shadow_model,
            str(getattr(b, "model", "") or ""),
            str(getattr(b, "shadow_model", "") or ""),
        )
        self.model_info_dialog = ModelInfoDialog(text, self)
        self.model_info_dialog.show()

    def show_error(self, title: str, exc) -> None:
        msg = str(exc) if not isinstance(exc, MemoryError) else "out of memory"
        self.errors.append(f"{title}: {msg}")
        self.statusBar().showMessage(f"{title}: {msg}", 8000)
        self.report_error(title, msg)

    def report_error(self, title: str, msg: str) -> None:
        """A modal dialog; scripted runs (``--screenshot``) replace it with a line on stderr and an exit."""
        QMessageBox.critical(self, title, msg)

    def _restore_settings(self) -> None:
        if not self._session:
            self.resize(1280, 800)
            return
        s = settings()
        geo, state = s.value("geometry"), s.value("window_state")
        if geo is not None:
            self.restoreGeometry(geo)
        else:
            self.resize(1280, 800)
        if state is not None:
            self.restoreState(state)

    def grab_window(self):
        """The window as a QPixmap, the canvas included (a widget grab leaves a native GL window blank)."""
        from PySide6.QtCore import QPoint, QRect
        from PySide6.QtGui import QImage, QPainter

        pix = self.grab()
        container = self.canvas.widget
        view = self.canvas.grab_view() if container.isVisible() else None
        if view is not None:
            h, w, _ = view.shape
            img = QImage(view.data, w, h, 3 * w, QImage.Format_RGB888)
            painter = QPainter(pix)
            painter.drawImage(QRect(container.mapTo(self, QPoint(0, 0)), container.size()), img)
            painter.end()
        return pix

    def closeEvent(self, event) -> None:
        if self._session:
            s = settings()
            s.setValue("geometry", self.saveGeometry())
            s.setValue("window_state", self.saveState())
            self._save_session_tf()
        self._play.stop()
        self._status_timer.stop()
        if self.worker is not None:
            self.worker.close()
            self.worker = None
        if getattr(self, "nvs_view", None) is not None:
            self.nvs_view.close_worker()
        self.tasks.shutdown()
        self.canvas.events.frame_rendered.disconnect(self._on_frame)
        super().closeEvent(event)
        self.canvas.close()
