"""``hyperinr data demo shadows``: make a DGS dataset of shadow volumes for one volume and transfer function.

Light directions are Poisson-disk samples on the sphere (Bridson, in the equal-area square
(azimuth / 360, (1 - cos polar) / 2)); each frame is :func:`renderer.shadows.shadow_volume` for one light,
i.e. the transmittance toward the light at the grid nodes, computed with the tracer's secondary-ray code.
Parameters are ``azimuth``, ``polar`` in degrees (the convention of :mod:`renderer.light`); the transfer
function and its fingerprint are stored as attributes, ready for ``hyperinr train``.
"""

from __future__ import annotations

import argparse

from app.commands.render import add_source_args


def register(demo_sub: argparse._SubParsersAction) -> None:
    p = demo_sub.add_parser(
        "shadows",
        help="DGS dataset: shadow volumes for light directions on the sphere",
        description=__doc__.splitlines()[0],
    )
    add_source_args(p)
    p.add_argument("--tf", default="viridis", metavar="PRESET|FILE.json", help="transfer function")
    p.add_argument("--lights", type=int, default=64, help="number of light directions (default 64)")
    p.add_argument(
        "--resolution", type=int, default=64, help="shadow volume resolution per axis (default 64)"
    )
    p.add_argument("--step", type=float, default=None, help="secondary-ray step (default: the TF's ref_step)")
    p.add_argument(
        "--test-fraction",
        type=float,
        default=0.1,
        help="fraction of the lights held out of training (/train mask), default 0.1",
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
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, metavar="F.h5")
    p.set_defaults(func=run)


def light_samples(n: int, seed: int = 0, polar_range=(0.0, 180.0), scene_dims: int = 0):
    """(n, scene_dims + 2): scene parameters in [0, 1] then (azimuth, polar) in degrees, Poisson-disk in the
    equal-area parametrization of the sphere (restricted to ``polar_range``)."""
    import numpy as np

    from hyperinr_core.positions import poisson_disk_positions

    uv = poisson_disk_positions(2 + scene_dims, count=n, seed=seed)
    c0, c1 = np.cos(np.radians(polar_range[0])), np.cos(np.radians(polar_range[1]))
    cos_polar = c0 + (c1 - c0) * uv[:, -1]
    light = np.stack([uv[:, -2] * 360.0, np.degrees(np.arccos(np.clip(cos_polar, -1, 1)))], axis=1)
    return np.concatenate([uv[:, :scene_dims], light], axis=1)


def run(args: argparse.Namespace) -> int:

    import numpy as np
    from tqdm import tqdm

    from app.commands.render import load_field, resolve_device
    from hyperinr_core.data import write_dataset
    from hyperinr_core.errors import HyperINRError
    from renderer import TransferFunction, light_direction
    from renderer.shadows import LIGHT_PARAM_HI, LIGHT_PARAM_LO, LIGHT_PARAM_NAMES, shadow_volume

    if args.lights < 2 or not 2 <= args.resolution <= 1024:
        raise HyperINRError("need --lights >= 2 and 2 <= --resolution <= 1024")
    if not 0.0 <= args.test_fraction < 1.0:
        raise HyperINRError("--test-fraction must be in [0, 1)")
    device = resolve_device(args.device)
    tf = TransferFunction.load(args.tf)
    try:
        polar_range = tuple(float(v) for v in args.polar_range.split(","))
        assert len(polar_range) == 2 and 0 <= polar_range[0] < polar_range[1] <= 180
    except (ValueError, AssertionError):
        raise HyperINRError(
            f"--polar-range {args.polar_range!r}: expected LO,HI with 0 <= LO < HI <= 180"
        ) from None
    names, lo, hi = list(LIGHT_PARAM_NAMES), list(LIGHT_PARAM_LO), list(LIGHT_PARAM_HI)
    lo[1], hi[1] = polar_range
    if args.scene_param:
        if not args.model:
            raise HyperINRError("--scene-param needs --model (a HyperINR to generate the scene from)")
        return _run_series(args, device, tf, polar_range, names, lo, hi)
    field = load_field(args, device)
    params = light_samples(args.lights, args.seed, polar_range)
    n = len(params)
    rng = np.random.default_rng(args.seed)
    train = np.ones(n, dtype=bool)
    train[rng.permutation(n)[: int(round(n * args.test_fraction))]] = False

    def frames():
        for az, polar in tqdm(params, desc="shadow volumes", unit="light"):
            sv = shadow_volume(field, tf, light_direction(az, polar), args.resolution, step=args.step)
            yield sv.cpu().numpy()

    attrs = {**_attrs(args, tf), "source": args.model or f"{args.data}#{args.frame}"}
    write_dataset(
        args.out,
        "dgs",
        names,
        lo,
        hi,
        params,
        frames(),
        train_mask=train,
        attrs=attrs,
    )
    print(f"wrote {args.out}: {n} shadow volumes of {args.resolution}^3 ({int(train.sum())} for training)")
    return 0


def _attrs(args, tf) -> dict:
    import json

    return {
        "transfer_function": json.dumps(tf.to_dict()),
        "tf_fingerprint": tf.fingerprint(),
        "light_convention": "unit vector toward the light: (sin p cos a, sin p sin a, cos p), degrees",
        "shadow_step": float(args.step or tf.ref_step),
        "source": args.model,
    }


def _run_series(args, device, tf, polar_range, names, lo, hi) -> int:
    """Shadow volumes over (scene parameter, light): each frame generates the scene INR at its parameter,
    decodes it to a grid at the shadow resolution and marches secondary rays through that grid."""
    import numpy as np
    from tqdm import tqdm

    from hyperinr_core.data import write_dataset
    from hyperinr_core.errors import HyperINRError
    from hyperinr_core.hyperinr import HyperINR
    from renderer import light_direction
    from renderer.decode import Decoder
    from renderer.fields import GridField
    from renderer.shadows import shadow_volume

    model = HyperINR.load(args.model, device=device)
    mnames = list(model.cfg.param_names)
    if args.scene_param not in mnames:
        raise HyperINRError(
            f"{args.model}: has no parameter {args.scene_param!r} (it has {', '.join(mnames)})"
        )
    j = mnames.index(args.scene_param)
    others = {n: (a + b) / 2 for n, a, b in zip(mnames, model.cfg.param_lo, model.cfg.param_hi, strict=True)}
    u = light_samples(args.lights, args.seed, polar_range, scene_dims=1)
    s_lo, s_hi = model.cfg.param_lo[j], model.cfg.param_hi[j]
    params = np.concatenate([s_lo + u[:, :1] * (s_hi - s_lo), u[:, 1:]], axis=1)
    n = len(params)
    rng = np.random.default_rng(args.seed)
    train = np.ones(n, dtype=bool)
    train[rng.permutation(n)[: int(round(n * args.test_fraction))]] = False
    decoder = Decoder(device=device)

    def frames():
        for s_val, az, polar in tqdm(params, desc="shadow volumes", unit="volume"):
            theta = [s_val if k == j else others[name] for k, name in enumerate(mnames)]
            grid = decoder.decode(model.generate(theta), args.resolution).float()
            light = light_direction(az, polar)
            sv = shadow_volume(GridField(grid), tf, light, args.resolution, step=args.step)
            yield sv.cpu().numpy()

    write_dataset(
        args.out,
        "dgs",
        [args.scene_param, *names],
        [s_lo, *lo],
        [s_hi, *hi],
        params,
        frames(),
        train_mask=train,
        attrs=_attrs(args, tf),
    )
    print(
        f"wrote {args.out}: {n} shadow volumes of {args.resolution}^3 over ({args.scene_param}, light) "
        f"({int(train.sum())} for training)"
    )
    return 0
