"""One still image through a hidden :class:`~renderer.gl.canvas.PathTracerCanvas` (created and closed per
call): the GL path tracer's reference renders in tests and tools. Exports use
:mod:`renderer.gl.offscreen`, which keeps its context across frames."""

from __future__ import annotations

import numpy as np

from ..camera import Camera
from ..light import Light
from ..transfer import TransferFunction
from .canvas import PathTracerCanvas, to_uint8
from .tracer import TraceSettings

__all__ = ["render_offscreen"]


def render_offscreen(
    volume: np.ndarray,
    tf: TransferFunction,
    camera: Camera,
    light: Light,
    shadow_mode: str = "none",
    shadow_volume: np.ndarray | None = None,
    size: tuple[int, int] = (800, 600),
    spp: int = 64,
    background: tuple[float, float, float] = (0.08, 0.08, 0.1),
    steps: int | None = None,
    settings: TraceSettings | None = None,
    as_float: bool = False,
) -> np.ndarray:
    """Render one image through a hidden canvas (created and closed here): ``(H, W, 3)`` uint8.

    ``steps``: samples per unit length (default: ``settings.step``, i.e. 256). ``as_float``: return the linear
    float32 image instead.
    """
    canvas = PathTracerCanvas(size=(64, 64), show=False, settings=settings)
    try:
        canvas.set_volume(volume)
        canvas.set_shadow_volume(shadow_volume)
        canvas.set_transfer_function(tf)
        canvas.set_light(light)
        canvas.set_shadow_mode(shadow_mode)
        canvas.set_background(background)
        if steps is not None:
            canvas.set_quality(steps)
        canvas.set_camera(camera)
        img = canvas.render_float(size[0], size[1], spp)
        return img if as_float else to_uint8(img)
    finally:
        canvas.close()
