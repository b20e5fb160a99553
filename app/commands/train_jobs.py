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
    from hyperinr_core.train.distributed import env_rank

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


def teacher_job(args, out: str, steps, minutes):
    from hyperinr_core.train.coordnet_teacher import TeacherJob

    return TeacherJob(
        data=args.data,
        out=out,
        preset=args.preset,
        steps=steps,
        minutes=minutes,
        seed=args.seed,
        device=args.device,
        resume=args.resume,
        force=args.force,
        checkpoint_every_s=60.0 * args.checkpoint_every,
        progress=not args.quiet,
        **memory_options(args),
    )


def distill_job(args, teacher, steps, minutes, resume=None):
    from hyperinr_core.train.distill import DistillJob

    return DistillJob(
        data=args.data,
        out=args.out,
        teacher=teacher,
        preset=args.preset,
        steps=steps,
        minutes=minutes,
        seed=args.seed,
        device=args.device,
        resume=args.resume if resume is None else resume,
        force=args.force,
        n_encoders=args.encoders,
        distill_samples=args.distill_samples,
        distill_set=args.distill_set,
        on_demand=args.on_demand,
        compile=args.compile,
        checkpoint_every_s=60.0 * args.checkpoint_every,
        progress=not args.quiet,
        **memory_options(args),
    )


def report(what: str, out: str, result, t0: float) -> None:
    from hyperinr_core.train.distributed import env_rank

    if env_rank() != 0:
        return
    print(
        f"{what}: {result.step} steps, {result.seconds / 60:.1f} min training, "
        f"final loss {result.final_loss:.4g}"
        f" -> {out}  (wall {(time.perf_counter() - t0) / 60:.1f} min)"
    )
