"""``hyperinr train-teacher``, ``hyperinr distill`` and ``hyperinr train`` (the whole pipeline).

- ``train-teacher --data D -o T.h5``: fit the CoordNet teacher to the training frames.
- ``distill --teacher T.hinr --data D -o M.hinr``: build (or reuse) the distillation set and train a HyperINR
  on it; ``--direct`` trains on the data without a teacher.
- ``train --data D -o M.hinr``: the whole pipeline within one budget: a teacher (by default chosen by
  validation against LERP), teacher frames between the training frames, the HyperINR, a held-out check
  (``--direct`` skips the teacher; ``--baseline hashinr`` trains the HashINR baseline instead).

Budgets: ``--steps`` (reproducible: same seed, same result on a CPU) or ``--minutes``; defaults come from the
preset (``cpu`` on a CPU, ``paper`` on CUDA). Checkpoints are written next to the output every few minutes
and on Ctrl-C; run the same command with ``--resume`` to continue exactly where it stopped.

Every command runs unchanged under ``torchrun --nproc_per_node N`` (data-parallel over N processes, NCCL on
GPUs, gloo on CPUs): the batch is split across processes, rank 0 prints and writes files. Frames beyond
``--memory-budget`` are streamed from the file in the background.
"""

from __future__ import annotations

import argparse
import textwrap
import time

from hyperinr_app.commands import add_backend_option

from hyperinr_app.commands.train_jobs import (
    check_budget,
    distill_job,
    distributed_command,
    is_rank0,
    pipeline_job,
    report,
    run_options,
    size_arg,
    teacher_job,
)


def _common(
    p: argparse.ArgumentParser,
    out_help: str,
    steps_help: str = "training budget in optimizer steps",
    minutes_help: str = "training budget in minutes",
) -> None:
    p.add_argument("--data", required=True, metavar="D.h5", help="dataset file (hyperinr data import/demo)")
    p.add_argument("-o", "--out", required=True, metavar="OUT.hinr", help=out_help)
    p.add_argument(
        "--preset",
        choices=("cpu", "paper", "tiny", "demo", "demo-shadow"),
        help="model sizes and budgets (default: cpu on a CPU, paper on CUDA; tiny: a smoke test in seconds)",
    )
    p.add_argument("--steps", type=int, metavar="N", help=steps_help)
    p.add_argument("--minutes", type=float, metavar="M", help=minutes_help)
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--device", metavar="DEV", help="torch device (default: cuda if available, else cpu)")
    add_backend_option(p)
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint next to OUT")
    p.add_argument("--force", action="store_true", help="replace existing outputs")
    p.add_argument(
        "--checkpoint-every",
        type=float,
        default=5.0,
        metavar="MIN",
        help="minutes of training between checkpoints (default 5)",
    )
    p.add_argument(
        "--compile",
        action="store_true",
        help="torch.compile the hash-grid index arithmetic (helps "
        "on some machines; none measured on a 2-core CPU)",
    )
    p.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="CPU threads (default: all cores, fewer when the machine is busy)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument(
        "--memory-budget",
        type=size_arg,
        default=None,
        metavar="SIZE",
        help="memory for training frames (and distillation-set samples) per process, e.g. 512M, 16G; "
        "larger data is streamed from the file in the background (default 4G)",
    )
    p.add_argument(
        "--refresh-every",
        type=int,
        default=200,
        metavar="N",
        help="when streaming: batches drawn from each pool of frames before the next pool (read in "
        "the background meanwhile) takes over (default 200)",
    )


def _distill_opts(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--gt-fraction",
        type=float,
        default=0.5,
        metavar="F",
        help="share of each batch drawn from the training frames themselves; the rest from the teacher "
        "between them (default 0.5)",
    )
    p.add_argument(
        "--encoders",
        type=int,
        metavar="N",
        help="number of hash encoders (default: preset, about the number of training frames)",
    )
    p.add_argument(
        "--distill-samples", type=int, metavar="S", help="parameter samples in the distillation set"
    )
    p.add_argument(
        "--distill-set",
        metavar="F.h5",
        help="distillation-set file (default OUT.distill.h5; reused when it matches the teacher)",
    )
    p.add_argument(
        "--on-demand",
        action="store_true",
        help="compute teacher outputs per batch instead of "
        "precomputing the distillation set (less memory, slower)",
    )


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train-teacher",
        help="train the CoordNet teacher on a dataset",
        description="Fit the CoordNet teacher (residual SIREN) to the training frames of a dataset.",
    )
    _common(p, "teacher model file to write")
    p.set_defaults(func=run_train_teacher)

    p = sub.add_parser(
        "distill",
        help="distill a teacher into a HyperINR (or train one directly)",
        description="Train a HyperINR by knowledge distillation from a CoordNet teacher, or "
        "directly on the data with --direct.",
    )
    _common(p, "HyperINR model file to write")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--teacher", metavar="T.h5", help="teacher model file (hyperinr train-teacher)")
    g.add_argument("--direct", action="store_true", help="train on the data itself, without a teacher")
    _distill_opts(p)
    p.set_defaults(func=run_distill)

    p = sub.add_parser(
        "train",
        help="the whole pipeline: teacher chosen by validation, HyperINR, held-out check",
        description=textwrap.fill(
        "Train a HyperINR from a dataset within one time budget. The teacher fills in between "
        "the training frames: --teacher auto (default) holds back some training frames, scores each candidate "
        "(flow: motion-compensated interpolation, lerp; on CUDA also hashinr and coordnet) against LERP, "
        "then races a HyperINR distilled from the best of them against one trained without a teacher (equal "
        "steps, learning curves projected to the final budget), all within 15 % of the budget, and trains "
        "the final model with the winner. Then the HyperINR trains on ground truth plus teacher frames, and "
        "frames held out of training are scored against LERP. --teacher coordnet runs the paper's stages "
        "(CoordNet teacher file, distillation set); --direct (--teacher none) trains without a teacher; "
        "--baseline hashinr trains the HashINR baseline instead.", 100),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        "  hyperinr data demo tgv -o tgv.h5 && hyperinr train --data tgv.h5 -o tgv_model.hinr\n"
        "  hyperinr train --data tgv.h5 -o tgv_model.hinr --resume   # after Ctrl-C\n"
        "  hyperinr train --data tgv.h5 -o hash.hinr --baseline hashinr --minutes 5\n"
        "  hyperinr evaluate --model tgv_model.hinr --data tgv.h5 --teacher tgv_model.teacher.hinr",
    )
    _common(
        p,
        "model file to write (.hinr; a CoordNet or HashINR teacher goes beside it, OUT.teacher.hinr)",
        "distillation budget in steps (the teacher's: --teacher-steps)",
        "total budget of the pipeline in minutes (default: the preset's; cpu: 27)",
    )
    p.add_argument(
        "--teacher",
        default="auto",
        choices=("auto", "flow", "lerp", "coordnet", "hashinr", "none"),
        help="what fills in between the training frames (default auto: chosen by validation on held-back "
        "training frames, see README); coordnet runs the paper's pipeline (teacher file + distillation set)",
    )
    p.add_argument(
        "--candidates",
        metavar="A,B",
        help="teachers auto tries (default: flow,lerp,none on a CPU; flow,lerp,hashinr,coordnet,none on "
        "CUDA)",
    )
    p.add_argument(
        "--direct", action="store_true", help="the paper's ablation: train on the data, no teacher (as "
        "--teacher none)"
    )
    p.add_argument("--baseline", choices=("hashinr",), help="train a baseline model instead of a HyperINR")
    p.add_argument("--teacher-out", metavar="T.hinr", help="where the teacher goes (default OUT.teacher.hinr beside OUT.hinr)")
    p.add_argument("--teacher-steps", type=int, metavar="N", help="teacher budget in steps")
    p.add_argument("--teacher-minutes", type=float, metavar="M", help="teacher budget in minutes")
    _distill_opts(p)
    p.set_defaults(func=run_train)


@distributed_command
def run_train_teacher(args: argparse.Namespace) -> int:
    from hyperinr_core.train.coordnet_teacher import train_teacher

    is_rank0(args)
    check_budget(args)
    t0 = time.perf_counter()
    report("teacher", args.out, train_teacher(teacher_job(args)), t0)
    return 0


@distributed_command
def run_distill(args: argparse.Namespace) -> int:
    from hyperinr_core.train.distill import distill

    is_rank0(args)
    check_budget(args)
    t0 = time.perf_counter()
    report("direct training" if args.direct else "distillation", args.out, distill(distill_job(args)), t0)
    return 0


@distributed_command
def run_train(args: argparse.Namespace) -> int:
    from hyperinr_core.errors import HyperINRError

    main = is_rank0(args)
    check_budget(args)
    t0 = time.perf_counter()
    if args.baseline == "hashinr":
        from hyperinr_core.train.hashinr_train import HashINRJob, train_hashinr

        if args.direct:
            raise HyperINRError("--baseline hashinr always trains on the data; drop --direct")
        report("hashinr", args.out, train_hashinr(HashINRJob(**run_options(args), compile=args.compile)), t0)
        return 0
    from hyperinr_core.train.file_stages import teacher_path
    from hyperinr_core.train.pipeline import run_pipeline

    res = run_pipeline(pipeline_job(args), say=print if main else (lambda *_: None))
    what = f"HyperINR ({res.teacher} teacher)" if res.teacher != "none" else "HyperINR (no teacher)"
    report(what, args.out, res.result, t0)
    if main and res.teacher == "coordnet":
        print(
            f"evaluate with:\n  hyperinr evaluate --model {args.out} --data {args.data} "
            f"--teacher {teacher_path(args.out, args.teacher_out)}"
        )
    return 0
