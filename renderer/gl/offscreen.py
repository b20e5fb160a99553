"""Offscreen GL rendering for exports: the window's shaders (:class:`.tracer.GLPathTracer`) in a context of
their own, on any thread, without a display where EGL can make one.

Contexts, in order of preference:

- ``egl``: Mesa's EGL on its *surfaceless* platform (llvmpipe on a CPU). Needs no X server and no Qt, so it
  works on a headless machine and on a worker thread of the explorer (the GUI thread keeps its own context).
- ``qt``: a hidden :class:`.canvas.PathTracerCanvas` on the Qt backend; only on the main thread and only with
  a display (``DISPLAY`` / ``WAYLAND_DISPLAY``, e.g. under ``xvfb-run``).

vispy keeps one process-wide list of "current" canvases, so two threads drawing at once would send each
other's GL commands to the wrong context. :func:`offscreen_thread` gives the calling thread a list of its
own (every other thread keeps sharing the original list), which is what lets an export render on a worker
thread while the explorer's canvas draws on the GUI thread.

:func:`gl_unavailable_reason` says once per process whether any context can be made (None when one can).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

import numpy as np

from ..camera import Camera
from ..light import Light
from ..transfer import TransferFunction
from .tracer import AccumulationTarget, GLPathTracer, TraceSettings

__all__ = ["OffscreenRenderer", "gl_unavailable_reason", "offscreen_thread", "GLUnavailable"]


class GLUnavailable(RuntimeError):
    """No OpenGL context could be made (the message says why)."""


class _CanvasList:
    """vispy's list of current canvases, per thread for threads that asked for one (:func:`offscreen_thread`)
    and shared by every other thread."""

    def __init__(self, shared: list):
        self.shared = shared
        self.local = threading.local()

    def _items(self) -> list:
        return getattr(self.local, "items", self.shared)

    def __iter__(self):
        return iter(list(self._items()))

    def __len__(self) -> int:
        return len(self._items())

    def __getitem__(self, i):
        return self._items()[i]

    def __setitem__(self, i, value) -> None:
        self._items()[i] = value

    def append(self, value) -> None:
        self._items().append(value)

    def remove(self, value) -> None:
        self._items().remove(value)


_install_lock = threading.Lock()


def offscreen_thread(main_too: bool = False) -> None:
    """Give the calling thread its own list of current vispy canvases (idempotent). The main thread keeps the
    shared list unless ``main_too`` (an EGL canvas there must not stay current for Qt canvases made later;
    :func:`release_thread` hands the shared list back)."""
    from vispy.gloo import context

    with _install_lock:
        if not isinstance(context.canvasses, _CanvasList):
            context.canvasses = _CanvasList(context.canvasses)
        lst = context.canvasses
    own = main_too or threading.current_thread() is not threading.main_thread()
    if own and not hasattr(lst.local, "items"):
        lst.local.items = []


def unbind_egl() -> None:
    """Leave no EGL context current on this thread. vispy's EGL canvas only destroys its surface on close; a
    context still current on the main thread makes the next Qt (GLX) context there crash in Mesa."""
    from vispy.app.backends import _egl
    from vispy.ext import egl

    try:
        egl.eglMakeCurrent(_egl._EGL_DISPLAY, egl.EGL_NO_SURFACE, egl.EGL_NO_SURFACE, egl.EGL_NO_CONTEXT)
    except Exception:  # noqa: BLE001 - best effort: nothing was current
        pass


def release_thread() -> None:
    """Back to the shared list of current canvases on the main thread (after an offscreen canvas closed)."""
    from vispy.gloo import context

    lst = context.canvasses
    if isinstance(lst, _CanvasList) and threading.current_thread() is threading.main_thread():
        lst.local.__dict__.pop("items", None)


_egl_app = None
_egl_error: str | None = None
_probes: dict[bool, str | None] = {}  # main thread or not -> None (GL works) or why not


def _egl_application():
    """vispy's EGL application on Mesa's surfaceless platform (created once a process)."""
    global _egl_app, _egl_error
    with _install_lock:
        if _egl_app is None and _egl_error is None:
            old = os.environ.get("EGL_PLATFORM")
            os.environ["EGL_PLATFORM"] = "surfaceless"  # read by Mesa when vispy opens the EGL display
            try:
                from vispy import app

                _egl_app = app.Application("egl")
            except Exception as exc:  # noqa: BLE001 - any failure means no EGL here
                _egl_error = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            finally:
                if old is None:
                    os.environ.pop("EGL_PLATFORM", None)
                else:
                    os.environ["EGL_PLATFORM"] = old
        if _egl_app is None:
            raise GLUnavailable(f"EGL: {_egl_error}")
        return _egl_app


def _make_canvas():
    """A hidden canvas with a current GL context on this thread: ``(canvas, kind)``."""
    try:
        from vispy import app

        egl = _egl_application()
        offscreen_thread(main_too=True)
        canvas = app.Canvas(app=egl, size=(16, 16), show=False)
        canvas.set_current()
        return canvas, "egl"
    except GLUnavailable as exc:
        reasons = [str(exc)]
    offscreen_thread()
    if threading.current_thread() is not threading.main_thread():
        raise GLUnavailable(f"{reasons[0]}; a Qt context is only made on the main thread")
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise GLUnavailable(f"{reasons[0]}; no display for a Qt context (run under xvfb-run)")
    if os.environ.get("QT_QPA_PLATFORM", "") == "offscreen":
        raise GLUnavailable(f"{reasons[0]}; QT_QPA_PLATFORM=offscreen cannot host a GL context")
    from .canvas import PathTracerCanvas

    canvas = PathTracerCanvas(size=(16, 16), show=False)
    canvas.set_current()
    return canvas, "qt"


def gl_unavailable_reason() -> str | None:
    """None when an offscreen GL context can be made on this thread (tried once a process for the main thread
    and once for the others), else why not."""
    main = threading.current_thread() is threading.main_thread()
    if main not in _probes:
        try:
            OffscreenRenderer().close()
            _probes[main] = None
        except Exception as exc:  # noqa: BLE001 - any failure means no GL
            _probes[main] = str(exc) or type(exc).__name__
    return _probes[main]


class OffscreenRenderer:
    """The GL path tracer in a hidden context of its own. Use it on the thread that made it; :meth:`close` it.

    Set the scene with :meth:`set_scene` (volume and shadow volume are uploaded only when given), then
    :meth:`render` any size and samples per pixel.
    """

    def __init__(self, settings: TraceSettings | None = None):
        self.canvas, self.kind = _make_canvas()
        try:
            self.tracer = GLPathTracer(settings)
        except Exception:
            self.canvas.close()
            raise
        self._target: AccumulationTarget | None = None

    def set_scene(
        self,
        tf: TransferFunction | None = None,
        light: Light | None = None,
        shadow_mode: str | None = None,
        volume: np.ndarray | None = None,
        shadow_volume: np.ndarray | None = None,
    ) -> None:
        """Change what is given; the rest stays. ``shadow_volume`` replaces the shadow texture when given."""
        self.canvas.set_current()
        t = self.tracer
        if volume is not None:
            t.set_volume(volume)
        if shadow_volume is not None:
            t.set_shadow_volume(shadow_volume)
        if tf is not None and tf is not t.tf:
            t.set_transfer_function(tf)
        if light is not None:
            t.set_light(Light(**light.to_dict()))
        if shadow_mode is not None:
            t.set_shadow_mode(shadow_mode)

    def render(
        self,
        camera: Camera,
        size: tuple[int, int],
        spp: int,
        progress: Callable[[int, int], None] | None = None,
        cancel: Callable[[], bool] | None = None,
    ) -> np.ndarray:
        """``spp`` samples per pixel at ``size`` (width, height): the linear float32 mean, ``(H, W, 3)``.

        ``progress(done, spp)`` after every sample; ``cancel()`` is asked before every sample, and when it
        returns True :class:`InterruptedError` is raised."""
        from vispy.gloo import gl

        self.canvas.set_current()
        w, h = int(size[0]), int(size[1])
        if self._target is None or self._target.size != (w, h):
            self._target = AccumulationTarget(w, h)
        target = self._target
        target.key = None  # always start from zero samples
        for k in range(int(spp)):
            if cancel is not None and cancel():
                raise InterruptedError("cancelled")
            self.tracer.trace(target, camera, frames=1)
            if progress is not None:
                gl.glFinish()  # llvmpipe works asynchronously: report samples when they are done
                progress(k + 1, int(spp))
        return target.read()

    def close(self) -> None:
        if self.canvas is not None:
            self.canvas.close()
            self.canvas = None
            if self.kind == "egl":
                unbind_egl()
            release_thread()
