"""The pipeline's stages that read the dataset file instead of holding the training frames in memory.

- ``--teacher coordnet`` (the paper's pipeline): the CoordNet teacher trains on the file
  (:mod:`.coordnet_teacher`) into ``OUT.teacher.h5``, then the HyperINR distils from it
  (:mod:`.distill`): through the distillation-set file, or on demand, with ground truth at the training
  frames (``gt_fraction``), frames beyond the memory budget streamed.
- ``--teacher none`` on data larger than the memory budget: direct training, streamed.

``hyperinr train-teacher`` and ``hyperinr distill`` are these stages run alone.
"""

from __future__ import annotations

import time
from dataclasses import fields
from pathlib import Path

from hyperinr_core.errors import HyperINRError
from hyperinr_core.train.checkpoint import checkpoint_path
from hyperinr_core.train.job import RunOptions
from hyperinr_core.train.loop import TrainResult

__all__ = ["run_options", "teacher_path", "coordnet_stages", "direct_stage"]


def run_options(job: RunOptions, **override) -> dict:
    """The :class:`RunOptions` fields of ``job`` (any job), with ``override`` applied: what a stage inherits."""
    d = {f.name: getattr(job, f.name) for f in fields(RunOptions)}
    d.update(override)
    return d


def teacher_path(out: str | Path, teacher_out: str | None = None) -> Path:
    """Where a pipeline's teacher goes: ``teacher_out``, or ``OUT.teacher.h5`` next to the model."""
    out = Path(out)
    return Path(teacher_out) if teacher_out else out.with_name(out.stem + ".teacher" + (out.suffix or ".h5"))


def coordnet_stages(job, preset, say) -> TrainResult:
    """``--teacher coordnet`` for ``job`` (a :class:`~.pipeline.PipelineJob`): teacher file, then distillation.

    A time budget splits as the pipeline's: the teacher gets ``forced_teacher_share`` (unless
    ``teacher_minutes``/``teacher_steps`` say otherwise), the distillation the rest, up to the deadline.
    An existing teacher is reused with ``--resume`` and replaced with ``--force``.
    """
    from hyperinr_core.train.coordnet_teacher import TeacherJob, train_teacher
    from hyperinr_core.train.distill import DistillJob, distill

    t0 = job.started or time.time()
    out = Path(job.out)
    teacher_out = teacher_path(out, job.teacher_out)
    if out.exists() and not job.force:
        raise HyperINRError(
            f"{out}: output exists; choose another name or overwrite it ({{force}})", force="force=True"
        )
    total = (
        job.minutes if job.minutes is not None else (preset.pipeline_minutes if job.steps is None else None)
    )
    t_steps, t_minutes = job.teacher_steps, job.teacher_minutes
    if t_steps is None and t_minutes is None and job.minutes is not None:
        t_minutes = job.minutes * job.forced_teacher_share
    teacher_ckpt = checkpoint_path(teacher_out)
    if teacher_out.exists() and not teacher_ckpt.exists() and not job.force:
        if not job.resume:
            raise HyperINRError(
                f"{teacher_out}: teacher exists; reuse it ({{resume}}) or train it again ({{force}})",
                resume="resume=True",
                force="force=True",
            )
        say(f"teacher: reusing {teacher_out}")
    else:
        resume = job.resume and teacher_ckpt.exists()
        tj = TeacherJob(
            **run_options(
                job,
                out=str(teacher_out),
                steps=t_steps,
                minutes=t_minutes,
                resume=resume,
                force=True if resume else job.force,
            )
        )
        result = train_teacher(tj)
        say(f"teacher: {result.step} steps, {result.seconds / 60:.1f} min -> {teacher_out}")
    dj = DistillJob(
        **run_options(job, resume=job.resume and checkpoint_path(out).exists()),
        teacher=str(teacher_out),
        n_encoders=job.n_encoders,
        distill_samples=job.teacher_samples,
        distill_set=job.distill_set,
        on_demand=job.on_demand,
        compile=job.compile,
        gt_fraction=job.gt_fraction,
    )
    if total is not None and job.steps is None:
        dj.deadline = t0 + 60.0 * total
    return distill(dj)


def direct_stage(job) -> TrainResult:
    """``--teacher none`` on the file itself (frames beyond the memory budget streamed)."""
    from hyperinr_core.train.distill import DistillJob, distill

    return distill(DistillJob(**run_options(job), n_encoders=job.n_encoders, compile=job.compile))
