"""The explorer's main window: the GL path tracer in the centre, docks for parameters, light, transfer
function and render settings, a status line, File menu with open and export.

The window lays out and wires; what is shown lives in its :class:`~hyperinr_app.session.ExplorerSession`
(``window.session``), which the docks (:mod:`~hyperinr_app.gui.panels`, :mod:`~hyperinr_app.gui.tf_panel`),
the dialogs and the canvas read and write. Nothing here blocks the GUI thread: model files load on a task
thread, the session's worker generates and decodes INRs, exports render on a task thread behind a
cancellable progress dialog. Errors become dialogs naming the problem; what is already open stays open.
"""

from __future__ import annotations

import os

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtWidgets import QDockWidget, QFileDialog, QMainWindow, QMessageBox, QSizePolicy, QWidget

from hyperinr_app.bundle import Bundle
from hyperinr_app.gui.menus import Menus
from hyperinr_app.gui.nvs_view import CentralArea, NVSView
from hyperinr_app.gui.panels import LightPanel, ParamPanel, RenderPanel, StatusLine
from hyperinr_app.gui.persist import SavedState
from hyperinr_app.gui.tasks import TaskRunner
from hyperinr_app.gui.tf_panel import BUNDLE_TF_ITEM, TFPanel
from hyperinr_app.session import ExplorerSession

__all__ = ["MainWindow"]


def one_torch_thread() -> None:
    import torch

    torch.set_num_threads(1)


class MainWindow(QMainWindow):
    """The explorer window. ``open_path`` loads a bundle, model or dataset (asynchronously)."""

    result_ready = Signal(object)  # Result, emitted on the GUI thread once the canvas has the volume
    first_frame = Signal()  # the first full-quality frame is up

    def __init__(self, parent=None, interactive_resolutions=(32, 64), canvas_surface: str = "window",
                 restore_session: bool = True):
        """``restore_session=False`` (scripted screenshots): start from defaults and leave the saved
        session (layout, recent files, transfer functions) untouched."""
        super().__init__(parent)
        from hyperinr_renderer.gl.canvas import PathTracerCanvas

        self.setWindowTitle("HyperINR Explorer")
        # One torch thread per pool thread: the GUI thread and the software GL rasteriser need the other core,
        # and OpenMP threads competing for busy cores run many times slower than one thread.
        self.tasks = TaskRunner(self, thread_init=one_torch_thread)
        # The worker threads never emit a Qt signal: the session posts their results to the GUI thread.
        self.session = ExplorerSession(post=self.tasks.inbox.post, resolutions=interactive_resolutions)
        self.saved = SavedState(restore_session)
        self.errors: list[str] = []  # every error shown, for tests and the log
        self.export_progress = None  # the progress dialog of the export running (or last run)
        self.nvs_view: NVSView | None = None
        self._report = self._error_dialog
        # The canvas on its own native GL window (in a window container): a QOpenGLWidget ("widget") would
        # make every repaint of every other widget go through GL composition (hyperinr bench latency).
        self.canvas = PathTracerCanvas(size=(800, 600), show=False, surface=canvas_surface)
        self.central = CentralArea(self, self.canvas.widget)
        self.menus = Menus(self, self.saved)
        s = self.session
        self.param_panel = self._dock("Parameters", ParamPanel(s))
        self.light_panel = self._dock("Light", LightPanel(s))
        self.tf_panel = self._dock("Transfer function", TFPanel(s, self.tasks.submit, self.show_error,
                                                                self.statusBar().showMessage,
                                                                self.saved.last_dir), grow=True)
        self.render_panel = self._dock("Render", RenderPanel(self.canvas))
        self.status_label = StatusLine(s, self.canvas)
        self.statusBar().addPermanentWidget(self.status_label, 1)
        self._wire()
        self.saved.restore_window(self)

    # -- construction ----------------------------------------------------------------------------------
    def _dock(self, title: str, widget: QWidget, area=Qt.RightDockWidgetArea, grow=False) -> QWidget:
        """Put ``widget`` in a dock (its toggle in the View menu); returns ``widget``."""
        if not grow:  # spare height goes to the docks that can use it, not to gaps under the others
            widget.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Fixed)
        d = QDockWidget(title, self)
        d.setObjectName(title)
        d.setWidget(widget)
        d.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetFloatable)
        self.addDockWidget(area, d)
        self.menus.view_menu.addAction(d.toggleViewAction())
        return widget

    def _wire(self) -> None:
        """The session drives the canvas and the window; the canvas reports its frames to the session."""
        s, c = self.session, self.canvas
        c.set_light(s.light)
        c.set_transfer_function(s.tf)
        s.light_changed.connect(c.set_light)
        s.tf_changed.connect(c.set_transfer_function)
        s.shadow_mode_changed.connect(c.set_shadow_mode)
        s.model_changed.connect(self._on_model_changed)
        s.volume_ready.connect(self._show_volume)
        s.first_frame.connect(self.first_frame.emit)
        s.error.connect(self.show_error)
        c.events.frame_rendered.connect(self._on_frame)

    # -- opening -----------------------------------------------------------------------------------------
    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Open model, bundle or dataset",
            self.saved.last_dir(),
            "HyperINR files (*.hinr *.h5 *.json);;All files (*)",
        )
        if path:
            self.open_path(path)

    def open_recent(self, path: str, _checked=False) -> None:
        if not os.path.exists(path):
            self.saved.forget(path)
            self.menus.refresh_recent()
            self.show_error("Cannot open a recent file", f"{path}: no such file (removed from the list)")
            return
        self.open_path(path)

    def open_path(self, path: str | os.PathLike) -> None:
        """Load a bundle, model or dataset on a task thread; the window stays usable meanwhile."""
        self.statusBar().showMessage(f"opening {path}…")
        have_model = self.session.model is not None

        def load():
            from hyperinr_app.loading import load_target

            return load_target(path, have_model=have_model)

        def done(value):
            kind, obj, payload = value
            if kind == "dataset":
                self._open_dataset(obj, n_frames=payload[1])
            elif kind == "nvs":
                self.session.open_nvs(obj, *payload)
            else:
                self._install(obj, *payload, source=path)
            self.saved.remember(path)
            self.menus.refresh_recent()
            self.statusBar().showMessage(f"opened {path}", 4000)

        self.tasks.submit(load, done, lambda exc: self.show_error(f"Cannot open {path}", exc))

    def _install(self, bundle: Bundle, model, shadow, tf, source=None) -> None:
        """Open a volume model with the transfer function last used with ``source``, else the bundle's."""
        s = self.session
        self.saved.save_tf(s.source, s.tf)  # the model being replaced keeps its TF for next time
        source = str(source) if source is not None else None
        shown, restored = tf, self.saved.saved_tf(source)
        if restored is not None and restored != tf:
            shown = restored
            self.statusBar().showMessage(
                f"transfer function restored from the last session"
                f"{f' (preset… > {BUNDLE_TF_ITEM} goes back to the bundle’s)' if tf else ''}",
                8000,
            )
        s.set_model(bundle, model, shadow, shown, source=source, bundle_tf=tf)

    def _on_model_changed(self) -> None:
        s = self.session
        if s.nvs_model is None:
            self.central.show_canvas()
            self.nvs_view = None
            self.setWindowTitle(f"HyperINR Explorer — {s.title}")
            return
        self.nvs_view = NVSView(s, self.tasks.submit, self.show_error)
        self.central.show_view(self.nvs_view)
        self.setWindowTitle(f"HyperINR Explorer — {s.title} (novel view synthesis)")

    def _open_dataset(self, path, n_frames: int) -> None:
        from hyperinr_app.gui.compare import CompareDock

        # n_frames was read on the loading thread
        dock = CompareDock(self.session, path, n_frames, self.tasks.submit, self.show_error, self)
        self.addDockWidget(Qt.BottomDockWidgetArea, dock)

    # -- frames ------------------------------------------------------------------------------------------
    def _show_volume(self, r) -> None:
        self.canvas.set_volume(r.volume)
        if r.shadow is not None:
            self.canvas.set_shadow_volume(r.shadow)
        self.status_label.schedule()
        self.result_ready.emit(r)

    def _on_frame(self, event) -> None:
        self.status_label.schedule()
        self.session.frame_shown(event.interactive, event.spp)

    def reset_camera(self) -> None:
        self.canvas.reset_camera()

    def changeEvent(self, event) -> None:
        """Minimized: the canvas stops refining its resting image (and refines on when restored)."""
        if event.type() == QEvent.Type.WindowStateChange:
            self.canvas.set_paused(self.isMinimized() or not self.isVisible())
        super().changeEvent(event)

    def hideEvent(self, event) -> None:
        self.canvas.set_paused(True)
        super().hideEvent(event)

    def showEvent(self, event) -> None:
        self.canvas.set_paused(self.isMinimized())
        super().showEvent(event)

    def keyPressEvent(self, event) -> None:
        keys = {Qt.Key_Left: -1, Qt.Key_Right: 1}
        if not (event.key() in keys and self.param_panel.step(keys[event.key()])):
            super().keyPressEvent(event)

    # -- export --------------------------------------------------------------------------------------------
    def export_scene(self):
        """What an export renders: the session's scene seen through the canvas' camera."""
        return self.session.export_scene(self.canvas.camera, self.canvas.tracer.settings.background)

    def set_export_progress(self, dialog) -> None:
        """The export dialogs hand over their progress dialog (Ctrl-C cancels it; tests reach it)."""
        self.export_progress = dialog

    def export_frame_dialog(self) -> None:
        from hyperinr_app.gui.export_dialogs import ExportFrameDialog

        if self.session.model is None:
            self.show_error("Nothing to export", "open a model first")
            return
        ExportFrameDialog(self).exec()

    def export_animation_dialog(self) -> None:
        from hyperinr_app.gui.export_dialogs import ExportAnimationDialog

        if self.session.model is None:
            self.show_error("Nothing to export", "open a model first")
            return
        ExportAnimationDialog(self).exec()

    # -- errors, settings, closing -------------------------------------------------------------------------
    def show_model_info(self) -> None:
        """View > Model info: configuration, teacher selection and held-out check of the loaded models."""
        from hyperinr_app.gui.model_info import ModelInfoDialog, model_info_text

        s = self.session
        b = s.bundle
        text = model_info_text(
            s.model,
            s.shadow_model,
            str(getattr(b, "model", "") or ""),
            str(getattr(b, "shadow_model", "") or ""),
        )
        self.model_info_dialog = ModelInfoDialog(text, self)
        self.model_info_dialog.show()

    def show_error(self, title: str, exc) -> None:
        msg = str(exc) if not isinstance(exc, MemoryError) else "out of memory"
        self.errors.append(f"{title}: {msg}")
        self.statusBar().showMessage(f"{title}: {msg}", 8000)
        self._report(title, msg)

    def set_error_handler(self, report) -> None:
        """``report(title, message)`` instead of a modal dialog: scripted runs (``--screenshot``) print a line
        on stderr and exit."""
        self._report = report

    def _error_dialog(self, title: str, msg: str) -> None:
        QMessageBox.critical(self, title, msg)

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
        self.saved.save_window(self)
        self.saved.save_tf(self.session.source, self.session.tf)
        self.param_panel.stop()
        self.status_label.stop()
        self.session.close()  # the workers stop
        self.tasks.shutdown()
        self.canvas.events.frame_rendered.disconnect(self._on_frame)
        super().closeEvent(event)
        self.canvas.close()
