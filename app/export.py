"""Export frames and animations (not a screen grab), with one of two renderers:

- ``gl`` (the default wherever an OpenGL context can be made, llvmpipe included): the window's shaders,
  offscreen, at the requested size and samples per pixel, on the INR decoded into a ``volume_res``³ texture
  (:mod:`app.export_gl`);
- ``torch``: the reference path tracer ray-marching the INR itself (no grid); an hour per 800x600 64-spp
  frame on a 2-core CPU.

Animations stream (:mod:`app.export_pipeline`): the next frame is generated and decoded while this one
renders, and the encoder writes on a thread of its own, with a small bounded queue between the stages.

Used by the explorer's File > Export dialogs (from a worker thread) and by ``hyperinr export-frame`` /
``hyperinr export-animation``. Every output is written atomically: a cancelled or failed export leaves no
file behind and never damages an existing one.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

from hyperinr_app.export_gl import DEFAULT_VOLUME_RES
from hyperinr_app.export_pipeline import Cancelled, run_pipeline
from hyperinr_app.export_scene import ExportScene, Sweep
from hyperinr_core.errors import HyperINRError

__all__ = ["ExportScene", "Sweep", "Cancelled", "render_frame", "export_frame", "export_animation",
           "RENDERERS", "resolve_renderer", "check_renderer_options"]

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]  # (done, total) samples per pixel over the whole export
Cancel = Callable[[], bool]

RENDERERS = ("gl", "torch")
COST_MIN_FRAMES = 8  # shorter sweeps are over before a per-frame cost profile would pay for itself


def check_renderer_options(renderer: str, volume_res: int) -> None:
    """A known renderer and a usable texture resolution, or one clear error."""
    if renderer not in RENDERERS:
        raise HyperINRError(f"unknown renderer {renderer!r} (gl, torch)")
    if not 2 <= int(volume_res) <= 1024:
        raise HyperINRError(f"--volume-res must be within 2..1024, got {volume_res}")


def resolve_renderer(renderer: str) -> tuple[str, str | None]:
    """The renderer to use for ``renderer`` and a one-line note when it differs: ``gl`` falls back to
    ``torch`` where no OpenGL context can be made."""
    check_renderer_options(renderer, DEFAULT_VOLUME_RES)
    if renderer != "gl":
        return renderer, None
    from hyperinr_renderer.gl.offscreen import gl_unavailable_reason

    why = gl_unavailable_reason()
    if why is None:
        return "gl", None
    return "torch", f"no OpenGL context ({why}); rendering with the torch path tracer instead (slow)"


def _gl_renderer(scene):
    """A :class:`~app.export_gl.GLFrameRenderer` on this thread, or None (logged) when GL is unavailable."""
    from hyperinr_app.export_gl import GLFrameRenderer
    from hyperinr_renderer.gl.offscreen import GLUnavailable

    try:
        return GLFrameRenderer(scene)
    except GLUnavailable as exc:
        log.warning("no OpenGL context (%s); rendering with the torch path tracer instead", exc)
        return None


def _shadow_field(scene: ExportScene, field):
    from hyperinr_renderer.fields import GridField
    from hyperinr_renderer.shadows import shadow_volume

    if scene.shadow_mode != "field":
        return None
    if scene.shadow_model is not None:
        return scene.shadow_field(fast=scene.fast)
    return GridField(shadow_volume(field, scene.tf, scene.light.direction(), scene.shadow_resolution))


def render_frame(
    scene: ExportScene,
    size: tuple[int, int],
    spp: int,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    renderer: str = "gl",
    volume_res: int = DEFAULT_VOLUME_RES,
) -> np.ndarray:
    """Path-trace ``scene`` at ``size`` (width, height) with ``spp`` samples per pixel: (H, W, 3) uint8.

    ``renderer``: ``gl`` (offscreen, on a ``volume_res``³ texture; torch when no GL context can be made) or
    ``torch`` (on the INR itself)."""
    check_renderer_options(renderer, volume_res)
    _check_size(size, spp)
    gl = _gl_renderer(scene) if renderer == "gl" else None
    if gl is None:
        return _render_frame_torch(scene, size, spp, progress, cancel)
    from hyperinr_app.export_gl import VolumePreparer

    try:
        # One frame: eager decoding (compiling would cost more than it saves).
        frame = VolumePreparer(volume_res, scene.shadow_resolution, compile=False)(scene)
        if cancel is not None and cancel():
            raise Cancelled()
        return gl.render(frame, size, spp, progress, cancel)
    finally:
        gl.close()


def _check_size(size, spp) -> None:
    w, h = int(size[0]), int(size[1])
    if w < 1 or h < 1 or spp < 1:
        raise HyperINRError(f"invalid export size {w}x{h} or spp {spp}")


def _render_frame_torch(scene, size, spp, progress, cancel) -> np.ndarray:
    import torch

    from hyperinr_renderer.tracer import PathTracer, RenderSettings

    w, h = int(size[0]), int(size[1])
    field = scene.field(fast=scene.fast)
    settings = RenderSettings(
        width=w, height=h, step=scene.step, shadow=scene.shadow_mode, background=scene.background,
        macro_cells=scene.macro_cells,
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


def check_animation_output(path: str | os.PathLike, size: tuple[int, int], replace: bool = False) -> Path:
    """Check an animation target before rendering: an MP4 (even size) or a PNG folder (new, unless
    ``replace``), writable."""
    from hyperinr_core.fileio import prepare_output

    path = Path(path)
    if path.suffix.lower() in VIDEO_SUFFIXES:
        w, h = int(size[0]), int(size[1])
        if w % 2 or h % 2:
            raise HyperINRError(f"{path}: MP4 needs an even width and height, got {w}x{h}")
        return prepare_output(path)
    if path.exists() and not replace:
        raise HyperINRError(f"{path}: exists; choose a new folder name for the PNG sequence")
    return prepare_output(path, folder=True)


def nearly_empty(image: np.ndarray, background) -> bool:
    """Whether an exported ``(H, W, 3)`` uint8 image shows next to nothing but its background: fewer than
    0.5% of its pixels differ from it by more than 12/255 (the transfer function is transparent over the
    values the frame holds)."""
    bg = np.round(np.asarray(background, dtype=np.float64) * 255.0)
    deviation = np.abs(image[..., :3].astype(np.int16) - bg.astype(np.int16)).max(axis=-1)
    return float((deviation > 12).mean()) < 0.005


def export_frame(
    scene: ExportScene,
    path: str | os.PathLike,
    size: tuple[int, int] = (800, 600),
    spp: int = 64,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    renderer: str = "gl",
    volume_res: int = DEFAULT_VOLUME_RES,
    inspect: Callable[[int, np.ndarray], None] | None = None,
) -> Path:
    """Render one frame and write it as a PNG, atomically (see :func:`render_frame` for ``renderer``);
    ``inspect(0, image)`` sees the image first."""
    from hyperinr_core.fileio import prepare_output
    from hyperinr_renderer.tracer import save_png

    path = prepare_output(path)
    image = render_frame(scene, size, spp, progress, cancel, renderer, volume_res)
    if inspect is not None:
        inspect(0, image)
    save_png(image, path)
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
    renderer: str = "gl",
    volume_res: int = DEFAULT_VOLUME_RES,
    costs: Callable[[list[float]], None] | None = None,
    replace: bool = False,
    inspect: Callable[[int, np.ndarray], None] | None = None,
) -> Path:
    """Render a sweep and write an MP4 (``.mp4``, through imageio-ffmpeg) or a folder of PNGs (any other
    name), streaming: generate and decode on one thread, render on this one, encode on a third, with a small
    queue between them (memory does not grow with the frame count). The output appears only once complete.

    ``costs``, when given, receives the relative cost of every frame before the first one renders
    (:func:`~hyperinr_app.export_gl.frame_costs`; ``gl`` sweeps of at least ``COST_MIN_FRAMES``
    frames), for a time-left estimate that knows the late frames are slower. ``replace`` lets a finished PNG
    folder replace an existing one (an MP4 always replaces its file atomically; the CLI asks for --force).
    ``inspect(k, image)`` sees frame ``k`` once rendered (the CLI warns about nearly empty frames).
    """
    check_renderer_options(renderer, volume_res)
    _check_size(size, spp)
    path = check_animation_output(path, size, replace)
    values = sweep.values()
    n = len(values)
    total = n * spp
    gl = _gl_renderer(scene) if renderer == "gl" else None
    try:
        if gl is not None:
            from hyperinr_app.export_gl import VolumePreparer

            prep = VolumePreparer(volume_res, scene.shadow_resolution, compile=n > 4)
            if costs is not None and n >= COST_MIN_FRAMES:
                from hyperinr_app.export_gl import frame_costs

                costs(frame_costs(gl, scene, sweep, size, spp, cancel))

            def prepare(k):
                return prep(sweep.apply(scene, values[k]))

            def render(k, frame):
                return gl.render(frame, size, spp, _frame_progress(progress, k, spp, total), cancel)
        else:

            def prepare(k):
                return sweep.apply(scene, values[k])

            def render(k, s):
                return _render_frame_torch(s, size, spp, _frame_progress(progress, k, spp, total), cancel)

        if inspect is not None:  # sees every frame as it leaves the renderer
            traced = render

            def render(k, frame):
                image = traced(k, frame)
                inspect(k, image)
                return image

        if path.suffix.lower() in VIDEO_SUFFIXES:
            _write_video(path, n, prepare, render, fps, cancel)
        else:
            _write_png_folder(path, n, prepare, render, cancel)
    finally:
        if gl is not None:
            gl.close()
    return path


def _frame_progress(progress, k, spp, total):
    return None if progress is None else (lambda d, _t: progress(k * spp + d, total))


def _write_video(path: Path, n: int, prepare, render, fps: float, cancel) -> None:
    import imageio

    from hyperinr_core.fileio import atomic_path

    with atomic_path(path) as tmp:
        writer = imageio.get_writer(
            tmp, format="FFMPEG", mode="I", fps=fps, codec="libx264", quality=8, macro_block_size=1
        )
        try:
            run_pipeline(n, prepare, render, lambda _k, img: writer.append_data(img), cancel)
        finally:
            writer.close()


def _write_png_folder(path: Path, n: int, prepare, render, cancel) -> None:
    """Build the folder beside the target, then move it into place. It is private (0700) while it
    fills; the finished folder gets the mode any new folder gets."""
    import imageio.v3 as iio

    from hyperinr_core.fileio import remove_temporary, reserve_name, umask_mode

    parent = path.resolve().parent
    tmp_dir, old = reserve_name(parent, f".{path.name}."), None
    try:
        os.mkdir(tmp_dir, 0o700)  # private while it fills
        digits = max(4, int(math.log10(max(n, 1))) + 1)
        def write(k, img):
            iio.imwrite(tmp_dir / f"frame_{k:0{digits}d}.png", img)

        run_pipeline(n, prepare, render, write, cancel)
        os.chmod(tmp_dir, umask_mode(directory=True))
        if path.is_dir():  # replacing (--force): the old folder steps aside only once the new one is whole
            old = reserve_name(parent, f".{path.name}.old.")
            os.mkdir(old, 0o700)
            os.replace(path, old / path.name)
            os.replace(tmp_dir, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp_dir, path)
    except BaseException:
        remove_temporary(tmp_dir)
        if old is not None:  # stopped while the folders swapped: the old one goes back where it was
            if (old / path.name).exists() and not path.exists():
                os.replace(old / path.name, path)
            remove_temporary(old)
        raise
