"""The explorer's view for NVS models: the image a HyperINR generates for a view direction (theta, phi).

An NVS model maps ``(theta, phi)`` to an image INR ``(x, y) -> rgb``. The view shows that image; two sliders
(or dragging on the image: horizontally turns the azimuth phi, vertically the polar angle theta) move the
view direction continuously. The view direction is the session's parameters: the
:class:`~hyperinr_app.session.ExplorerSession`'s NVS worker (:mod:`hyperinr_app.nvs`) generates the image,
latest request wins, coarse image first and the full-resolution one when no newer request is waiting, so
dragging never queues stale work and the GUI thread never waits. "Save image…" writes the current view at
full resolution; "Save orbit…" writes an animation sweeping phi.

The main window swaps its central widget between the GL canvas (volume models) and this view through a
:class:`CentralArea`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from hyperinr_app.gui.widgets import FloatSlider
from hyperinr_app.nvs import ViewImage, ViewRequest, image_at

__all__ = ["ViewRequest", "ViewImage", "image_at", "ImageCanvas", "NVSView", "CentralArea"]

#: Degrees of view direction per pixel dragged on the image.
DRAG_DEGREES_PER_PIXEL = 0.5


class ImageCanvas(QWidget):
    """Paints an RGB image scaled to fit (aspect kept); dragging emits ``dragged(dx, dy)`` in pixels."""

    dragged = Signal(float, float)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setMinimumSize(256, 256)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.setCursor(Qt.OpenHandCursor)
        self._qimage: QImage | None = None
        self._buf: np.ndarray | None = None
        self._last: QPointF | None = None

    def set_image(self, rgb: np.ndarray) -> None:
        self._buf = np.ascontiguousarray(rgb)  # QImage views this buffer: keep it alive
        h, w, _ = self._buf.shape
        self._qimage = QImage(self._buf.data, w, h, 3 * w, QImage.Format_RGB888)
        self.update()

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(20, 20, 26))
        if self._qimage is not None:
            iw, ih = self._qimage.width(), self._qimage.height()
            s = min(self.width() / iw, self.height() / ih)
            w, h = iw * s, ih * s
            p.setRenderHint(QPainter.SmoothPixmapTransform)
            p.drawImage(QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h), self._qimage)
        p.end()

    def mousePressEvent(self, event) -> None:
        self._last = event.position()
        self.setCursor(Qt.ClosedHandCursor)

    def mouseMoveEvent(self, event) -> None:
        if self._last is None:
            return
        pos = event.position()
        d = pos - self._last
        self._last = pos
        if d.x() or d.y():
            self.dragged.emit(float(d.x()), float(d.y()))

    def mouseReleaseEvent(self, event) -> None:
        self._last = None
        self.setCursor(Qt.OpenHandCursor)


class NVSView(QWidget):
    """Image + view-direction sliders for the session's NVS HyperINR. ``image_ready(ViewImage)`` fires on
    the GUI thread for every image shown. ``submit(fn, on_done, on_error)`` runs the saves off the GUI
    thread (None: on it); ``show_error(title, exc)`` reports a failed save."""

    image_ready = Signal(object)

    def __init__(self, session, submit: Callable | None = None, show_error: Callable | None = None,
                 parent=None):
        super().__init__(parent)
        self.session = session
        self.model = model = session.nvs_model
        cfg = model.cfg
        self.submit, self.show_error = submit, show_error
        self.full_shape = session.view_shapes[-1]
        self.image: np.ndarray | None = None  # the image shown, (H, W, 3) uint8
        self.final = False  # whether it is the full-resolution image of the newest request
        self.errors: list[str] = []
        self.canvas = ImageCanvas()
        self.canvas.dragged.connect(self._drag)
        self.sliders: dict[str, FloatSlider] = {}
        form = QFormLayout()
        for name, lo, hi in zip(cfg.param_names, cfg.param_lo, cfg.param_hi, strict=True):
            s = FloatSlider(lo, hi, session.params[name], 2, "°" if name in ("theta", "phi") else "")
            s.valueChanged.connect(lambda v, name=name: self.session.set_param(name, v))
            self.sliders[name] = s
            form.addRow(name, s)
        # Drag axes: azimuth (phi) across, polar angle (theta) up/down; else parameter 0 / 1.
        names = list(cfg.param_names)
        self._h_axis = "phi" if "phi" in names else names[0]
        self._v_axis = "theta" if "theta" in names else names[min(1, len(names) - 1)]
        self.status = QLabel(f"{session.title}  ·  drag the image or move the sliders")
        self.status.setStyleSheet("color: gray;")
        buttons = QHBoxLayout()
        for text, slot in (
            ("Save image…", self._save_image_dialog),
            ("Save orbit…", self._save_orbit_dialog),
        ):
            b = QPushButton(text)
            b.clicked.connect(slot)
            buttons.addWidget(b)
        buttons.addStretch(1)
        lay = QVBoxLayout(self)
        lay.addWidget(self.canvas, 1)
        lay.addLayout(form)
        lay.addLayout(buttons)
        lay.addWidget(self.status)
        # The session's worker posts its images to the GUI thread (no Qt call from the worker).
        session.image_ready.connect(self._on_result)
        session.params_changed.connect(self._follow)

    def detach(self) -> None:
        """Stop following the session (the view is being replaced)."""
        self.session.image_ready.disconnect(self._on_result)
        self.session.params_changed.disconnect(self._follow)

    # -- view direction ------------------------------------------------------------------------------------
    def theta(self) -> list[float]:
        return [self.sliders[n].value() for n in self.model.cfg.param_names]

    def set_view(self, **values: float) -> None:
        """Set parameters by name (e.g. ``theta=60, phi=90``); one request for all of them."""
        self.session.set_params(**values)

    def _follow(self, params: dict) -> None:
        for name, s in self.sliders.items():
            s.blockSignals(True)
            s.setValue(params[name])
            s.blockSignals(False)

    def _drag(self, dx: float, dy: float) -> None:
        # Dragging right turns the object right: the camera's azimuth decreases.
        h, v = self.sliders[self._h_axis], self.sliders[self._v_axis]
        values = {self._h_axis: h.value() - dx * DRAG_DEGREES_PER_PIXEL}
        if self._v_axis != self._h_axis:
            values[self._v_axis] = v.value() - dy * DRAG_DEGREES_PER_PIXEL
        self.set_view(**values)

    def request(self) -> None:
        self.session.request()

    def _on_result(self, r: ViewImage) -> None:
        if r.error:
            self.errors.append(r.error)
            self.status.setText(f"generating the image failed: {r.error.splitlines()[0]}")
            return
        self.image, self.final = r.image, r.final
        self.canvas.set_image(r.image)
        h, w = r.image.shape[:2]
        view = ", ".join(
            f"{n} {v:.1f}" for n, v in zip(self.model.cfg.param_names, r.request.theta, strict=True)
        )
        self.status.setText(
            f"{view}  ·  {w}x{h} in {r.decode_ms:.0f} ms  ·  drag the image or move the sliders"
        )
        self.image_ready.emit(r)

    # -- export --------------------------------------------------------------------------------------------
    def save_image(self, path: str | Path) -> None:
        """Write the current view at full resolution as PNG (atomic)."""
        from hyperinr_renderer.tracer import save_png

        save_png(image_at(self.model, self.theta(), self.full_shape), path)

    def save_orbit(self, path: str | Path, frames: int = 72, fps: int = 24) -> None:
        """Write an animation sweeping the horizontal drag axis (phi) over its range at the current theta
        (.mp4 through imageio-ffmpeg, .gif otherwise), atomically."""
        import imageio.v3 as iio

        from hyperinr_core.fileio import atomic_path

        names = list(self.model.cfg.param_names)
        j = names.index(self._h_axis)
        s = self.sliders[self._h_axis]
        base = self.theta()
        imgs = []
        for v in np.linspace(s.lo, s.hi, frames):
            theta = list(base)
            theta[j] = float(v)
            imgs.append(image_at(self.model, theta, self.full_shape))
        ext = Path(path).suffix.lower() or ".mp4"
        with atomic_path(path) as tmp:
            if ext == ".mp4":
                iio.imwrite(tmp, np.stack(imgs), extension=".mp4", fps=fps, macro_block_size=1)
            else:
                iio.imwrite(tmp, np.stack(imgs), extension=ext, duration=1000 / fps, loop=0)

    def _export(self, fn, path: str, what: str) -> None:
        done = lambda _v: self.status.setText(f"wrote {path}")  # noqa: E731
        if self.submit is None:
            fn(path)
            done(None)
        else:
            self.submit(lambda: fn(path), done, lambda exc: self.show_error(f"Cannot save the {what}", exc))

    def _save_image_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save image", "view.png", "PNG (*.png)")
        if path:
            self._export(self.save_image, path, "image")

    def _save_orbit_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save orbit", "orbit.mp4", "Video (*.mp4 *.gif)")
        if path:
            self._export(self.save_orbit, path, "animation")


class CentralArea:
    """The main window's central widget: the GL canvas, or a view in its place (an NVS model's). The stack
    holding both is created on first use, so a window that only ever shows volumes keeps the canvas as its
    central widget."""

    def __init__(self, window, canvas_widget: QWidget):
        self.window = window
        self.stack: QStackedWidget | None = None
        self.view: QWidget | None = None
        window.setCentralWidget(canvas_widget)

    def _stack(self) -> QStackedWidget:
        if self.stack is None:
            canvas = self.window.takeCentralWidget()  # keep the GL canvas alive, just re-parented
            self.stack = QStackedWidget()
            self.stack.addWidget(canvas)
            self.window.setCentralWidget(self.stack)
        return self.stack

    def show_view(self, view: QWidget) -> None:
        """Show ``view`` instead of the canvas (replacing a view shown before)."""
        self.remove_view()
        stack = self._stack()
        stack.addWidget(view)
        stack.setCurrentWidget(view)
        self.view = view

    def show_canvas(self) -> None:
        self.remove_view()

    def remove_view(self) -> None:
        view, self.view = self.view, None
        if view is None:
            return
        if hasattr(view, "detach"):
            view.detach()
        self.stack.setCurrentIndex(0)
        self.stack.removeWidget(view)
        view.deleteLater()
