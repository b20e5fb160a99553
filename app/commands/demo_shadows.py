"""``hyperinr data demo shadows``: make a DGS dataset of shadow volumes for one volume and transfer function.

Light directions are Poisson-disk samples (Bridson) in the equal-area parametrization of the sphere,
restricted to ``--azimuth-range`` x ``--polar-range``: the unit square (u, v) maps to azimuth
``a0 + u (a1 - a0)`` and ``cos polar = cos p0 + v (cos p1 - cos p0)``. Each frame is
:func:`renderer.shadows.shadow_volume` for one light, i.e. the transmittance toward the light at the grid
nodes, computed with the tracer's secondary-ray code. Parameters are ``azimuth``, ``polar`` in degrees (the
convention of :mod:`renderer.light`), bounded by the two ranges; the transfer function and its fingerprint
are stored as attributes, ready for ``hyperinr train``.

Which lights training may see (the ``/train`` mask):

- default: a seeded random ``--test-fraction`` (0.1) of the lights is held out;
- ``--train-lights K`` (sparse lights): K well-spread lights are chosen for training by farthest-point
  selection among the Poisson-disk lights (the lights nearest the corners of the range first), and all the
  others are held out. ``--lights`` then defaults to 3K (48 for K = 16). The held-out lights then lie mostly
  inside the convex hull of the training lights (typically 75-90 %; the share is printed and stored as the
  attribute ``held_out_inside_hull``), so scoring on them measures interpolation between sparse lights,
  not extrapolation.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from hyperinr_app.commands.render import add_source_args

if TYPE_CHECKING:
    import numpy as np


def register(demo_sub: argparse._SubParsersAction) -> None:
    p = demo_sub.add_parser(
        "shadows",
        help="DGS dataset: shadow volumes for light directions on the sphere",
        description=__doc__.splitlines()[0].replace("``", ""),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        "  hyperinr data demo shadows --model assets/demo_tgv.hinr --param t=6 --out shadows.h5\n"
        "  hyperinr data demo shadows --data plume.h5 --frame 60 --train-lights 16 \\\n"
        "      --azimuth-range 0,180 --polar-range 20,90 --out sparse_shadows.h5\n"
        "sparse lights (--train-lights K): K well-spread training lights, the other --lights (default 3K)\n"
        "of the same range held out, mostly inside the training lights' convex hull",
    )
    add_source_args(p)
    p.add_argument("--tf", default="viridis", metavar="PRESET|FILE.json", help="transfer function")
    p.add_argument(
        "--lights",
        type=int,
        default=None,
        help="number of light directions (default 64; 3x --train-lights with --train-lights)",
    )
    p.add_argument(
        "--train-lights",
        type=int,
        metavar="K",
        help="sparse lights: K well-spread lights for training, all others held out (e.g. 16)",
    )
    p.add_argument(
        "--resolution", type=int, default=64, help="shadow volume resolution per axis (default 64)"
    )
    p.add_argument("--step", type=float, default=None, help="secondary-ray step (default: the TF's ref_step)")
    p.add_argument(
        "--test-fraction",
        type=float,
        default=None,
        help="fraction of the lights held out of training at random (/train mask), default 0.1",
    )
    p.add_argument(
        "--scene-param",
        metavar="NAME",
        help="with --model: sample this model parameter (e.g. t) jointly with the light, so the shadow model "
        "covers the whole series; the dataset's parameters become (NAME, azimuth, polar)",
    )
    p.add_argument(
        "--polar-range",
        default="0,180",
        metavar="LO,HI",
        help="polar angles of the lights in degrees (default 0,180: the whole sphere)",
    )
    p.add_argument(
        "--azimuth-range",
        default="0,360",
        metavar="LO,HI",
        help="azimuths of the lights in degrees (default 0,360: all around)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-o", "--out", required=True, metavar="F.h5", help="dataset file to write")
    p.add_argument("--force", action="store_true", help="replace an existing output file")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def light_samples(
    n: int,
    seed: int = 0,
    polar_range: tuple[float, float] = (0.0, 180.0),
    scene_dims: int = 0,
    azimuth_range: tuple[float, float] = (0.0, 360.0),
) -> tuple[np.ndarray, np.ndarray]:
    """Poisson-disk light directions in the equal-area parametrization restricted to the ranges.

    Args:
        n: number of samples.
        polar_range, azimuth_range: (lo, hi) in degrees.
        scene_dims: leading scene parameters sampled jointly with the light (in [0, 1]).

    Returns:
        ``(params, uv)``: params (n, scene_dims + 2) are the scene parameters in [0, 1] then (azimuth, polar)
        in degrees; uv (n, scene_dims + 2) the same samples in the unit cube they were drawn in.
    """
    import numpy as np

    from hyperinr_core.model.positions import poisson_disk_positions

    uv = poisson_disk_positions(2 + scene_dims, count=n, seed=seed)
    c0, c1 = np.cos(np.radians(polar_range[0])), np.cos(np.radians(polar_range[1]))
    cos_polar = c0 + (c1 - c0) * uv[:, -1]
    azimuth = azimuth_range[0] + (azimuth_range[1] - azimuth_range[0]) * uv[:, -2]
    light = np.stack([azimuth, np.degrees(np.arccos(np.clip(cos_polar, -1, 1)))], axis=1)
    return np.concatenate([uv[:, :scene_dims], light], axis=1), uv


def train_mask(uv: np.ndarray, args: argparse.Namespace) -> np.ndarray:
    """(n,) bool training mask of the samples ``uv`` (n, D): sparse lights or a random hold-out."""
    import numpy as np

    from hyperinr_core.model.positions import farthest_point_subset

    n = len(uv)
    if args.train_lights is not None:
        train = np.zeros(n, dtype=bool)
        train[farthest_point_subset(uv, args.train_lights)] = True
        return train
    rng = np.random.default_rng(args.seed)
    train = np.ones(n, dtype=bool)
    train[rng.permutation(n)[: int(round(n * args.test_fraction))]] = False
    return train


def held_out_inside_hull(params: np.ndarray, train: np.ndarray, lo, hi) -> float:
    """Share of the held-out lights inside the convex hull of the training lights, in the normalized
    parameter space the models interpolate in (nan when the training lights span no volume)."""
    import numpy as np
    from scipy.spatial import QhullError

    from hyperinr_core.model.positions import inside_hull

    u = (params - np.asarray(lo)) / (np.asarray(hi) - np.asarray(lo))
    if train.all() or train.sum() <= u.shape[1]:
        return float("nan")
    try:
        return float(inside_hull(u[~train], u[train]).mean())
    except QhullError:
        return float("nan")


def _range(text: str, name: str, top: float) -> tuple[float, float]:
    from hyperinr_core.errors import HyperINRError

    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        lo = hi = float("nan")
    if not 0 <= lo < hi <= top:
        raise HyperINRError(f"{name} {text!r}: expected LO,HI with 0 <= LO < HI <= {top:g}")
    return lo, hi


def _check_counts(args: argparse.Namespace) -> None:
    """Fill in the defaults of --lights and --test-fraction and reject inconsistent counts."""
    from hyperinr_core.errors import HyperINRError

    if args.train_lights is not None:
        if args.test_fraction is not None:
            raise HyperINRError("give --train-lights (sparse lights) or --test-fraction (random), not both")
        if args.train_lights < 1:
            raise HyperINRError(f"--train-lights must be >= 1, got {args.train_lights}")
        if args.lights is None:
            args.lights = 3 * args.train_lights
        if args.lights <= args.train_lights:
            raise HyperINRError(
                f"--lights ({args.lights}) must exceed --train-lights ({args.train_lights}): "
                "the others are the held-out lights"
            )
    else:
        args.lights = 64 if args.lights is None else args.lights
        args.test_fraction = 0.1 if args.test_fraction is None else args.test_fraction
        if not 0.0 <= args.test_fraction < 1.0:
            raise HyperINRError("--test-fraction must be in [0, 1)")
    if args.lights < 2 or not 2 <= args.resolution <= 1024:
        raise HyperINRError("need --lights >= 2 and 2 <= --resolution <= 1024")


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from hyperinr_app.commands.render import load_field, resolve_device
    from hyperinr_app.params import parse_params
    from hyperinr_core.data.dataset_writer import write_dataset
    from hyperinr_core.errors import HyperINRError
    from hyperinr_core.fileio import prepare_output, refuse_existing
    from hyperinr_renderer import TransferFunction, light_direction
    from hyperinr_renderer.shadows import LIGHT_PARAM_NAMES, shadow_volume

    _check_counts(args)
    polar_range = _range(args.polar_range, "--polar-range", 180.0)
    azimuth_range = _range(args.azimuth_range, "--azimuth-range", 360.0)
    parse_params(args.param)  # syntax and finite values, before any work
    refuse_existing(args.out, args.force)
    prepare_output(args.out)
    device = resolve_device(args.device)
    tf = TransferFunction.load(args.tf)
    names = list(LIGHT_PARAM_NAMES)
    lo, hi = [azimuth_range[0], polar_range[0]], [azimuth_range[1], polar_range[1]]
    if args.scene_param:
        if not args.model:
            raise HyperINRError("--scene-param needs --model (a HyperINR to generate the scene from)")
        return _run_series(args, device, tf, (azimuth_range, polar_range), names, lo, hi)
    field = load_field(args, device)
    params, uv = light_samples(args.lights, args.seed, polar_range, azimuth_range=azimuth_range)
    n = len(params)
    train = train_mask(uv, args)

    def frames():
        for az, polar in tqdm(params, desc="shadow volumes", unit="light", disable=args.quiet):
            sv = shadow_volume(field, tf, light_direction(az, polar), args.resolution, step=args.step)
            yield sv.cpu().numpy()

    attrs = {**_attrs(args, tf, params, train, lo, hi, names), "source": args.model or f"{args.data}#{args.frame}"}
    write_dataset(args.out, "dgs", names, lo, hi, params, frames(), train_mask=train, attrs=attrs)
    print(
        f"wrote {args.out}: {n} shadow volumes of {args.resolution}^3 ({int(train.sum())} for training), "
        f"azimuth {lo[0]:g}..{hi[0]:g}, polar {lo[1]:g}..{hi[1]:g}{_hull_note(attrs)}"
    )
    return 0


def _attrs(args, tf, params, train, lo, hi, names) -> dict:
    import json

    attrs = {
        "transfer_function": json.dumps(tf.to_dict()),
        "tf_fingerprint": tf.fingerprint(),
        "light_convention": "unit vector toward the light: (sin p cos a, sin p sin a, cos p), degrees",
        "shadow_step": float(args.step or tf.ref_step),
        "source": args.model,
        "light_sampling": "Poisson disk in the equal-area parametrization of the azimuth x polar range",
        # the azimuth wraps around when its range is one full turn (LERP, IDW and flow blend across 0/360)
        "param_periodic": [
            int(n == "azimuth" and h - lo_ == 360.0) for n, lo_, h in zip(names, lo, hi, strict=True)
        ],
    }
    if args.train_lights is not None:
        attrs["train_selection"] = f"sparse: {args.train_lights} farthest-point lights, the others held out"
        attrs["held_out_inside_hull"] = held_out_inside_hull(params, train, lo, hi)
    else:
        attrs["train_selection"] = f"random: {args.test_fraction:g} of the lights held out (seed {args.seed})"
    return attrs


def _hull_note(attrs: dict) -> str:
    share = attrs.get("held_out_inside_hull")
    if share is None or share != share:  # absent or nan
        return ""
    return f"; {100 * share:.0f} % of the held-out lights inside the training lights' hull"


def _run_series(args, device, tf, ranges, names, lo, hi) -> int:
    """Shadow volumes over (scene parameter, light): each frame generates the scene INR at its parameter,
    decodes it to a grid at the shadow resolution and marches secondary rays through that grid."""
    import numpy as np
    from tqdm import tqdm

    from hyperinr_core.data.dataset_writer import write_dataset
    from hyperinr_core.errors import HyperINRError
    from hyperinr_core.model.hyperinr import HyperINR
    from hyperinr_renderer import light_direction
    from hyperinr_renderer.decode import Decoder
    from hyperinr_renderer.fields import GridField
    from hyperinr_renderer.scene import Scene
    from hyperinr_renderer.shadows import shadow_volume

    model = HyperINR.load(args.model, device=device)
    mnames = list(model.cfg.param_names)
    if args.scene_param not in mnames:
        raise HyperINRError(
            f"{args.model}: has no parameter {args.scene_param!r} (it has {', '.join(mnames)})"
        )
    j = mnames.index(args.scene_param)
    others = {n: (a + b) / 2 for n, a, b in zip(mnames, model.cfg.param_lo, model.cfg.param_hi, strict=True)}
    azimuth_range, polar_range = ranges
    u, uv = light_samples(args.lights, args.seed, polar_range, scene_dims=1, azimuth_range=azimuth_range)
    s_lo, s_hi = model.cfg.param_lo[j], model.cfg.param_hi[j]
    params = np.concatenate([s_lo + u[:, :1] * (s_hi - s_lo), u[:, 1:]], axis=1)
    n = len(params)
    train = train_mask(uv, args)
    decoder = Decoder(device=device)

    def frames():
        for s_val, az, polar in tqdm(params, desc="shadow volumes", unit="volume", disable=args.quiet):
            theta = [s_val if k == j else others[name] for k, name in enumerate(mnames)]
            grid = Scene(model, theta, decoder=decoder).volume(args.resolution).float()
            light = light_direction(az, polar)
            sv = shadow_volume(GridField(grid), tf, light, args.resolution, step=args.step)
            yield sv.cpu().numpy()

    lo, hi = [s_lo, *lo], [s_hi, *hi]
    attrs = _attrs(args, tf, params, train, lo, hi, [args.scene_param, *names])
    write_dataset(
        args.out, "dgs", [args.scene_param, *names], lo, hi, params, frames(), train_mask=train, attrs=attrs
    )
    print(
        f"wrote {args.out}: {n} shadow volumes of {args.resolution}^3 over ({args.scene_param}, light) "
        f"({int(train.sum())} for training){_hull_note(attrs)}"
    )
    return 0
