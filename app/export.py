"""Export frames and animations rendered by the torch path tracer on the INR itself (not a screen grab).

Used by the explorer's File > Export dialogs (from a worker thread) and by ``hyperinr export-frame`` /
``hyperinr export-animation``. Every output is written atomically: a cancelled or failed export leaves no
file behind and never damages an existing one.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from hyperinr_core.errors import HyperINRError

__all__ = ["ExportScene", "Sweep", "Cancelled", "render_frame", "export_frame", "export_animation"]

Progress = Callable[[int, int], None]  # (done, total)
Cancel = Callable[[], bool]


class Cancelled(Exception):
    """The user cancelled an export; nothing was written."""


@dataclass
class ExportScene:
    """What to render: a scalar HyperINR at ``theta`` (user units), the look, and optional shadows."""

    model: object  # HyperINR
    theta: list[float]
    tf: object  # TransferFunction
    camera: object  # Camera
    light: object  # Light
    shadow_mode: str = "none"
    shadow_model: object | None = None
    background: tuple[float, float, float] = (0.08, 0.08, 0.1)
    step: float = 1.0 / 256.0
    seed: int = 0
    scene_params: dict = field(default_factory=dict)


@dataclass
class Sweep:
    """An animation: ``kind`` is ``"param"`` (the model parameter ``name``), ``"azimuth"`` / ``"polar"``
    (the light) or ``"orbit"`` (camera azimuth, degrees); values go from ``start`` to ``stop``."""

    kind: str
    start: float
    stop: float
    frames: int
    name: str = ""

    def values(self) -> np.ndarray:
        if self.frames < 1:
            raise HyperINRError("an animation needs at least one frame")
        return np.linspace(self.start, self.stop, self.frames)

    def apply(self, scene: ExportScene, value: float) -> ExportScene:
        if self.kind == "param":
            from hyperinr_app.params import resolve_params

            cfg = scene.model.cfg
            names = list(cfg.param_names)
            resolve_params({self.name: float(value)}, names, cfg.param_lo, cfg.param_hi, option="sweep")
            theta = list(scene.theta)
            theta[names.index(self.name)] = float(value)
            return replace(scene, theta=theta)
        if self.kind in ("azimuth", "polar"):
            return replace(scene, light=replace(scene.light, **{self.kind: float(value)}))
        if self.kind == "orbit":
            return replace(scene, camera=replace(scene.camera, azimuth=float(value)))
        raise HyperINRError(f"unknown sweep {self.kind!r} (param, azimuth, polar, orbit)")


def _shadow_field(scene: ExportScene, field):
    from hyperinr_renderer.fields import GridField
    from hyperinr_renderer.shadows import shadow_field_from_model, shadow_volume

    if scene.shadow_mode != "field":
        return None
    if scene.shadow_model is not None:
        params = dict(zip(scene.model.cfg.param_names, scene.theta, strict=True))
        return shadow_field_from_model(scene.shadow_model, scene.light, scene_params=params)
    return GridField(shadow_volume(field, scene.tf, scene.light.direction(), 64))


def render_frame(
    scene: ExportScene,
    size: tuple[int, int],
    spp: int,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> np.ndarray:
    """Path-trace ``scene`` at ``size`` (width, height) with ``spp`` samples per pixel: (H, W, 3) uint8."""
    import torch
    from hyperinr_renderer.fields import INRField
    from hyperinr_renderer.tracer import PathTracer, RenderSettings

    w, h = int(size[0]), int(size[1])
    if w < 1 or h < 1 or spp < 1:
        raise HyperINRError(f"invalid export size {w}x{h} or spp {spp}")
    inr = scene.model.generate(scene.theta).clone()
    field = INRField(inr)
    settings = RenderSettings(
        width=w, height=h, step=scene.step, shadow=scene.shadow_mode, background=scene.background
    )
    tracer = PathTracer(
        field, scene.tf, scene.camera, scene.light, settings, _shadow_field(scene, field), seed=scene.seed
    )
    per_call = max(1, min(spp, settings.max_rays // (w * h)))
    done = 0
    with torch.no_grad():
        while done < spp:
            if cancel is not None and cancel():
                raise Cancelled()
            n = min(per_call, spp - done)
            tracer.render(n)
            done += n
            if progress is not None:
                progress(done, spp)
    return tracer.to_uint8()


VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov")


def check_animation_output(path: str | os.PathLike, size: tuple[int, int]) -> Path:
    """Check an animation target before rendering: an MP4 (even size) or a new PNG folder, writable."""
    from hyperinr_core.fileio import prepare_output

    path = Path(path)
    if path.suffix.lower() in VIDEO_SUFFIXES:
        w, h = int(size[0]), int(size[1])
        if w % 2 or h % 2:
            raise HyperINRError(f"{path}: MP4 needs an even width and height, got {w}x{h}")
        return prepare_output(path)
    if path.exists():
        raise HyperINRError(f"{path}: exists; choose a new folder name for the PNG sequence")
    return prepare_output(path, folder=True)


def export_frame(
    scene: ExportScene,
    path: str | os.PathLike,
    size: tuple[int, int] = (800, 600),
    spp: int = 64,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> Path:
    """Render one frame and write it as a PNG, atomically."""
    from hyperinr_renderer.tracer import save_png

    from hyperinr_core.fileio import prepare_output

    path = prepare_output(path)
    save_png(render_frame(scene, size, spp, progress, cancel), path)
    return path


def export_animation(
    scene: ExportScene,
    sweep: Sweep,
    path: str | os.PathLike,
    size: tuple[int, int] = (640, 480),
    spp: int = 16,
    fps: float = 12.0,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> Path:
    """Render a sweep and write an MP4 (``.mp4``, through imageio-ffmpeg) or a folder of PNGs (any other
    name). The output appears only once complete."""
    import imageio.v3 as iio

    path = check_animation_output(path, size)
    values = sweep.values()
    total = len(values) * spp

    def frame_progress(k):
        return None if progress is None else (lambda d, _t: progress(k * spp + d, total))

    frames = (
        render_frame(sweep.apply(scene, v), size, spp, frame_progress(k), cancel)
        for k, v in enumerate(values)
    )
    if path.suffix.lower() in VIDEO_SUFFIXES:
        from hyperinr_core.fileio import atomic_path

        with atomic_path(path) as tmp:
            import imageio

            writer = imageio.get_writer(
                tmp, format="FFMPEG", mode="I", fps=fps, codec="libx264", quality=8, macro_block_size=1
            )
            try:
                for img in frames:
                    writer.append_data(img)
            finally:
                writer.close()
        return path
    # PNG sequence: build the folder beside the target, then move it into place. mkdtemp makes it private
    # (0700) while it fills; the finished folder gets the mode any new folder gets.
    from hyperinr_core.fileio import umask_mode

    tmp_dir = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.resolve().parent))
    try:
        digits = max(4, int(math.log10(max(len(values), 1))) + 1)
        for k, img in enumerate(frames):
            iio.imwrite(tmp_dir / f"frame_{k:0{digits}d}.png", img)
        os.chmod(tmp_dir, umask_mode(directory=True))
        os.replace(tmp_dir, path)
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
    return path
