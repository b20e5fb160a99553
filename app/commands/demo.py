"""``hyperinr demo build``: rebuild the bundled demo (assets/demo.json) from scratch.

Steps, each reusing its output when it already exists in the work folder (so an interrupted build resumes):
1. the Taylor–Green vortex vorticity series (``hyperinr data demo tgv``: 64^3, 100 frames, every 5th for
   training);
2. the scalar HyperINR over the timestep, distilled from its CoordNet teacher
   (``hyperinr train --preset demo``);
3. a DGS dataset of shadow volumes over (timestep, light azimuth, light polar), Poisson-disk in that 3-D
   space, computed with secondary rays through the generated volumes and the demo transfer function
   (``hyperinr data demo shadows --scene-param t``);
4. the shadow HyperINR over those three parameters (KD-tree + IDW, Poisson-disk encoder positions), trained
   directly on the shadow volumes (``hyperinr train --direct --preset demo-shadow``);
5. the bundle: both models with float16 encoders, the transfer function and a manifest, written atomically.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

#: The demo's transfer function: ember colours, opacity ramping in over the vortex tubes.
DEMO_TF = {
    "format": "hyperinr-transfer-function",
    "version": 1,
    "colormap": "ember",
    "opacity": [[0.0, 0.0], [0.12, 0.0], [0.3, 0.04], [1.0, 0.35]],
    "density": 1.0,
    "ref_step": 1.0 / 256.0,
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="the bundled demo: rebuild it", description=__doc__.splitlines()[0])
    dsub = p.add_subparsers(dest="demo_command", metavar="SUBCOMMAND", required=True)
    b = dsub.add_parser(
        "build",
        help="rebuild the demo bundle (TGV data, HyperINR, shadow HyperINR, TF)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    b.add_argument("--out-dir", default=None, help="where the bundle goes (default: the package's assets/)")
    b.add_argument("--work", default="build/demo", help="work folder for data and checkpoints")
    b.add_argument("--minutes", type=float, default=24.0, help="budget of the scalar HyperINR pipeline")
    b.add_argument("--shadow-minutes", type=float, default=8.0, help="budget of the shadow HyperINR")
    b.add_argument("--shadow-volumes", type=int, default=200, help="shadow volumes over (t, light)")
    b.add_argument("--shadow-resolution", type=int, default=48, help="shadow volume resolution per axis")
    b.add_argument("--threads", type=int, default=None, help="CPU threads for torch")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--quiet", action="store_true")
    b.set_defaults(func=run_build)


def _step(title: str, argv: list[str]) -> None:
    from hyperinr_app.cli import main

    print(f"== {title}: hyperinr {' '.join(argv)}", flush=True)
    rc = main(argv)
    if rc:
        from hyperinr_core.errors import HyperINRError

        raise HyperINRError(f"demo build: step '{title}' failed (exit code {rc})")


def _has_checkpoint(out: Path) -> bool:
    from hyperinr_core.train.checkpoint import checkpoint_path

    return checkpoint_path(out).exists()


def default_assets_dir() -> Path:

    import hyperinr_assets

    return Path(hyperinr_assets.__file__).resolve().parent


def run_build(args: argparse.Namespace) -> int:
    from hyperinr_core.fileio import atomic_path

    t0 = time.perf_counter()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    out_dir = Path(args.out_dir) if args.out_dir else default_assets_dir()
    common = ["--seed", str(args.seed)] + (["--quiet"] if args.quiet else [])
    threads = ["--threads", str(args.threads)] if args.threads else []

    data = work / "tgv.h5"
    if not data.exists():
        _step("data", ["data", "demo", "tgv", "-o", str(data)] + threads)
    model = work / "demo_tgv.hinr"
    if not model.exists():
        resume = ["--resume"] if _has_checkpoint(model) or (work / "demo_tgv.teacher.hinr").exists() else []
        _step(
            "scalar HyperINR",
            [
                "train",
                "--data",
                str(data),
                "-o",
                str(model),
                "--preset",
                "demo",
                "--minutes",
                str(args.minutes),
            ]
            + common
            + threads
            + resume,
        )
    tf_path = work / "demo_tf.json"
    with atomic_path(tf_path) as tmp:
        tmp.write_text(json.dumps(DEMO_TF, indent=2) + "\n")
    shadows = work / "shadows.h5"
    if not shadows.exists():
        _step(
            "shadow volumes",
            [
                "data",
                "demo",
                "shadows",
                "--model",
                str(model),
                "--scene-param",
                "t",
                "--tf",
                str(tf_path),
                "--lights",
                str(args.shadow_volumes),
                "--resolution",
                str(args.shadow_resolution),
                "--polar-range",
                "5,85",
                "--seed",
                str(args.seed),
                "--out",
                str(shadows),
            ],
        )
    shadow_model = work / "demo_tgv_shadow.hinr"
    if not shadow_model.exists():
        resume = ["--resume"] if _has_checkpoint(shadow_model) else []
        _step(
            "shadow HyperINR",
            [
                "train",
                "--data",
                str(shadows),
                "-o",
                str(shadow_model),
                "--direct",
                "--preset",
                "demo-shadow",
                "--minutes",
                str(args.shadow_minutes),
            ]
            + common
            + threads
            + resume,
        )
    write_bundle(out_dir, model, shadow_model, tf_path)
    print(f"demo bundle written to {out_dir} in {(time.perf_counter() - t0) / 60:.1f} min")
    return 0


def write_bundle(out_dir: Path, model: Path, shadow_model: Path, tf_path: Path) -> None:
    """Copy the models (float16 encoders), the TF and a manifest into ``out_dir``, each file atomically."""
    from hyperinr_core.fileio import atomic_path
    from hyperinr_core.model.hyperinr import HyperINR

    out_dir.mkdir(parents=True, exist_ok=True)
    names = {
        "model": "demo_tgv.hinr",
        "shadow_model": "demo_tgv_shadow.hinr",
        "transfer_function": "demo_tf.json",
    }
    HyperINR.load(model).save(out_dir / names["model"], encoder_dtype="float16")
    shadow = HyperINR.load(shadow_model)
    shadow.cfg.metadata.setdefault("tf_fingerprint", _fingerprint(tf_path))
    shadow.save(out_dir / names["shadow_model"], encoder_dtype="float16")
    with atomic_path(out_dir / names["transfer_function"]) as tmp:
        tmp.write_text(tf_path.read_text())
    manifest = {
        "format": "hyperinr-bundle",
        "version": 1,
        "title": "Taylor-Green vortex, vorticity magnitude (Re 400, 64^3, t = 0..10)",
        **names,
        "source_data": "hyperinr data demo tgv (deterministic; 64^3, 100 frames, train on every 5th)",
    }
    with atomic_path(out_dir / "demo.json") as tmp:
        tmp.write_text(json.dumps(manifest, indent=2) + "\n")
    sizes = sum(os.path.getsize(out_dir / n) for n in (*names.values(), "demo.json"))
    print(f"bundle: {sizes / 2**20:.1f} MiB in {out_dir}")


def _fingerprint(tf_path: Path) -> str:
    from hyperinr_renderer.transfer import TransferFunction

    return TransferFunction.from_json(tf_path).fingerprint()
