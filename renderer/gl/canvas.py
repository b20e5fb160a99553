"""PathTracerCanvas: the interactive GL view the explorer embeds (``canvas.widget`` is the QWidget to lay out:
the canvas itself, or with ``surface='window'`` the container of its own GL window, see :mod:`.qt_window`).

Interaction model: while anything changes (mouse drag, wheel, a new volume while scrubbing, a light drag) the
canvas renders single frames at an adaptive cost level (coarser step, then lower resolution) chosen so frames
stay within ``frame_budget_ms``; once nothing has changed for ``rest_delay_s`` it renders at full quality and
accumulates one jittered sample per pixel per frame (progressive refinement) up to ``max_spp``
(:data:`REST_SPP`, 256), then stops: an idle canvas draws nothing and uses no CPU until something changes.
When a full-quality frame costs more than the budget, it is traced in horizontal bands, one band per draw,
so the canvas keeps its frame rate (and the GUI thread stays responsive) at rest; the interactive preview
stays on screen until the first full-quality frame is complete.

Offscreen rendering (:meth:`PathTracerCanvas.render_image`, :func:`~renderer.gl.still.render_offscreen`) goes
through the same program into a float framebuffer of any size. The cost levels: :mod:`.quality`.
"""

from __future__ import annotations

import math
import time

import numpy as np
from vispy import app, gloo
from vispy.util.event import EmitterGroup, Event  # noqa: F401  (EmitterGroup: the type of ``events``)

from ..camera import Camera
from ..light import Light
from ..transfer import TransferFunction
from .quality import InteractiveQuality
from .tracer import SHADOW_MODES, AccumulationTarget, GLPathTracer, TraceSettings

__all__ = ["PathTracerCanvas", "ensure_app", "to_uint8", "REST_SPP", "NOISE_STOP", "image_noise"]

#: Samples per pixel accumulated at rest before the canvas stops refining. The image is the mean of the
#: samples, so its noise falls as 1/sqrt(spp): 256 samples leave 1/16 of one sample's noise, and a further
#: sample changes a pixel by at most 1/257 of its range, about the display's 8-bit step. Refining further
#: would keep the CPU busy (a software GL rasteriser traces a few samples per second) for no visible change.
REST_SPP = 256
#: A resting image also stops refining once its noise is below half an 8-bit display step: estimated at
#: every power of two of samples from the change since half as many (the mean of the second half of the
#: samples differs from the first half's by twice the noise of the whole).
NOISE_STOP = 0.5 / 255


def ensure_app():
    """The vispy application on the PySide6 backend (reusing a QApplication that already exists).

    Raises :class:`~hyperinr_core.errors.HyperINRError` first when the installed PySide6 is known to
    corrupt reference counts (see :mod:`.binding`).
    """
    from .binding import check_qt_binding

    check_qt_binding()
    try:
        return app.use_app("pyside6")
    except RuntimeError:  # another backend was chosen already: use it
        return app.use_app()


def _qt_object_alive(obj) -> bool:
    """False for a Qt object whose C++ side was deleted; True for anything else."""
    try:
        import shiboken6
        from PySide6.QtCore import QObject
    except ImportError:
        return True
    return not isinstance(obj, QObject) or shiboken6.isValid(obj)


def _delete_qt_object(obj) -> None:
    """Delete a Qt object's C++ side now (its Python wrapper then reports it deleted); others: no-op."""
    try:
        import shiboken6
        from PySide6.QtCore import QObject
    except ImportError:
        return
    if isinstance(obj, QObject) and shiboken6.isValid(obj):
        shiboken6.delete(obj)


class PathTracerCanvas(app.Canvas):
    """Interactive volumetric path tracer on a vispy canvas.

    Mouse: left drag orbits, right drag (or shift + left drag) pans, the wheel zooms.
    Events (``canvas.events``): ``camera_changed`` (``event.camera``), ``frame_rendered`` (``event.spp``,
    ``event.frame_ms``, ``event.interactive``).
    """

    def __init__(self, size: tuple[int, int] = (800, 600), show: bool = False, title: str = "HyperINR",
                 settings: TraceSettings | None = None, quality: InteractiveQuality | None = None,
                 surface: str = "widget", **kwargs):
        ensure_app()
        if surface not in ("widget", "window"):
            raise ValueError(f"surface must be 'widget' or 'window', not {surface!r}")
        self._surface_kind = surface  # read by create_native, which vispy's constructor calls
        super().__init__(size=size, show=show, title=title, keys=None, **kwargs)
        self.events.add(camera_changed=Event, frame_rendered=Event)
        self.set_current()
        self.tracer = GLPathTracer(settings)
        self.quality = quality or InteractiveQuality()
        self._camera = self.home_camera()
        self.progressive = True
        self.max_spp = REST_SPP
        self.paused = False  # the window is hidden or minimized: nothing is refined
        self.refined = False  # at rest and done: max_spp samples, or noise below NOISE_STOP
        self.stop_when_converged = True  # False: always max_spp (a screenshot asked for that many samples)
        self.noise: float | None = None  # the resting image's estimated noise (display units), once known
        self._noise_ref: tuple[object, int, np.ndarray] | None = None
        self.spp = 0
        self.last_frame_ms = 0.0
        self.interactive = False
        self._level = 0
        self._last_change = -math.inf
        self._targets: dict[tuple[int, int], AccumulationTarget] = {}
        self._rest_timer = app.Timer(self.quality.rest_delay_s, connect=self._on_rest, iterations=-1,
                                     start=False)
        self._drag_last: tuple[float, float] | None = None
        self._rest_bands = 1
        self._preview: AccumulationTarget | None = None
        self._shown: AccumulationTarget | None = None

    def create_native(self) -> None:
        """As vispy's; ``surface='window'`` puts the canvas on a ``QOpenGLWindow`` (see :mod:`.qt_window`)."""
        if self._backend is not None or self._surface_kind != "window":
            return super().create_native()
        from .qt_window import WindowCanvasBackend

        assert self._app.native
        WindowCanvasBackend(self, **self._backend_kwargs)  # sets self._backend
        self._backend_kwargs = None
        self.events.draw.connect(self.context.flush_commands, position="last")
        if self._autoswap:
            self.events.draw.connect((self, "swap_buffers"), ref=True, position="last")

    @property
    def widget(self):
        """The QWidget to put in a layout: the canvas itself, or the container of its GL window."""
        return self._backend.widget() if self._surface_kind == "window" else self.native

    def close(self) -> None:
        """Close the canvas and destroy its native widget and timer now, not whenever they are collected.

        The canvas and its Qt widget reference each other, so without this the widget lives until a garbage
        collection, which may run anywhere: in the middle of another canvas's draw (a ``QOpenGLWidget``'s
        destructor makes its own GL context current, and the draw's remaining GL calls then crash the
        process) or on a worker thread (Qt objects must die on the thread they live on).
        """
        if self._closed:
            return
        timer = self.__dict__.get("_rest_timer")
        if timer is not None:
            timer.stop()
            timer.events.timeout.disconnect()  # the bound method keeps the canvas alive
            _delete_qt_object(getattr(timer, "_backend", None))
        backend = self._backend
        if backend is not None and not _qt_object_alive(backend):
            # Its window went with the widget that contained it: nothing left to close but vispy's records.
            from vispy.app.canvas import forget_canvas

            self._closed = True
            self.events.close()
            forget_canvas(self)
        else:
            super().close()
        if backend is not None:
            backend._vispy_canvas = None  # vispy's paint/resize handlers then do nothing
            # The GL window or widget, then the offscreen context and surface made for GL work before the
            # first paint. A window's container stays, empty, and goes with its parent: deleting the container
            # from here corrupts PySide's parent-child records (a crash when the parent is deleted).
            for obj in (backend, getattr(backend, "_secondary_context", None),
                        getattr(backend, "_surface", None)):
                _delete_qt_object(obj)

    # -- scene API ---------------------------------------------------------------------------------------
    def _changed(self) -> None:
        """Something visible changed: render interactively now, at full quality once it rests."""
        self._last_change = time.perf_counter()
        self._arm_rest(self.quality.rest_delay_s)
        self.update()

    def _arm_rest(self, delay: float) -> None:
        # Repeating, and stopped by _on_rest itself: a one-shot vispy timer restarted from its own callback
        # counts that callback against the new start and swallows the next timeout.
        if self._closed:
            return  # its timer is gone
        self._rest_timer.stop()
        self._rest_timer.start(interval=max(float(delay), 0.001), iterations=-1)

    def set_volume(self, volume: np.ndarray) -> None:
        """``(Z, Y, X)`` float array of normalized values in [0, 1] (float16 or float32)."""
        self.tracer.set_volume(volume)
        self._changed()

    def set_shadow_volume(self, volume: np.ndarray | None) -> None:
        """Transmittance toward the light at grid nodes (shadow mode 'field'); None removes it."""
        self.tracer.set_shadow_volume(volume)
        self._changed()

    def set_transfer_function(self, tf: TransferFunction) -> None:
        self.tracer.set_transfer_function(tf)
        self._changed()

    def set_light(self, light: Light) -> None:
        self.tracer.set_light(Light(**light.to_dict()))
        self._changed()

    def set_shadow_mode(self, mode: str) -> None:
        """'none' | 'rays' | 'field' (falls back to 'none' while no shadow volume is set)."""
        if mode not in SHADOW_MODES:
            from hyperinr_core.errors import HyperINRError

            raise HyperINRError(f"shadow mode must be one of {', '.join(SHADOW_MODES)}, got {mode!r}")
        self.tracer.set_shadow_mode(mode)
        self._changed()

    @property
    def camera(self) -> Camera:
        return self._camera

    @camera.setter
    def camera(self, cam: Camera) -> None:
        self.set_camera(cam)

    @staticmethod
    def home_camera() -> Camera:
        """The initial view: far enough back that the whole unit cube (bounding-sphere radius sqrt(3)/2) fits
        the default 35-degree vertical field of view, so a new user sees all of the volume, not a crop."""
        return Camera()

    def reset_camera(self) -> None:
        """Back to :meth:`home_camera`."""
        self.set_camera(self.home_camera())

    def set_camera(self, cam: Camera) -> None:
        self._camera = Camera.from_dict(cam.to_dict())
        self._camera_moved()

    def _camera_moved(self) -> None:
        self.events.camera_changed(camera=self._camera)
        self._changed()

    def set_quality(self, steps: int) -> None:
        """Full-quality sampling rate: ``steps`` samples per unit length (the step is ``1 / steps``)."""
        steps = int(steps)
        if steps < 2:
            raise ValueError(f"quality must be >= 2 steps per unit length, got {steps}")
        self.tracer.set_settings(step=1.0 / steps)
        self._changed()

    def set_progressive(self, on: bool) -> None:
        """Accumulate samples across frames at rest (True) or show one sample per pixel (False)."""
        self.progressive = bool(on)
        self._changed()

    def set_background(self, rgb: tuple[float, float, float]) -> None:
        self.tracer.set_settings(background=tuple(float(c) for c in rgb))
        self._changed()

    # -- mouse -------------------------------------------------------------------------------------------
    def on_mouse_press(self, event) -> None:
        self._drag_last = tuple(event.pos)

    def on_mouse_release(self, event) -> None:
        self._drag_last = None

    def on_mouse_move(self, event) -> None:
        if self._drag_last is None or not event.is_dragging:
            return
        x, y = event.pos
        dx, dy = x - self._drag_last[0], y - self._drag_last[1]
        self._drag_last = (x, y)
        buttons = set(getattr(event, "buttons", []) or [event.button])
        shift = any(getattr(m, "name", str(m)).lower() == "shift" for m in event.modifiers)
        if 2 in buttons or (1 in buttons and shift):
            self.pan(dx, dy)
        elif 1 in buttons:
            self._camera.orbit(-0.4 * dx, 0.4 * dy)
            self._camera_moved()

    def on_mouse_wheel(self, event) -> None:
        self._camera.zoom(0.9 ** float(event.delta[1]))
        self._camera_moved()

    def pan(self, dx: float, dy: float) -> None:
        """Move the target in the view plane by a drag of (dx, dy) logical pixels (content follows the mouse)."""
        r, u, _ = self._camera.basis()
        per_px = 2 * self._camera.distance * math.tan(math.radians(self._camera.fov) / 2) / max(self.size[1], 1)
        t = np.asarray(self._camera.target) - dx * per_px * r + dy * per_px * u
        self._camera.target = tuple(float(v) for v in t)
        self._camera_moved()

    # -- drawing -----------------------------------------------------------------------------------------
    def _target(self, w: int, h: int) -> AccumulationTarget:
        key = (max(1, int(w)), max(1, int(h)))
        if key not in self._targets:
            if len(self._targets) > 6:  # resizes and scales leave old targets behind
                self._targets.clear()
                self._preview = None
            self._targets[key] = AccumulationTarget(*key)
        return self._targets[key]

    def _on_rest(self, event=None) -> None:
        self._rest_timer.stop()
        remaining = self.quality.rest_delay_s - (time.perf_counter() - self._last_change)
        if remaining > 0:
            # Qt's coarse timers may fire up to 5% early; a draw now would still count as interactive and
            # nothing would ever ask for the full-quality frame.
            self._arm_rest(remaining + 0.002)
        else:
            self.update()

    def on_resize(self, event) -> None:
        if "_preview" in self.__dict__:  # not during construction (show=True resizes before __init__ ends)
            self._changed()

    def on_draw(self, event) -> None:
        if "_preview" not in self.__dict__:
            return  # shown (show=True) and painted before __init__ finished: nothing to draw yet
        t0 = time.perf_counter()
        pw, ph = self.physical_size
        self.interactive = (t0 - self._last_change) < self.quality.rest_delay_s
        if self.interactive:
            self._level = self.quality.level()
            step_mult, res = self.quality.levels[self._level]
        else:
            step_mult, res = 1.0, 1.0
        target = self._target(round(pw * res), round(ph * res))
        step = self.tracer.settings.step * step_mult
        want = self.max_spp if (self.progressive and not self.interactive) else 1
        # At rest a full-quality frame may cost more than the frame budget: trace it in bands, one per draw.
        bands = 1 if self.interactive else self._rest_bands
        done_before = (target.frames, target.band)
        self.tracer.trace(target, self._camera, frames=1, step=step, max_frames=want, bands=bands)
        traced = (target.frames, target.band) != done_before
        gloo.gl.glFinish()  # llvmpipe renders asynchronously until here: time tracing and showing apart
        t1 = time.perf_counter()
        shown = target
        if self.interactive:
            self._preview = target
        elif target.frames == 0 and self._preview is not None and self._preview.frames > 0:
            shown = self._preview  # the first full-quality frame is still in progress
        gloo.clear(color=(0, 0, 0, 1))
        self.tracer.display(shown, (0, 0, pw, ph))
        self._shown = shown
        gloo.flush()
        gloo.gl.glFinish()  # honest frame times: llvmpipe renders asynchronously until here
        t2 = time.perf_counter()
        self.last_frame_ms = (t2 - t0) * 1e3
        trace_ms, show_ms = (t1 - t0) * 1e3, (t2 - t1) * 1e3
        self.spp = target.frames
        if self.interactive:
            self._level = self.quality.adapt(self._level, trace_ms, show_ms)
        elif traced:
            # A banded draw also copies the rest of the frame through, a full-frame texture pass like showing
            # it: without taking that out, more bands would look ever more expensive and ask for more bands.
            banded_ms = max(trace_ms - show_ms, 0.1 * trace_ms) if target.bands > 1 else trace_ms
            self.quality.observe(banded_ms, 1.0 / target.bands, show_ms)
        # Bands so that one band fits the budget (applied from the next frame boundary on).
        # At least 8 rows a band: each band also pays a full-frame copy, which must not dominate.
        self._rest_bands = self.quality.bands(cap=max(1, min(64, ph // 8)))
        self.events.frame_rendered(spp=self.spp, frame_ms=self.last_frame_ms, interactive=self.interactive)
        converged = not self.interactive and self.stop_when_converged and self._converged(target, traced)
        self.refined = not self.interactive and (self.spp >= want or converged)
        if not self.refined and not self.interactive and not self.paused:
            self.update()  # keep refining
        elif self.interactive and not self._rest_timer.running:
            # an interactive frame always ends in a full-quality one
            self._arm_rest(self.quality.rest_delay_s - (time.perf_counter() - self._last_change) + 0.002)

    def _converged(self, target: AccumulationTarget, traced: bool) -> bool:
        """Whether the resting image's noise is below :data:`NOISE_STOP` (checked at powers of two of samples
        from 8 on; a readback each, so about seven in a whole accumulation)."""
        ref = self._noise_ref
        if ref is not None and (ref[0] is not target or target.frames < ref[1]):
            self._noise_ref, self.noise, ref = None, None, None  # the view changed: accumulation restarted
        n = target.frames
        if traced and target.band == 0 and n >= 8 and n & (n - 1) == 0 and (ref is None or ref[1] != n):
            img = target.read()
            if ref is not None and ref[1] == n // 2 and ref[2].shape == img.shape:
                self.noise = image_noise(img, ref[2])
            self._noise_ref = (target, n, img)
        return self.noise is not None and self.noise < NOISE_STOP

    def set_paused(self, paused: bool) -> None:
        """Stop refining while the window is hidden or minimized; refine on from where it was when shown."""
        was, self.paused = self.paused, bool(paused)
        if was and not self.paused:
            self.update()

    # -- offscreen ---------------------------------------------------------------------------------------
    def grab_view(self) -> np.ndarray | None:
        """What the canvas shows now, as ``(H, W, 3)`` uint8 at its physical size (None before a frame).

        The image last drawn is shown again into an offscreen framebuffer and read back: unlike reading the
        window, this works for a canvas on its own native window, whose pixels a widget grab cannot see.
        """
        if self._shown is None or self._closed:
            return None
        self.set_current()
        pw, ph = self.physical_size
        fbo = gloo.FrameBuffer(gloo.RenderBuffer((ph, pw), format="color"))
        with fbo:
            gloo.clear(color=(0, 0, 0, 1))
            self.tracer.display(self._shown, (0, 0, pw, ph))
            img = gloo.read_pixels((0, 0, pw, ph), alpha=False)
        fbo.delete()
        return np.ascontiguousarray(img)

    def render_image(self, width: int, height: int, spp: int = 64, progress: bool = False) -> np.ndarray:
        """Render ``spp`` samples per pixel offscreen at full quality; ``(height, width, 3)`` uint8."""
        return to_uint8(self.render_float(width, height, spp, progress))

    def render_float(self, width: int, height: int, spp: int = 64, progress: bool = False) -> np.ndarray:
        """As :meth:`render_image`, but the linear float32 running mean (not clipped)."""
        self.set_current()
        target = AccumulationTarget(int(width), int(height))
        frames = range(int(spp))
        if progress:
            from tqdm import tqdm

            frames = tqdm(frames, desc="render", unit="spp", leave=False)
        for _ in frames:
            self.tracer.trace(target, self._camera, frames=1)
        return target.read()


def image_noise(mean_n: np.ndarray, mean_half: np.ndarray) -> float:
    """Estimated RMS noise (display units, clipped to [0, 1]) of an image averaged over ``n`` samples, from
    the same image averaged over the first ``n / 2``: their difference has the noise of the whole."""
    a, b = np.clip(mean_n, 0.0, 1.0), np.clip(mean_half, 0.0, 1.0)
    return float(np.sqrt(np.mean((a - b) ** 2)))


def to_uint8(img: np.ndarray) -> np.ndarray:
    """Linear RGB -> uint8 exactly as :meth:`renderer.tracer.PathTracer.to_uint8` (clip, round half up)."""
    return (np.clip(img, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)
