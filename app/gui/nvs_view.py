"""The explorer's view for NVS models: the image a HyperINR generates for a view direction (theta, phi).

An NVS model maps ``(theta, phi)`` to an image INR ``(x, y) -> rgb``. The view shows that image; two sliders
(or dragging on the image: horizontally turns the azimuth phi, vertically the polar angle theta) move the
view direction continuously. Generation runs on a worker thread, latest request wins, coarse image first
and the full-resolution one when no newer request is waiting, so dragging never queues stale work and the
GUI thread never waits. "Save image…" writes the current view at full resolution; "Save orbit…" writes an
animation sweeping phi.

The main window swaps its central widget between the GL canvas (volume models) and this view (see
:func:`show_nvs_model` / :func:`show_volume_canvas`).
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
from hyperinr_app.gui.inbox import Inbox
from hyperinr_app.gui.widgets import FloatSlider
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

__all__ = ["ViewRequest", "ViewImage", "NVSWorker", "ImageCanvas", "NVSView", "show_nvs_model"]

#: Degrees of view direction per pixel dragged on the image.
DRAG_DEGREES_PER_PIXEL = 0.5


@dataclass
class ViewRequest:
    theta: list[float]  # the model's parameters in its order, user units
    shapes: tuple[tuple[int, int], ...]  # (H, W) ladder, coarse first
    serial: int = 0


@dataclass
class ViewImage:
    request: ViewRequest
    image: np.ndarray | None = None  # (H, W, 3) uint8, linear RGB as the renders are stored
    final: bool = True
    generate_ms: float = 0.0
    decode_ms: float = 0.0
    error: str | None = None


def image_at(model, theta, shape: tuple[int, int]) -> np.ndarray:
    """``(H, W, 3)`` uint8 image of an NVS model at parameters ``theta``: data units clipped to [0, 1]."""
    import torch

    with torch.no_grad():
        inr = model.generate(theta)
        v = inr.to_data_units(inr.sample_grid(shape))
    rgb = v[..., :3] if v.shape[-1] >= 3 else v[..., :1].expand(*v.shape[:-1], 3)
    return (rgb.clamp(0.0, 1.0) * 255.0 + 0.5).to(torch.uint8).cpu().numpy()


class NVSWorker:
    """One background thread serving the newest :class:`ViewRequest`; results go to ``on_result`` (called
    on the worker thread)."""

    def __init__(self, model, on_result: Callable[[ViewImage], None], threads: int | None = 1):
        self.model = model
        self.on_result = on_result
        self.threads = threads
        self._cv = threading.Condition()
        self._pending: ViewRequest | None = None
        self._stop = False
        self._serial = 0
        self._thread = threading.Thread(target=self._run, name="hyperinr-nvs", daemon=True)
        self._thread.start()

    def request(self, req: ViewRequest) -> int:
        with self._cv:
            self._serial += 1
            req.serial = self._serial
            self._pending = req
            self._cv.notify()
        return req.serial

    def close(self, timeout: float = 10.0) -> None:
        with self._cv:
            self._stop = True
            self._cv.notify()
        self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _newer_waiting(self) -> bool:
        with self._cv:
            return self._pending is not None or self._stop

    def _run(self) -> None:
        import torch

        if self.threads:
            torch.set_num_threads(self.threads)
        while True:
            with self._cv:
                while self._pending is None and not self._stop:
                    self._cv.wait()
                if self._stop:
                    return
                req, self._pending = self._pending, None
            try:
                for k, shape in enumerate(req.shapes):
                    if k > 0 and self._newer_waiting():
                        break  # a newer request supersedes the refinement
                    t0 = time.perf_counter()
                    img = image_at(self.model, req.theta, shape)
                    ms = (time.perf_counter() - t0) * 1e3
                    self.on_result(ViewImage(req, img, final=k == len(req.shapes) - 1, decode_ms=ms))
            except Exception as exc:  # reported to the GUI, never kills the worker
                self.on_result(ViewImage(req, error=f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))


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
    """Image + view-direction sliders for one NVS HyperINR. ``image_ready(ViewImage)`` fires on the GUI
    thread for every image shown."""

    image_ready = Signal(object)

    def __init__(self, model, title: str = "", parent=None, coarse: int = 64):
        super().__init__(parent)
        cfg = model.cfg
        self.model = model
        shape = cfg.metadata.get("frame_shape") or [256, 256, 3]
        self.full_shape = (int(shape[0]), int(shape[1]))
        h, w = self.full_shape
        c = max(8, min(coarse, h, w))
        self.shapes = ((max(2, h * c // max(h, w)), max(2, w * c // max(h, w))), self.full_shape)
        self.image: np.ndarray | None = None  # the image shown, (H, W, 3) uint8
        self.final = False  # whether it is the full-resolution image of the newest request
        self.errors: list[str] = []
        self.canvas = ImageCanvas()
        self.canvas.dragged.connect(self._drag)
        self.sliders: dict[str, FloatSlider] = {}
        form = QFormLayout()
        for name, lo, hi in zip(cfg.param_names, cfg.param_lo, cfg.param_hi, strict=True):
            s = FloatSlider(lo, hi, (lo + hi) / 2, 2, "°" if name in ("theta", "phi") else "")
            s.valueChanged.connect(lambda _v: self.request())
            self.sliders[name] = s
            form.addRow(name, s)
        # Drag axes: azimuth (phi) across, polar angle (theta) up/down; else parameter 0 / 1.
        names = list(cfg.param_names)
        self._h_axis = "phi" if "phi" in names else names[0]
        self._v_axis = "theta" if "theta" in names else names[min(1, len(names) - 1)]
        self.status = QLabel(f"{title}  ·  drag the image or move the sliders")
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
        # The worker thread posts its images; they are shown on the GUI thread (no Qt call from the worker).
        self.inbox = Inbox(self)
        self.worker = NVSWorker(model, partial(self.inbox.post, self._on_result))
        self.request()

    # -- view direction ------------------------------------------------------------------------------------
    def theta(self) -> list[float]:
        return [self.sliders[n].value() for n in self.model.cfg.param_names]

    def set_view(self, **values: float) -> None:
        """Set parameters by name (e.g. ``theta=60, phi=90``); one request for all of them."""
        for name, v in values.items():
            s = self.sliders[name]
            s.blockSignals(True)
            s.setValue(v)
            s.blockSignals(False)
        self.request()

    def _drag(self, dx: float, dy: float) -> None:
        # Dragging right turns the object right: the camera's azimuth decreases.
        h, v = self.sliders[self._h_axis], self.sliders[self._v_axis]
        values = {self._h_axis: h.value() - dx * DRAG_DEGREES_PER_PIXEL}
        if self._v_axis != self._h_axis:
            values[self._v_axis] = v.value() - dy * DRAG_DEGREES_PER_PIXEL
        self.set_view(**values)

    def request(self) -> None:
        if self.worker is not None:
            self.worker.request(ViewRequest(self.theta(), self.shapes))

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
        win = self.window()
        tasks = getattr(win, "tasks", None)
        done = lambda _v: self.status.setText(f"wrote {path}")  # noqa: E731
        fail = lambda exc: win.show_error(f"Cannot save the {what}", exc)  # noqa: E731
        if tasks is None:
            fn(path)
            done(None)
        else:
            tasks.submit(lambda: fn(path), done, fail)

    def _save_image_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save image", "view.png", "PNG (*.png)")
        if path:
            self._export(self.save_image, path, "image")

    def _save_orbit_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save orbit", "orbit.mp4", "Video (*.mp4 *.gif)")
        if path:
            self._export(self.save_orbit, path, "animation")

    def close_worker(self) -> None:
        if self.worker is not None:
            self.worker.close()
            self.worker = None


def _stack(win) -> QStackedWidget:
    """The main window's central stack (GL canvas first), created on first use."""
    stack = getattr(win, "_central_stack", None)
    if stack is None:
        canvas = win.takeCentralWidget()  # keep the GL canvas alive, just re-parented
        stack = QStackedWidget()
        stack.addWidget(canvas)
        win.setCentralWidget(stack)
        win._central_stack = stack
    return stack


def show_nvs_model(win, bundle, model) -> NVSView:
    """Show ``model`` (an NVS HyperINR) in the main window ``win`` instead of the volume canvas."""
    if win.worker is not None:  # a volume model was open: stop its generation
        win.worker.close()
        win.worker = None
    win.model = win.shadow_model = None
    win.bundle = bundle
    old = getattr(win, "nvs_view", None)
    stack = _stack(win)
    if old is not None:
        old.close_worker()
        stack.removeWidget(old)
        old.deleteLater()
    title = bundle.title or Path(bundle.model).name
    view = NVSView(model, title)
    win.nvs_view = view
    stack.addWidget(view)
    stack.setCurrentWidget(view)
    win.setWindowTitle(f"HyperINR Explorer — {title} (novel view synthesis)")
    while win.param_form.rowCount():
        win.param_form.removeRow(0)
    win.sliders = {}
    msg = QLabel(
        f"Novel view synthesis model: {model.n_encoders} encoders over ({', '.join(model.cfg.param_names)}). "
        "The view direction sliders are under the image."
    )
    msg.setWordWrap(True)
    win.param_form.addRow(msg)
    return view


def show_volume_canvas(win) -> None:
    """Back to the GL canvas (a volume model is being opened); stops the NVS view's worker."""
    view = getattr(win, "nvs_view", None)
    if view is None:
        return
    view.close_worker()
    stack = _stack(win)
    stack.setCurrentIndex(0)
    stack.removeWidget(view)
    view.deleteLater()
    win.nvs_view = None
