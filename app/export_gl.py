"""GL exports: the window's shaders, offscreen, on the INR decoded into a texture.

One frame of an :class:`~app.export.ExportScene` is made in two steps that can run on different threads:

- :class:`VolumePreparer` (any thread, torch only): generate the INR at the scene's parameters and decode it
  to a ``volume_res``³ texture; for ``field`` shadows also the shadow texture, decoded from the shadow model
  (or, without one, computed with secondary rays through the decoded volume). Volumes are reused while the
  parameters (and, for shadows, the light) stay the same, so an orbit decodes once.
- :class:`GLFrameRenderer` (the thread that made it: it owns a GL context, see
  :mod:`renderer.gl.offscreen`): upload, then path-trace ``spp`` samples per pixel.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from hyperinr_app.export_scene import ExportScene

__all__ = [
    "PreparedFrame", "VolumePreparer", "GLFrameRenderer", "frame_costs",
    "DEFAULT_VOLUME_RES", "DEFAULT_SHADOW_RES",
]

DEFAULT_VOLUME_RES = 128
DEFAULT_SHADOW_RES = 64


@dataclass
class PreparedFrame:
    """A scene with its textures: ``volume`` / ``shadow`` are None when unchanged since the previous frame."""

    scene: ExportScene
    volume: np.ndarray | None
    shadow: np.ndarray | None
    decode_s: float = 0.0


class VolumePreparer:
    """Generates and decodes the textures of export scenes (torch; thread-safe for one caller at a time)."""

    def __init__(self, volume_res: int = DEFAULT_VOLUME_RES, shadow_res: int = DEFAULT_SHADOW_RES,
                 compile: bool = True):
        from hyperinr_core.errors import HyperINRError
        from hyperinr_renderer.decode import Decoder, DecoderConfig

        for name, r in (("volume resolution", volume_res), ("shadow resolution", shadow_res)):
            if not 2 <= int(r) <= 1024:
                raise HyperINRError(f"{name} must be within 2..1024, got {r}")
        self.volume_res, self.shadow_res = int(volume_res), int(shadow_res)
        # Compiled decoding (shared per process with the explorer's decoder) pays off from a few frames on;
        # it compiles in the background and decodes eagerly until then.
        # Eager decoding runs in large chunks (fewer Python-level steps: ~1.7x faster at 64³ than the 4096
        # points that suit the compiled graph).
        cfg = DecoderConfig(compile=compile, background_compile=True) if compile else DecoderConfig(
            compile=False, chunk=1 << 17)
        self.decoder = Decoder(cfg)
        self._volume_key = None
        self._volume: np.ndarray | None = None
        self._shadow_key = None

    def __call__(self, scene: ExportScene) -> PreparedFrame:
        import time

        t0 = time.perf_counter()
        theta = tuple(float(v) for v in scene.theta)
        volume = None
        view = scene.updated(decoder=self.decoder)
        if theta != self._volume_key:
            volume = view.volume(self.volume_res).cpu().numpy()
            self._volume_key, self._volume = theta, volume
        shadow = None
        if scene.shadow_mode == "field":
            key = (theta, (scene.light.azimuth % 360.0, scene.light.polar), scene.tf.fingerprint())
            if key != self._shadow_key:
                shadow = self._shadow(view)
                self._shadow_key = key
        return PreparedFrame(scene, volume, shadow, time.perf_counter() - t0)

    def _shadow(self, scene: ExportScene) -> np.ndarray:
        import torch

        if scene.shadow_model is not None:
            return scene.shadow_volume(self.shadow_res).cpu().numpy()
        from hyperinr_renderer.fields import GridField
        from hyperinr_renderer.shadows import shadow_volume

        grid = GridField(torch.from_numpy(np.asarray(self._volume, dtype=np.float32)))
        return shadow_volume(grid, scene.tf, scene.light.direction(), self.shadow_res).numpy()


class GLFrameRenderer:
    """Path-traces prepared frames offscreen with the window's shaders. Use and :meth:`close` it on the thread
    that made it. Raises :class:`renderer.gl.offscreen.GLUnavailable` when no GL context can be made."""

    def __init__(self, scene):
        from hyperinr_renderer.gl.offscreen import OffscreenRenderer
        from hyperinr_renderer.gl.tracer import TraceSettings

        settings = TraceSettings(step=float(scene.step), background=tuple(scene.background),
                                 seed=int(scene.seed))
        self.gl = OffscreenRenderer(settings)

    def render(self, frame: PreparedFrame, size, spp: int, progress=None, cancel=None) -> np.ndarray:
        """The frame as ``(H, W, 3)`` uint8 (clipped and rounded as the torch tracer's PNGs)."""
        s = frame.scene
        mode = s.shadow_mode
        self.gl.set_scene(tf=s.tf, light=s.light, shadow_mode=mode, volume=frame.volume,
                          shadow_volume=frame.shadow)
        try:
            img = self.gl.render(s.camera, size, spp, progress, cancel)
        except InterruptedError:
            from hyperinr_app.export_pipeline import Cancelled

            raise Cancelled() from None
        return (np.clip(img, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)

    def close(self) -> None:
        self.gl.close()


#: Sweep points :func:`frame_costs` traces, and the volume and image it traces them at.
COST_PROBES = 5
COST_PROBE_RES = 64
COST_PROBE_SCALE = 0.5


def frame_costs(gl, scene, sweep, size: tuple[int, int], spp: int, cancel=None) -> list[float]:
    """Relative cost of every frame of ``sweep``, for the time-left estimate of an animation.

    Tracing time follows the content (how far rays march before they stop): in the demo's timestep sweep
    the last frames take almost four times as long as the first. ``COST_PROBES`` frames spread over the
    sweep are traced with ``gl`` (a :class:`~hyperinr_app.export_gl.GLFrameRenderer`) on a
    ``COST_PROBE_RES``³ decode at half the size: the seconds of ``spp`` samples plus the per-frame upload,
    interpolated in between. Decoding is left out: the export overlaps it with tracing. A few seconds for a
    100-frame sweep."""
    values = sweep.values()
    n = len(values)
    picks = np.unique(np.linspace(0, n - 1, min(COST_PROBES, n)).round().astype(int))
    prep = VolumePreparer(COST_PROBE_RES, shadow_res=32, compile=False)
    w, h = (max(8, int(v * COST_PROBE_SCALE)) for v in size)
    pixel_scale = (size[0] * size[1]) / (w * h)
    measured = []
    for k in picks:
        if cancel is not None and cancel():
            break
        frame = prep(sweep.apply(scene, values[k]))
        t0 = time.perf_counter()
        gl.render(frame, (w, h), 1)  # uploads the volumes
        t1 = time.perf_counter()
        gl.render(frame, (w, h), 2)
        t2 = time.perf_counter()
        per_spp = (t2 - t1) / 2 * pixel_scale
        measured.append(max(t1 - t0 - (t2 - t1) / 2, 0.0) + per_spp * spp)
    if len(measured) < len(picks):
        return [1.0] * n
    return [float(c) for c in np.interp(np.arange(n), picks, measured)]
