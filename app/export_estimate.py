"""How long an export will take, from a quick measured probe (no Qt; run it off the GUI thread).

:func:`probe` prepares one frame of the scene as the export would (generate + decode for ``gl``) and renders
a small image at a few samples per pixel; :meth:`ProbeResult.estimate` scales that to the requested size,
samples and frames: rendering time grows with pixels x samples, and every frame whose parameters change
pays one more preparation (an orbit or a light sweep decodes the volume once).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

__all__ = ["ProbeResult", "probe", "LONG_EXPORT_S", "estimate_text"]

#: Above this many seconds the export dialog warns before starting.
LONG_EXPORT_S = 180.0

GL_PROBE_SIZE = (200, 150)
GL_PROBE_SPP = 2
TORCH_PROBE_SIZE = (40, 30)


@dataclass
class ProbeResult:
    """Measured costs: ``sample_s`` per pixel-sample, ``prepare_s`` per frame preparation, ``setup_s``
    once."""

    renderer: str  # the renderer measured (``torch`` where ``gl`` had no context)
    sample_s: float
    prepare_s: float
    setup_s: float = 0.0
    note: str | None = None

    def estimate(self, size: tuple[int, int], spp: int, frames: int = 1,
                 preparations: int | None = None) -> float:
        """Seconds for ``frames`` frames of ``size`` at ``spp``; ``preparations`` (default: one per frame)
        frames need their volume generated and decoded."""
        preps = frames if preparations is None else preparations
        pixels = int(size[0]) * int(size[1])
        return self.setup_s + max(preps, 1) * self.prepare_s + frames * pixels * int(spp) * self.sample_s


def probe(scene, renderer: str = "gl", volume_res: int = 128) -> ProbeResult:
    """Measure ``scene`` with ``renderer`` (``gl`` falls back to ``torch`` where no GL context can be made;
    the result says so in ``note``)."""
    from hyperinr_app.export import resolve_renderer

    renderer, note = resolve_renderer(renderer)
    if renderer == "gl":
        result = _probe_gl(scene, volume_res)
    else:
        result = _probe_torch(scene)
    result.note = note
    return result


def _probe_gl(scene, volume_res: int) -> ProbeResult:
    from hyperinr_app.export_gl import GLFrameRenderer, VolumePreparer

    t0 = time.perf_counter()
    gl = GLFrameRenderer(scene)
    try:
        t1 = time.perf_counter()
        frame = VolumePreparer(volume_res, compile=True)(scene)
        t2 = time.perf_counter()
        gl.render(frame, GL_PROBE_SIZE, 1)  # uploads, compiles the shader: not part of the per-sample cost
        frame.volume = frame.shadow = None
        t3 = time.perf_counter()
        gl.render(frame, GL_PROBE_SIZE, GL_PROBE_SPP)
        t4 = time.perf_counter()
    finally:
        gl.close()
    pixels = GL_PROBE_SIZE[0] * GL_PROBE_SIZE[1]
    return ProbeResult("gl", (t4 - t3) / (pixels * GL_PROBE_SPP), t2 - t1, setup_s=(t1 - t0) + (t3 - t2))


def _probe_torch(scene) -> ProbeResult:
    from hyperinr_app.export import render_frame

    t0 = time.perf_counter()
    render_frame(scene, TORCH_PROBE_SIZE, 1, renderer="torch")
    t = time.perf_counter() - t0
    return ProbeResult("torch", t / (TORCH_PROBE_SIZE[0] * TORCH_PROBE_SIZE[1]), 0.0)


def estimate_text(seconds: float) -> tuple[str, bool]:
    """``("about 12 min", True)``: the estimate in words and whether it is long enough to warn about."""
    from hyperinr_app.export_progress import format_duration

    if seconds < 60:
        words = f"about {max(seconds, 1):.0f} s"
    elif seconds < 3600:
        words = f"about {seconds / 60:.0f} min ({format_duration(seconds)})"
    else:
        words = f"about {seconds / 3600:.1f} h"
    return words, seconds > LONG_EXPORT_S
