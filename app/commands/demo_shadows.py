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
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, metavar="F.h5")
    p.set_defaults(func=run)


def light_samples(n: int, seed: int = 0):
    """(n, 2) (azimuth, polar) in degrees, Poisson-disk on the sphere (equal-area parametrization)."""
    import numpy as np

    from hyperinr_core.positions import poisson_disk_positions

    uv = poisson_disk_positions(2, count=n, seed=seed)
    return np.stack([uv[:, 0] * 360.0, np.degrees(np.arccos(np.clip(1 - 2 * uv[:, 1], -1, 1)))], axis=1)


def run(args: argparse.Namespace) -> int:
    import json

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
    field = load_field(args, device)
    params = light_samples(args.lights, args.seed)
    n = len(params)
    rng = np.random.default_rng(args.seed)
    train = np.ones(n, dtype=bool)
    train[rng.permutation(n)[: int(round(n * args.test_fraction))]] = False

    def frames():
        for az, polar in tqdm(params, desc="shadow volumes", unit="light"):
            sv = shadow_volume(field, tf, light_direction(az, polar), args.resolution, step=args.step)
            yield sv.cpu().numpy()

    attrs = {
        "transfer_function": json.dumps(tf.to_dict()),
        "tf_fingerprint": tf.fingerprint(),
        "light_convention": "unit vector toward the light: (sin p cos a, sin p sin a, cos p), degrees",
        "shadow_step": float(args.step or tf.ref_step),
        "source": args.model or f"{args.data}#{args.frame}",
    }
    write_dataset(
        args.out,
        "dgs",
        LIGHT_PARAM_NAMES,
        LIGHT_PARAM_LO,
        LIGHT_PARAM_HI,
        params,
        frames(),
        train_mask=train,
        attrs=attrs,
    )
    print(f"wrote {args.out}: {n} shadow volumes of {args.resolution}^3 ({int(train.sum())} for training)")
    return 0
