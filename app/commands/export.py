"""``hyperinr export-frame`` / ``hyperinr export-animation``: the explorer's exports, headless."""

from __future__ import annotations

import argparse
import sys

from hyperinr_app.commands import DefaultsHelpFormatter
from hyperinr_app.commands.render import add_renderer_args, choose_renderer


def _scene_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", help="HyperINR model file")
    p.add_argument("--bundle", help="bundle manifest (model + shadow model + TF); instead of --model")
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
    add_renderer_args(p)


_FRAME_DESCRIPTION = """\
Path-trace one frame of a model (or a bundle), as the explorer's File > Export frame does, and write it as a
PNG: with the explorer's GL shaders offscreen (default; headless through EGL) or the torch path tracer on the
INR itself (--renderer torch). Missing folders of --out are created; the file appears only once complete."""

_ANIMATION_DESCRIPTION = """\
Path-trace a sweep of a model parameter (param:NAME), the light (azimuth, polar) or the camera (orbit), as
the explorer's File > Export animation does, and write an MP4 (--out ending in .mp4, through
imageio-ffmpeg) or a folder of PNGs (any other name). Frames stream: the next one is decoded while this one
renders and the encoder writes alongside. Missing folders of --out are created; the output appears only
once complete."""


def register(sub: argparse._SubParsersAction) -> None:
    f = sub.add_parser("export-frame", help="path-trace one frame of a model to a PNG",
                       description=_FRAME_DESCRIPTION, formatter_class=DefaultsHelpFormatter)
    _scene_args(f)
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
        raise HyperINRError("give --model or --bundle")
    if args.tf:
        tf = TransferFunction.load(args.tf)
    tf = tf or TransferFunction.preset("viridis")
    model = HyperINR.load(model_path)
    mode = args.shadow or ("field" if shadow_path else "none")
    shadow = HyperINR.load(shadow_path) if (shadow_path and mode == "field") else None
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
    return ExportScene(
        model=model,
        theta=theta_for(model, args.param, str(model_path), quiet=(swept,)),
        shadow_model=shadow,
        light=Light(azimuth=az, polar=polar),
        tf=tf,
        camera=Camera(azimuth=cam[0], elevation=cam[1], distance=cam[2] if len(cam) > 2 else Camera().distance),
        shadow_mode=mode,
    )


def _size(text: str) -> tuple[int, int]:
    from hyperinr_app.commands.render import parse_size

    return parse_size(text)


def _check_inputs(args: argparse.Namespace) -> tuple[int, int]:
    """What needs no model: parameters' syntax, size and samples (before any file is read)."""
    from hyperinr_app.export import check_renderer_options
    from hyperinr_app.params import parse_light, parse_params
    from hyperinr_core.errors import HyperINRError

    parse_params(args.param)
    check_renderer_options(args.renderer, args.volume_res)
    _floats(args.camera, (2, 3), "--camera")
    parse_light(args.light)
    if args.spp < 1:
        raise HyperINRError(f"--spp must be >= 1, got {args.spp}")
    return _size(args.size)


def run_frame(args: argparse.Namespace) -> int:
    from hyperinr_app.export import export_frame
    from hyperinr_core.fileio import prepare_output, refuse_existing

    size = _check_inputs(args)
    refuse_existing(args.out, args.force)
    prepare_output(args.out)
    scene = build_scene(args)
    renderer = choose_renderer(args.renderer)
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
    from hyperinr_app.export import Sweep, check_animation_output, export_animation
    from hyperinr_core.fileio import refuse_existing

    size = _check_inputs(args)
    kind, _, name = args.sweep.partition(":")
    start, stop = _floats(args.range, (2,), "--range")
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
