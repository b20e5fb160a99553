"""``hyperinr train-teacher``, ``hyperinr distill`` and ``hyperinr train`` (the whole pipeline).

- ``train-teacher --data D -o T.h5``: fit the CoordNet teacher to the training frames.
- ``distill --teacher T.h5 --data D -o M.h5``: build (or reuse) the distillation set and train a HyperINR
  on it; ``--direct`` trains on the data without a teacher.
- ``train --data D -o M.h5``: the whole pipeline within one budget: a teacher (by default chosen by
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
    memory_options,
    report,
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
    p.add_argument("-o", "--out", required=True, metavar="OUT.h5", help=out_help)
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
        "(flow: motion-compensated interpolation, lerp; on CUDA also hashinr and coordnet) and a short "
        "HyperINR run with and without the best of them against LERP, and trains the final model with the "
        "winner. Then the HyperINR trains on ground truth plus teacher frames, and frames held out of "
        "training are scored against LERP. --teacher coordnet runs the paper's pipeline (CoordNet teacher, "
        "distillation set); --direct trains without a teacher; --baseline hashinr trains the HashINR "
        "baseline instead.", 100),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        "  hyperinr data demo tgv -o tgv.h5 && hyperinr train --data tgv.h5 -o tgv_model.h5\n"
        "  hyperinr train --data tgv.h5 -o tgv_model.h5 --resume   # after Ctrl-C\n"
        "  hyperinr train --data tgv.h5 -o hash.h5 --baseline hashinr --minutes 5\n"
        "  hyperinr evaluate --model tgv_model.h5 --data tgv.h5 --teacher tgv_model.teacher.h5",
    )
    _common(
        p,
        "model file to write (the teacher goes to OUT.teacher.h5)",
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
        "--gt-fraction",
        type=float,
        default=0.5,
        metavar="F",
        help="share of each batch drawn from the training frames themselves; the rest from the teacher "
        "between them (default 0.5)",
    )
    p.add_argument(
        "--direct", action="store_true", help="the paper's ablation: train on the data, no teacher"
    )
    p.add_argument("--baseline", choices=("hashinr",), help="train a baseline model instead of a HyperINR")
    p.add_argument("--teacher-out", metavar="T.h5", help="where the teacher goes (default OUT.teacher.h5)")
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
    result = train_teacher(teacher_job(args, args.out, args.steps, args.minutes))
    report("teacher", args.out, result, t0)
    return 0


@distributed_command
def run_distill(args: argparse.Namespace) -> int:
    from hyperinr_core.train.distill import distill

    is_rank0(args)
    check_budget(args)
    t0 = time.perf_counter()
    result = distill(distill_job(args, None if args.direct else args.teacher, args.steps, args.minutes))
    report("direct training" if args.direct else "distillation", args.out, result, t0)
    return 0


@distributed_command
def run_train(args: argparse.Namespace) -> int:
    import os

    from hyperinr_core.device import pick_device
    from hyperinr_core.errors import HyperINRError
    from hyperinr_core.train.checkpoint import checkpoint_path
    from hyperinr_core.train.coordnet_teacher import train_teacher
    from hyperinr_core.train.distill import distill
    from hyperinr_core.train.presets import preset_for

    main = is_rank0(args)
    check_budget(args)
    t0 = time.perf_counter()
    if args.baseline == "hashinr":
        from hyperinr_core.train.hashinr_train import HashINRJob, train_hashinr

        if args.direct:
            raise HyperINRError("--baseline hashinr always trains on the data; drop --direct")
        result = train_hashinr(
            HashINRJob(
                data=args.data,
                out=args.out,
                preset=args.preset,
                steps=args.steps,
                minutes=args.minutes,
                seed=args.seed,
                device=args.device,
                resume=args.resume,
                force=args.force,
                compile=args.compile,
                checkpoint_every_s=60.0 * args.checkpoint_every,
                progress=not args.quiet,
                **memory_options(args),
            )
        )
        report("hashinr", args.out, result, t0)
        return 0
    if args.direct:
        result = distill(distill_job(args, None, args.steps, args.minutes))
        report("direct training", args.out, result, t0)
        return 0
    if args.teacher != "coordnet":
        return _run_pipeline(args, t0)

    preset = preset_for(args.preset, pick_device(args.device))
    out = args.out
    root, ext = os.path.splitext(out)
    teacher_out = args.teacher_out or f"{root}.teacher{ext or '.h5'}"
    if os.path.exists(out) and not args.force:
        raise HyperINRError(f"{out}: output exists; choose another name or pass --force")
    # A total --minutes budget is split like the preset's: the teacher gets its share, the distillation
    # what is left once the distillation set is built. Without any budget the preset's total applies.
    total = (
        args.minutes
        if args.minutes is not None
        else (preset.pipeline_minutes if args.steps is None else None)
    )
    share = (preset.teacher_minutes or 1.0) / (
        (preset.teacher_minutes or 1.0) + (preset.distill_minutes or 1.0)
    )
    t_steps, t_minutes = args.teacher_steps, args.teacher_minutes
    if t_steps is None and t_minutes is None and args.minutes is not None:
        t_minutes = args.minutes * share

    teacher_ckpt = checkpoint_path(teacher_out)
    if os.path.exists(teacher_out) and not teacher_ckpt.exists() and not args.force:
        if not args.resume:
            raise HyperINRError(
                f"{teacher_out}: teacher exists; pass --resume to reuse it or --force to retrain"
            )
        if not args.quiet:
            print(f"teacher: reusing {teacher_out}")
    else:
        job = teacher_job(args, teacher_out, t_steps, t_minutes)
        job.resume = args.resume and teacher_ckpt.exists()
        job.force = True if job.resume else args.force
        result = train_teacher(job)
        report("teacher", teacher_out, result, t0)

    d_steps, d_minutes = args.steps, args.minutes
    job = distill_job(
        args, teacher_out, d_steps, d_minutes, resume=args.resume and checkpoint_path(out).exists()
    )
    if total is not None and args.steps is None:
        job.deadline = time.time() + 60.0 * total - (time.perf_counter() - t0)
    result = distill(job)
    report("distillation", out, result, t0)
    if main:
        print(
            f"done in {(time.perf_counter() - t0) / 60:.1f} min; evaluate with:\n"
            f"  hyperinr evaluate --model {out} --data {args.data} --teacher {teacher_out}"
        )
    return 0


def _run_pipeline(args: argparse.Namespace, t0: float) -> int:
    from hyperinr_core.errors import HyperINRError
    from hyperinr_core.train.pipeline import PipelineJob, run_pipeline
    from hyperinr_core.train.teachers import TEACHER_KINDS

    cands = None
    if args.candidates:
        cands = tuple(c.strip() for c in args.candidates.split(",") if c.strip())
        bad = [c for c in cands if c not in TEACHER_KINDS]
        if bad or not cands:
            raise HyperINRError(
                f"--candidates: unknown teacher(s) {bad} (choose from {', '.join(TEACHER_KINDS)})"
            )
    if not 0.0 <= args.gt_fraction <= 1.0:
        raise HyperINRError(f"--gt-fraction must lie in [0, 1], got {args.gt_fraction}")
    job = PipelineJob(
        data=args.data,
        out=args.out,
        teacher=args.teacher,
        candidates=cands,
        preset=args.preset,
        steps=args.steps,
        minutes=args.minutes,
        seed=args.seed,
        device=args.device,
        resume=args.resume,
        force=args.force,
        n_encoders=args.encoders,
        teacher_samples=args.distill_samples,
        gt_fraction=args.gt_fraction,
        teacher_out=args.teacher_out,
        teacher_minutes=args.teacher_minutes,
        teacher_steps=args.teacher_steps,
        compile=args.compile,
        checkpoint_every_s=60.0 * args.checkpoint_every,
        progress=not args.quiet,
        memory_budget=memory_options(args)["memory_budget"],
    )
    res = run_pipeline(job, say=print)
    report(
        f"HyperINR ({res.teacher} teacher)" if res.teacher != "none" else "HyperINR (no teacher)",
        args.out,
        res.result,
        t0,
    )
    return 0
