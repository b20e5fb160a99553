"""``hyperinr data demo plume``: a TSR dataset of a rising smoke plume (:mod:`hyperinr_core.data.plume`).

Smoke density from the project's own incompressible solver: a buoyant puff and jet rise from a source on
the floor of a closed box, curl into a cap, hit the lid and spread. Features move several voxels between
training frames, so linear interpolation of the training frames (LERP) cross-fades where the data moves.
Frames are at evenly spaced times ``t`` in [0, t_end]; every ``--train-stride``-th frame (0, K, 2K, ...)
is marked for training, as in ``data demo tgv``.
"""

from __future__ import annotations

import argparse


def register(demo_sub: argparse._SubParsersAction) -> None:
    p = demo_sub.add_parser(
        "plume",
        help="TSR dataset: smoke density of a rising, curling plume over time",
        description=(
            "Simulate a buoyant smoke plume (incompressible flow in a closed box, hyperinr_core.data.plume)\n"
            "and store its density at evenly spaced times; every --train-stride-th frame is for training.\n"
            "The smoke rises, curls into a cap, hits the lid and spreads, moving several voxels between\n"
            "training frames: where linear interpolation of frames cross-fades."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        "  hyperinr data demo plume -o plume.h5\n"
        "  hyperinr data demo plume --resolution 32 --frames 50 --seed 3 -o small_plume.h5\n"
        "  hyperinr train --data plume.h5 -o plume_model.hinr",
    )
    p.add_argument(
        "-o", "--out", default="plume.h5", metavar="F.h5", help="output dataset (default plume.h5)"
    )
    p.add_argument("--resolution", type=int, default=64, help="cells per axis (>= 8; default 64)")
    p.add_argument("--frames", type=int, default=100, help="number of frames (default 100)")
    p.add_argument("--t-end", type=float, default=None, help="time of the last frame (default 6)")
    p.add_argument(
        "--train-stride", type=int, default=5, help="every K-th frame is a training frame (default 5)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the flow's perturbations (default 0)")
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    p.add_argument("--threads", type=int, help="CPU threads for torch (default: all cores, fewer when busy)")
    p.add_argument("--force", action="store_true", help="replace an existing output file")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import os
    from dataclasses import asdict

    import numpy as np

    from hyperinr_app.commands.data import print_info
    from hyperinr_app.commands.render import resolve_device
    from hyperinr_core.data.dataset_writer import write_dataset
    from hyperinr_core.data.plume import PlumeConfig, simulate_plume
    from hyperinr_core.device import configure_threads
    from hyperinr_core.errors import HyperINRError
    from hyperinr_core.fileio import prepare_output

    if os.path.exists(args.out) and not args.force:
        raise HyperINRError(f"{args.out}: output exists; choose another name or pass --force")
    prepare_output(args.out)
    if args.resolution < 8:
        raise HyperINRError(f"--resolution must be >= 8, got {args.resolution}")
    if args.frames < 2:
        raise HyperINRError(f"--frames must be >= 2, got {args.frames}")
    if args.train_stride < 1:
        raise HyperINRError(f"--train-stride must be >= 1, got {args.train_stride}")
    if args.t_end is not None and not args.t_end > 0:
        raise HyperINRError(f"--t-end must be > 0, got {args.t_end}")
    device = resolve_device(args.device)
    configure_threads(args.threads)
    cfg = PlumeConfig(resolution=args.resolution, n_frames=args.frames, seed=args.seed, device=str(device))
    if args.t_end is not None:
        cfg.t_end = args.t_end
    times = np.linspace(0.0, cfg.t_end, cfg.n_frames)
    solver_settings = {k: v for k, v in asdict(cfg).items() if k not in ("device", "n_frames", "resolution")}
    attrs = {
        "source": "buoyant smoke plume, incompressible MAC-grid solver (hyperinr_core.data.plume)",
        "quantity": "smoke density",
        "domain": "closed box [0, 1]^3, free-slip walls, z up; cell centres (j + 0.5) / N; axes (z, y, x)",
        "resolution": int(cfg.resolution),
        "seed": int(cfg.seed),
        "solver": "velocity semi-Lagrangian (RK2), density flux-form (MC limiter, conservative), buoyancy, "
        "vorticity confinement, exact DCT projection",
        **{f"plume_{k}": v for k, v in solver_settings.items()},
    }
    frames = (f for _, f in simulate_plume(cfg, progress=not args.quiet))
    write_dataset(
        args.out,
        "tsr",
        ["t"],
        [0.0],
        [cfg.t_end],
        times,
        frames,
        train_mask=np.arange(cfg.n_frames) % args.train_stride == 0,
        attrs=attrs,
    )
    print(f"wrote {args.out}")
    print_info(args.out)
    return 0
