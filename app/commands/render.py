"""One frame of a dataset's volume (``hyperinr export-frame --data``, also called ``render``), and the small
helpers that turn CLI arguments into renderer objects (field, device, size, renderer), shared with
``export-frame``/``export-animation``, ``decode`` and the demos.
"""

from __future__ import annotations

import argparse
import sys

from hyperinr_app.commands import add_backend_option


def add_source_args(p: argparse.ArgumentParser, required: bool = True) -> None:
    """--model/--data, --param, --frame, --device: what to render."""
    src = p.add_mutually_exclusive_group(required=required)
    src.add_argument("--model", metavar="M", help="HyperINR model file (.h5)")
    src.add_argument("--data", metavar="D", help="dataset file (.h5): render one of its volumes")
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="model parameter in user units (repeatable); missing ones take their midpoint",
    )
    p.add_argument("--frame", type=int, default=0, help="with --data: the frame index (default 0)")
    p.add_argument("--device", default="auto", help="torch device: auto (cuda if available), cpu, cuda, ...")
    p.add_argument(
        "--compile",
        action="store_true",
        help="evaluate INRs through torch.compile on CPU too (slow first frame, faster after)",
    )


# -- argument parsing helpers ------------------------------------------------------------------------------
def parse_floats(text: str, n_min: int, n_max: int, what: str) -> list[float]:
    from hyperinr_core.errors import HyperINRError

    try:
        vals = [float(v) for v in text.split(",")]
    except ValueError:
        vals = []
    if not n_min <= len(vals) <= n_max:
        raise HyperINRError(
            f"{what} must be {n_min}{'-' + str(n_max) if n_max > n_min else ''} comma-separated "
            f"numbers, got {text!r}"
        )
    return vals


def parse_size(text: str) -> tuple[int, int]:
    from hyperinr_core.errors import HyperINRError

    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise HyperINRError(f"--size must look like 800x600, got {text!r}") from None
    if not (0 < w <= 16384 and 0 < h <= 16384):
        raise HyperINRError(f"--size {text!r} is out of range")
    return w, h


def resolve_device(name: str):
    import torch

    from hyperinr_core.errors import HyperINRError

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError as exc:
        raise HyperINRError(f"--device {name!r}: {exc}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise HyperINRError("--device cuda requested but CUDA is not available")
    return dev


def theta_for(
    model, assignments: list[str], source: str = "the model", quiet: tuple[str, ...] = ()
) -> list[float]:
    """User-unit parameters for ``model`` from ``NAME=VALUE`` strings; missing names take their midpoint
    (said on stderr, except for the names in ``quiet``).

    Unknown names, non-finite values and values outside the model's range are errors (:mod:`app.params`).
    """
    from hyperinr_app.params import parse_params, resolve_params

    cfg = model.cfg
    theta, missing = resolve_params(parse_params(assignments), cfg.param_names, cfg.param_lo, cfg.param_hi,
                                    source)
    missing = [n for n in missing if n not in quiet]
    if missing:
        print("using the midpoint for " + ", ".join(f"{n}={theta[cfg.param_names.index(n)]:g}"
                                                    for n in missing), file=sys.stderr)
    return theta


def load_field(args: argparse.Namespace, device):
    """The field named by --model/--param or --data/--frame, on ``device``."""
    import torch

    from hyperinr_core.errors import HyperINRError
    from hyperinr_renderer.fields import GridField
    from hyperinr_renderer.scene import Scene

    if args.model:
        from hyperinr_core.model.hyperinr import HyperINR

        model = HyperINR.load(args.model, device=device)
        if model.cfg.encoding.n_input_dims != 3:
            raise HyperINRError(
                f"{args.model}: a volume model is needed (this one is "
                f"{model.cfg.encoding.n_input_dims}-D, task {model.cfg.task})"
            )
        scene = Scene(model, theta_for(model, args.param, args.model))
        return scene.field(fast=True if args.compile else None)
    from hyperinr_core.data.dataset import open_dataset

    with open_dataset(args.data) as ds:
        if ds.is_image:
            raise HyperINRError(f"{args.data}: an image dataset ({ds.task}) cannot be volume-rendered")
        if not 0 <= args.frame < ds.n_frames:
            raise HyperINRError(f"--frame {args.frame} is outside 0..{ds.n_frames - 1}")
        lo, hi = ds.value_range
        vol = torch.from_numpy(ds.frame(args.frame)).float()
    vol = (vol - lo) / (hi - lo) if hi > lo else torch.zeros_like(vol)
    return GridField(vol, device=device)


def run_dataset_frame(args: argparse.Namespace) -> int:
    """``hyperinr export-frame --data D --frame K`` (also called ``render``): one of a dataset's volumes,
    path-traced on its grid (no model, so no scene: the other options as for a model)."""
    from hyperinr_app.params import parse_params
    from hyperinr_core.errors import HyperINRError
    from hyperinr_core.fileio import prepare_output, refuse_existing

    # Everything that needs no model first: a typo is reported at once, and before a long render.
    given = parse_params(args.param)
    width, height = parse_size(args.size)
    if args.spp < 1:
        raise HyperINRError("--spp must be >= 1")
    cam_vals = parse_floats(args.camera, 2, 3, "--camera") if args.camera else [30.0, 20.0]
    from hyperinr_app.params import parse_light

    az, polar = parse_light(args.light)
    background = tuple(parse_floats(args.background, 3, 3, "--background"))
    from hyperinr_app.export import check_renderer_options

    check_renderer_options(args.renderer, args.volume_res)
    refuse_existing(args.out, args.force)
    prepare_output(args.out)

    renderer = choose_renderer(args.renderer)

    import torch
    from tqdm import tqdm

    from hyperinr_renderer import Camera, Light, TransferFunction
    from hyperinr_renderer.fields import GridField
    from hyperinr_renderer.shadows import shadow_volume
    from hyperinr_renderer.tracer import PathTracer, RenderSettings, save_png

    device = resolve_device(args.device)
    tf = TransferFunction.load(args.tf or "viridis")
    try:
        camera = Camera(
            azimuth=cam_vals[0],
            elevation=cam_vals[1],
            distance=cam_vals[2] if len(cam_vals) > 2 else Camera().distance,
            fov=args.fov,
        )
    except ValueError as exc:
        raise HyperINRError(str(exc)) from None
    light = Light(azimuth=az, polar=polar, intensity=args.intensity, ambient=args.ambient)
    mode = args.shadow or ("field" if args.shadow_model else "none")
    field = load_field(args, device)
    if renderer == "gl":
        shadow_inr = model_shadow_field(args, given, tf, light, device).inr if (
            mode == "field" and args.shadow_model) else None
        img = _render_gl(args, field, shadow_inr, tf, camera, light, mode, (width, height), background)
        save_png(img, args.out)
        print(f"wrote {args.out} ({width}x{height}, {args.spp} spp, shadow {mode}, gl)")
        return 0
    shadow_field = None
    if mode == "field":
        if args.shadow_model:
            shadow_field = model_shadow_field(args, given, tf, light, device)
        else:
            shadow_field = GridField(
                shadow_volume(field, tf, light.direction(), args.shadow_resolution, progress=True)
            )
    settings = RenderSettings(
        width=width,
        height=height,
        step=args.step,
        shadow=mode,
        macro_cells=not args.no_macro_cells,
        background=background,
    )
    tracer = PathTracer(field, tf, camera, light, settings, shadow_field=shadow_field, seed=args.seed)
    per_call = max(1, settings.max_rays // (width * height))
    with torch.no_grad(), tqdm(total=args.spp, desc="render", unit="spp") as bar:
        done = 0
        while done < args.spp:
            n = min(per_call, args.spp - done)
            tracer.render(n)
            done += n
            bar.update(n)
    save_png(tracer.to_uint8(), args.out)
    print(f"wrote {args.out} ({width}x{height}, {args.spp} spp, shadow {mode}, {device})")
    return 0


def model_shadow_field(args, given: dict, tf, light, device):
    """The shadow INR field of --shadow-model for ``light`` and --param (warns on stderr when the model was
    made for another transfer function)."""
    from hyperinr_core.model.hyperinr import HyperINR
    from hyperinr_renderer.scene import Scene
    from hyperinr_renderer.shadows import check_shadow_model

    shadow_model = HyperINR.load(args.shadow_model, device=device)
    check_shadow_model(shadow_model, args.shadow_model)
    stored = shadow_model.cfg.metadata.get("tf_fingerprint")
    if stored and stored != tf.fingerprint():
        print(f"warning: {args.shadow_model} was made for another transfer function", file=sys.stderr)
    # no scene model: --param gives the shadow model's other parameters (else their midpoints)
    params = {n: v for n, v in given.items() if n in shadow_model.cfg.param_names}
    scene = Scene.at(shadow_model, params, shadow_model=shadow_model, light=light)
    return scene.shadow_field(fast=True if args.compile else None)


def _render_gl(args, field, shadow_inr, tf, camera, light, mode: str, size: tuple[int, int], background):
    """A dataset frame with the GL shaders: the frame's grid as it is, shadows decoded from the shadow model
    or computed through that grid; (H, W, 3) uint8."""
    import numpy as np
    import torch

    from hyperinr_app.export_progress import TerminalProgress
    from hyperinr_renderer.decode import Decoder, DecoderConfig
    from hyperinr_renderer.fields import GridField
    from hyperinr_renderer.gl.offscreen import OffscreenRenderer
    from hyperinr_renderer.gl.tracer import TraceSettings
    from hyperinr_renderer.shadows import shadow_volume

    decoder = Decoder(DecoderConfig(compile=False))
    with torch.no_grad():
        volume = field.grid.cpu().numpy()
        shadow = None
        if mode == "field":
            if shadow_inr is not None:
                shadow = decoder.decode_numpy(shadow_inr, args.shadow_resolution)
            else:
                grid = GridField(torch.from_numpy(np.asarray(volume, dtype=np.float32)))
                shadow = shadow_volume(grid, tf, light.direction(), args.shadow_resolution).numpy()
    gl = OffscreenRenderer(TraceSettings(step=args.step, background=tuple(background), seed=args.seed))
    try:
        gl.set_scene(tf=tf, light=light, shadow_mode=mode, volume=volume, shadow_volume=shadow)
        with TerminalProgress(1, args.spp, "render") as progress:
            img = gl.render(camera, size, args.spp, progress)
    finally:
        gl.close()
    return (np.clip(img, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)


def add_renderer_args(p: argparse.ArgumentParser) -> None:
    """--renderer and --volume-res (shared with ``hyperinr render``)."""
    p.add_argument("--renderer", choices=("gl", "torch"), default="gl",
                   help="gl: the explorer's shaders offscreen on the INR decoded into a texture (seconds a "
                   "frame; falls back to torch where no OpenGL context can be made); torch: the reference "
                   "path tracer on the INR itself (about an hour for 800x600 at 64 spp on a 2-core CPU)")
    p.add_argument("--volume-res", type=int, default=128, metavar="N",
                   help="with --renderer gl: the INR is decoded on an N^3 grid")
    add_backend_option(p)
    p.add_argument("--force", action="store_true",
                   help="replace an existing output (a file, or an animation's PNG folder); without it an existing "
                   "output is an error before any work")


def choose_renderer(name: str) -> str:
    """The renderer to use; the one-line note on stderr when ``gl`` falls back to ``torch``."""
    import sys

    from hyperinr_app.export import resolve_renderer

    renderer, note = resolve_renderer(name)
    if note:
        print(note, file=sys.stderr)
    return renderer
