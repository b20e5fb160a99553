"""``hyperinr data demo nvs``: make an NVS dataset of path-traced views of one volume.

View directions ``(theta, phi)`` (degrees; polar angle from +z and azimuth of the camera) are Poisson-disk
samples of a parameter square, default theta in [20, 160], phi in [0, 180] (reasons in
:mod:`renderer.views`); a seeded random half is marked for training. The volume is a dataset frame
(``--data F --frame K``) or a volume HyperINR at a parameter (``--model M --param t=V``).
"""

from __future__ import annotations

import argparse

from hyperinr_app.commands.render import add_source_args


def register(demo_sub: argparse._SubParsersAction) -> None:
    p = demo_sub.add_parser(
        "nvs",
        help="NVS dataset: path-traced images of a volume from many view directions",
        description=__doc__.splitlines()[0].replace("``", ""),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        "  hyperinr data demo nvs --data tgv.h5 --frame 80 -o tgv_views.h5\n"
        "  hyperinr data demo nvs --model tgv_model.hinr --param t=7.5 --views 50 --size 128 -o views.h5\n"
        "  hyperinr train --data tgv_views.h5 -o nvs_model.hinr",
    )
    add_source_args(p, required=True)
    p.set_defaults(frame=None)
    p.add_argument("--views", type=int, default=200, help="number of view directions (default 200)")
    p.add_argument("--size", default="256", metavar="N|WxH", help="image size (default 256 = 256x256)")
    p.add_argument("--spp", type=int, default=4, help="samples per pixel (default 4)")
    p.add_argument("--tf", default="viridis", metavar="PRESET|FILE.json", help="transfer function")
    p.add_argument("--theta", default="20,160", metavar="LO,HI", help="polar angle range, degrees")
    p.add_argument("--phi", default="0,180", metavar="LO,HI", help="azimuth range, degrees")
    p.add_argument("--light", default="45,45", metavar="AZ,POLAR", help="light direction, degrees")
    p.add_argument(
        "--shadow",
        choices=("field", "rays", "none"),
        default="field",
        help="global shadows: field (shadow volume, default), rays (exact, slow) or none",
    )
    p.add_argument("--step", type=float, default=1 / 128, help="ray-marching step (default 1/128)")
    p.add_argument("--distance", type=float, default=2.4, help="camera distance from the centre")
    p.add_argument(
        "--train-fraction", type=float, default=0.5, help="share of views for training (default 0.5)"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, help="CPU threads for torch (default: all cores, fewer when busy)")
    p.add_argument("--force", action="store_true", help="replace an existing output file")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("-o", "--out", required=True, metavar="F.h5")
    p.set_defaults(func=run)


def _range(text: str, what: str) -> tuple[float, float]:
    from hyperinr_app.commands.render import parse_floats

    lo, hi = parse_floats(text, 2, 2, what)
    return lo, hi


def run(args: argparse.Namespace) -> int:
    import os

    from hyperinr_app.commands.render import load_field, parse_floats, parse_size, resolve_device
    from hyperinr_app.params import parse_params
    from hyperinr_core.device import configure_threads
    from hyperinr_core.errors import HyperINRError
    from hyperinr_core.fileio import prepare_output
    from hyperinr_renderer import Light, TransferFunction
    from hyperinr_renderer.views import ViewConfig, write_view_dataset

    if os.path.exists(args.out) and not args.force:
        raise HyperINRError(f"{args.out}: output exists; choose another name or pass --force")
    prepare_output(args.out)
    parse_params(args.param)  # syntax and finite values, before any work
    if args.model and args.frame is not None:
        raise HyperINRError("--frame goes with --data; a model takes --param NAME=VALUE")
    if args.data and args.param:
        raise HyperINRError("--param goes with --model; a dataset takes --frame K")
    if args.frame is None:
        args.frame = 0
    width, height = parse_size(args.size if "x" in args.size.lower() else f"{args.size}x{args.size}")
    if not args.step > 0:
        raise HyperINRError(f"--step must be > 0, got {args.step}")
    configure_threads(args.threads)
    cfg = ViewConfig(
        n_views=args.views,
        width=width,
        height=height,
        spp=args.spp,
        theta_range=_range(args.theta, "--theta"),
        phi_range=_range(args.phi, "--phi"),
        train_fraction=args.train_fraction,
        distance=args.distance,
        step=args.step,
        shadow=args.shadow,
        seed=args.seed,
    )
    az, polar = parse_floats(args.light, 2, 2, "--light")
    light = Light(azimuth=az, polar=polar)
    tf = TransferFunction.load(args.tf)
    device = resolve_device(args.device)
    field = load_field(args, device)
    source = (
        f"{args.model} at {', '.join(args.param) or 'parameter midpoints'}"
        if args.model
        else f"{args.data}#{args.frame}"
    )
    params, train = write_view_dataset(
        args.out, field, tf, light, cfg, attrs={"source": source}, progress=not args.quiet
    )
    print(
        f"wrote {args.out}: {len(params)} views of {width}x{height} ({int(train.sum())} for training), "
        f"theta {cfg.theta_range[0]:g}..{cfg.theta_range[1]:g}, "
        f"phi {cfg.phi_range[0]:g}..{cfg.phi_range[1]:g}"
    )
    return 0
