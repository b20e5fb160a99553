"""What the training commands share: turning arguments into core jobs, budgets and memory options, and
running a command under ``torchrun`` (rank 0 prints; the process group is left when the command ends)."""

from __future__ import annotations

import argparse
import os
import time


def size_arg(text: str) -> int:
    from hyperinr_core.data.streaming import parse_size

    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def memory_options(args) -> dict:
    from hyperinr_core.errors import HyperINRError
    from hyperinr_core.train.budget import DEFAULT_MEMORY_BUDGET

    if args.refresh_every < 1:
        raise HyperINRError(f"--refresh-every must be >= 1, got {args.refresh_every}")
    budget = DEFAULT_MEMORY_BUDGET if args.memory_budget is None else args.memory_budget
    return {"memory_budget": budget, "refresh_every": args.refresh_every}


def is_rank0(args: argparse.Namespace) -> bool:
    """True on the process that prints (rank 0 under torchrun); the others run quietly."""
    from hyperinr_core.device import env_rank

    if env_rank() != 0:
        args.quiet = True
        return False
    return True


def distributed_command(run):
    """Run a command; leave the process group (if training joined one) when it ends."""

    def wrapped(args: argparse.Namespace) -> int:
        from hyperinr_core.errors import FileFormatError
        from hyperinr_core.fileio import prepare_output
        from hyperinr_core.train.distributed import shutdown

        try:
            prepare_output(args.out)  # before hours of training, not at the first checkpoint
            return run(args)
        except FileFormatError as exc:
            if getattr(args, "resume", False) and ".ckpt." in os.path.basename(exc.path):
                raise FileFormatError(
                    exc.path, f"{exc.problem}; to recover, delete this checkpoint to start afresh, or run "
                    "without --resume (the training then starts over and replaces it)"
                ) from None
            raise
        finally:
            shutdown()

    wrapped.__name__ = run.__name__
    wrapped.__doc__ = run.__doc__
    return wrapped


def check_budget(args: argparse.Namespace) -> None:
    from hyperinr_core.device import configure_threads
    from hyperinr_core.train.budget import Budget

    n = configure_threads(args.threads)
    if not args.quiet and args.threads is None and (args.device in (None, "cpu", "auto")):
        print(f"using {n} CPU thread(s) (--threads to change)")
    for s, m in (
        (args.steps, args.minutes),
        (getattr(args, "teacher_steps", None), getattr(args, "teacher_minutes", None)),
    ):
        if s is not None or m is not None:
            Budget(s, m)  # validates


def run_options(args: argparse.Namespace, **override) -> dict:
    """The options every training job shares (:class:`~hyperinr_core.train.job.RunOptions`), from the
    command line: the one place they are read."""
    d = dict(
        data=args.data,
        out=args.out,
        preset=args.preset,
        steps=args.steps,
        minutes=args.minutes,
        seed=args.seed,
        device=args.device,
        resume=args.resume,
        force=args.force,
        checkpoint_every_s=60.0 * args.checkpoint_every,
        progress=not args.quiet,
        **memory_options(args),
    )
    d.update(override)
    return d


def teacher_job(args: argparse.Namespace):
    """``hyperinr train-teacher``."""
    from hyperinr_core.train.coordnet_teacher import TeacherJob

    return TeacherJob(**run_options(args))


def distill_job(args: argparse.Namespace):
    """``hyperinr distill`` (``--direct``: no teacher)."""
    from hyperinr_core.train.distill import DistillJob

    return DistillJob(
        **run_options(args),
        teacher=None if args.direct else args.teacher,
        n_encoders=args.encoders,
        distill_samples=args.distill_samples,
        distill_set=args.distill_set,
        on_demand=args.on_demand,
        compile=args.compile,
        gt_fraction=args.gt_fraction,
    )


def pipeline_job(args: argparse.Namespace):
    """``hyperinr train``: one job (``--direct`` is ``--teacher none``)."""
    from hyperinr_core.errors import HyperINRError
    from hyperinr_core.train.pipeline import PipelineJob
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
    return PipelineJob(
        **run_options(args),
        teacher="none" if args.direct else args.teacher,
        candidates=cands,
        n_encoders=args.encoders,
        teacher_samples=args.distill_samples,
        gt_fraction=args.gt_fraction,
        teacher_out=args.teacher_out,
        teacher_minutes=args.teacher_minutes,
        teacher_steps=args.teacher_steps,
        compile=args.compile,
        distill_set=args.distill_set,
        on_demand=args.on_demand,
        started=getattr(args, "started", None),
    )


def report(what: str, out: str, result, t0: float) -> None:
    from hyperinr_core.device import env_rank

    if env_rank() != 0:
        return
    print(
        f"{what}: {result.step} steps, {result.seconds / 60:.1f} min training, "
        f"final loss {result.final_loss:.4g}"
        f" -> {out}  (wall {(time.perf_counter() - t0) / 60:.1f} min)"
    )
