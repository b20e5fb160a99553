"""``hyperinr export-frame`` (also called ``render``) / ``hyperinr export-animation``: the explorer's exports,
headless. One frame of a dataset's volume (``--data``) is rendered by :mod:`app.commands.render`."""

from __future__ import annotations

import argparse
import sys

from hyperinr_app.commands import DefaultsHelpFormatter
from hyperinr_app.commands.render import add_renderer_args, choose_renderer


def _scene_args(p: argparse.ArgumentParser, frame: bool = False) -> None:
    src = p.add_mutually_exclusive_group()
    src.add_argument("--model", help="HyperINR model file")
    src.add_argument("--bundle", help="bundle manifest (model + shadow model + TF); instead of --model")
    if frame:
        src.add_argument("--data", metavar="D.h5", help="dataset file: render one of its volumes (--frame)")
        p.add_argument("--frame", type=int, default=0, help="with --data: the frame index")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="model parameter in user units, within the model's range (repeatable); missing ones "
                   "take their midpoint")
    p.add_argument("--tf", help="transfer function preset or JSON (default: the bundle's, else viridis)")
    p.add_argument("--camera", default="30,20", metavar="AZ,EL[,DIST]",
                   help="orbit camera: azimuth, elevation in degrees (and distance; by default the one that "
                   "shows the whole volume, 2.8)")
    p.add_argument("--light", default="45,45", metavar="AZ,POLAR", help="light direction, degrees")
    p.add_argument("--shadow", choices=("none", "rays", "field"), default=None,
                   help="shadows: none, secondary rays, or the shadow model (field); default: field when there "
                   "is a shadow model made for the transfer function (as the explorer opens a bundle), else none")
    p.add_argument("--shadow-model", help="shadow HyperINR (default: the bundle's)")
    p.add_argument("--size", default="800x600", metavar="WxH", help="image size in pixels")
    p.add_argument("--spp", type=int, default=64, help="samples per pixel")
    p.add_argument("--fov", type=float, default=35.0, help="vertical field of view, degrees")
    p.add_argument("--intensity", type=float, default=1.0, help="the light's intensity")
    p.add_argument("--ambient", type=float, default=0.25, help="ambient light")
    p.add_argument("--step", type=float, default=1 / 256, help="ray-marching step in unit-cube lengths")
    p.add_argument("--background", default="0.08,0.08,0.1", metavar="R,G,B", help="background colour")
    p.add_argument("--seed", type=int, default=0, help="the tracer's random seed")
    p.add_argument("--shadow-resolution", type=int, default=64, metavar="N",
                   help="shadow texture (gl), and the shadow volume computed for --shadow field without a "
                   "shadow model: N^3")
    add_renderer_args(p)
    p.add_argument("--no-macro-cells", action="store_true", help="torch: do not skip empty space")
    p.add_argument("--device", default="auto", help="torch device: auto (cuda if available), cpu, cuda, ...")
    p.add_argument("--compile", action="store_true",
                   help="torch: evaluate INRs through torch.compile on CPU too (slow first frame)")


_FRAME_DESCRIPTION = """\
Path-trace one frame of a model (or a bundle, or a dataset's volume), as the explorer's File > Export frame
does, and write it as a PNG: with the explorer's GL shaders offscreen (default; headless through EGL) or the
torch path tracer on the INR itself (--renderer torch). `hyperinr render` is another name for this command.
Missing folders of --out are created; the file appears only once complete."""

_ANIMATION_DESCRIPTION = """\
Path-trace a sweep of a model parameter (param:NAME), the light (azimuth, polar) or the camera (orbit), as
the explorer's File > Export animation does, and write an MP4 (--out ending in .mp4, through
imageio-ffmpeg) or a folder of PNGs (any other name). Frames stream: the next one is decoded while this one
renders and the encoder writes alongside. Missing folders of --out are created; the output appears only
once complete."""


def register(sub: argparse._SubParsersAction) -> None:
    f = sub.add_parser("export-frame", aliases=["render"],
                       help="path-trace one frame of a model (or a dataset's volume) to a PNG (also: render)",
                       description=_FRAME_DESCRIPTION, formatter_class=DefaultsHelpFormatter)
    _scene_args(f, frame=True)
    f.add_argument("--out", required=True, metavar="F.png", help="PNG to write")
    f.set_defaults(func=run_frame)
    a = sub.add_parser("export-animation", help="path-trace a parameter/light/orbit sweep to MP4 or PNGs",
                       description=_ANIMATION_DESCRIPTION,
                       formatter_class=DefaultsHelpFormatter)
    _scene_args(a)
    a.add_argument("--out", required=True, metavar="OUT.mp4|FOLDER", help="MP4 file or a new PNG folder")
    a.add_argument(
        "--sweep", required=True, metavar="KIND[:NAME]", help="param:NAME, azimuth, polar or orbit"
    )
    a.add_argument("--range", required=True, metavar="FROM,TO", help="sweep values (user units / degrees)")
    a.add_argument("--frames", type=int, default=48, help="number of frames")
    a.add_argument("--fps", type=float, default=12.0, help="frames per second of the MP4")
    a.set_defaults(func=run_animation)


def _floats(text: str, n: tuple[int, ...], what: str) -> list[float]:
    from hyperinr_core.errors import HyperINRError

    try:
        vals = [float(v) for v in text.split(",")]
    except ValueError:
        vals = []
    if len(vals) not in n:
        raise HyperINRError(f"{what} {text!r}: expected {' or '.join(map(str, n))} comma-separated numbers")
    return vals


def build_scene(args: argparse.Namespace, swept: str = ""):
    """The scene the arguments describe (``swept``: a parameter an animation sweeps, not a midpoint)."""
    from hyperinr_app.bundle import load_bundle
    from hyperinr_app.commands.render import theta_for
    from hyperinr_app.export import ExportScene
    from hyperinr_core.errors import HyperINRError
    from hyperinr_core.model.hyperinr import HyperINR
    from hyperinr_renderer import Camera, Light, TransferFunction

    model_path, shadow_path, tf = args.model, args.shadow_model, None
    if args.bundle:
        b = load_bundle(args.bundle)
        model_path, shadow_path = b.model, shadow_path or b.shadow_model
        tf = TransferFunction.from_json(b.transfer_function) if b.transfer_function else None
    if not model_path:
        raise HyperINRError("give --model or --bundle" + (" (or --data)" if hasattr(args, "data") else ""))
    if args.tf:
        tf = TransferFunction.load(args.tf)
    tf = tf or TransferFunction.preset("viridis")
    device = None
    if getattr(args, "device", None) is not None:
        from hyperinr_app.commands.render import resolve_device

        device = resolve_device(args.device)
    model = HyperINR.load(model_path, device=device)
    mode = args.shadow or ("field" if shadow_path else "none")
    shadow = HyperINR.load(shadow_path, device=device) if (shadow_path and mode == "field") else None
    if shadow is not None:
        from hyperinr_renderer.shadows import check_shadow_model

        check_shadow_model(shadow, shadow_path)
        made_for = shadow.cfg.metadata.get("tf_fingerprint")
        if args.shadow is None and made_for and made_for != tf.fingerprint():
            import sys

            print(f"shadows: none ({shadow_path} was made for another transfer function; --shadow rays or "
                  "--shadow field to choose)", file=sys.stderr)
            mode, shadow = "none", None
    cam = _floats(args.camera, (2, 3), "--camera")
    from hyperinr_app.params import parse_light

    az, polar = parse_light(args.light)

    def opt(name: str, default):  # the look's options (a caller's own Namespace may leave them out)
        return getattr(args, name, default)

    try:
        distance = cam[2] if len(cam) > 2 else Camera().distance
        camera = Camera(azimuth=cam[0], elevation=cam[1], distance=distance, fov=opt("fov", 35.0))
    except ValueError as exc:
        raise HyperINRError(f"--camera/--fov: {exc}") from None
    return ExportScene(
        model=model,
        theta=theta_for(model, args.param, str(model_path), quiet=(swept,)),
        shadow_model=shadow,
        light=Light(azimuth=az, polar=polar, intensity=opt("intensity", 1.0), ambient=opt("ambient", 0.25)),
        tf=tf,
        camera=camera,
        shadow_mode=mode,
        background=tuple(_floats(opt("background", "0.08,0.08,0.1"), (3,), "--background")),
        step=opt("step", 1 / 256),
        seed=opt("seed", 0),
        shadow_resolution=opt("shadow_resolution", 64),
        macro_cells=not opt("no_macro_cells", False),
        fast=True if opt("compile", False) else None,
    )


def _size(text: str) -> tuple[int, int]:
    from hyperinr_app.commands.render import parse_size

    return parse_size(text)


def _check_inputs(args: argparse.Namespace) -> tuple[int, int]:
    """What needs no model: parameters' syntax, size and samples (before any file is read, and before torch
    loads: an error in the arguments answers at once)."""
    from hyperinr_app.params import parse_light, parse_params
    from hyperinr_core.errors import HyperINRError

    parse_params(args.param)
    _floats(args.camera, (2, 3), "--camera")
    _floats(args.background, (3,), "--background")
    parse_light(args.light)
    if args.spp < 1:
        raise HyperINRError(f"--spp must be >= 1, got {args.spp}")
    checks = (("--step", args.step, 0 < args.step <= 0.5), ("--fov", args.fov, 0 < args.fov < 180),
              ("--shadow-resolution", args.shadow_resolution, 2 <= args.shadow_resolution <= 1024))
    for name, value, ok in checks:
        if not ok:
            raise HyperINRError(f"{name} {value} is outside its range")
    size = _size(args.size)
    from hyperinr_app.export import check_renderer_options  # loads the scene, and torch with it

    check_renderer_options(args.renderer, args.volume_res)
    return size


def run_frame(args: argparse.Namespace) -> int:
    from hyperinr_core.fileio import prepare_output, refuse_existing

    if args.data:  # a dataset's volume: no model, no scene
        from hyperinr_app.commands.render import run_dataset_frame

        return run_dataset_frame(args)
    size = _check_inputs(args)
    refuse_existing(args.out, args.force)
    prepare_output(args.out)
    scene = build_scene(args)
    renderer = choose_renderer(args.renderer)
    from hyperinr_app.export import export_frame
    from hyperinr_app.export_progress import TerminalProgress

    empty = EmptyFrames(scene.background)
    with TerminalProgress(1, args.spp, "export frame") as progress:
        export_frame(scene, args.out, size, args.spp, progress, renderer=renderer, volume_res=args.volume_res,
                     inspect=empty)
    print(f"wrote {args.out} ({size[0]}x{size[1]}, {args.spp} spp, shadow {scene.shadow_mode}, {renderer})")
    empty.warn("the frame")
    return 0


class EmptyFrames:
    """Collects the exported frames that show next to nothing, and warns once about them (a transfer
    function transparent over a frame's values exports a black image without saying so)."""

    def __init__(self, background):
        self.background, self.frames = background, []

    def __call__(self, k: int, image) -> None:
        from hyperinr_app.export import nearly_empty

        if nearly_empty(image, self.background):
            self.frames.append(k)

    def warn(self, what: str, values=None, label: str = "") -> None:
        if not self.frames:
            return
        where = ""
        if values is not None:
            k = sorted(self.frames)[0]
            where = f" (first: frame {k}{f', {label} = {values[k]:g}' if label else ''})"
        print(f"warning: {what} {'is' if values is None else 'are'} nearly empty{where}: the transfer function "
              "is transparent over the values shown; give --tf a curve over them (the explorer's Fit to "
              "volume shows where they lie)", file=sys.stderr)


def run_animation(args: argparse.Namespace) -> int:
    from hyperinr_core.fileio import refuse_existing

    start, stop = _floats(args.range, (2,), "--range")
    size = _check_inputs(args)
    from hyperinr_app.export import Sweep, check_animation_output, export_animation

    kind, _, name = args.sweep.partition(":")
    sweep = Sweep(kind, start, stop, args.frames, name)
    sweep.values()  # validates the frame count
    refuse_existing(args.out, args.force)
    check_animation_output(args.out, size, replace=args.force)
    scene = build_scene(args, swept=name if kind == "param" else "")
    for value in (start, stop):  # the sweep must stay within the model's parameters and ranges
        sweep.apply(scene, value)
    renderer = choose_renderer(args.renderer)
    from hyperinr_app.export_progress import TerminalProgress

    empty = EmptyFrames(scene.background)
    with TerminalProgress(args.frames, args.spp, "export animation") as progress:
        export_animation(scene, sweep, args.out, size, args.spp, args.fps, progress, renderer=renderer,
                         volume_res=args.volume_res, costs=progress.set_frame_costs, replace=args.force,
                         inspect=empty)
    print(f"wrote {args.out} ({args.frames} frames, {size[0]}x{size[1]}, {args.spp} spp, shadow "
          f"{scene.shadow_mode}, {renderer})")
    empty.warn(f"{len(empty.frames)} of {args.frames} frames", sweep.values(), name or kind)
    return 0
