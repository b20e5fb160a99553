"""``hyperinr train``: teacher (chosen by validation with ``auto``), distillation targets, HyperINR.

Budget (a total in minutes; steps make runs reproducible instead):
- selection (``auto``, :mod:`.choose`): at most ``select_share`` of the total, teacher builds included
  (a network candidate gets ``network_share``);
- the final teacher on all training frames: nothing for LERP, seconds to minutes for flow (it reuses the
  flows of the selection's flow teacher, :class:`~.flow_motion.FlowCache`); a network teacher trains for
  ``teacher_share`` of the total (``forced_teacher_share`` when no selection ran before it);
- the teacher frames, bounded to ``targets_share`` of the total (a build cut short keeps an even cover);
- the distillation: everything left, up to the deadline, less a reserve for the held-out check, which
  (when the dataset holds frames outside training) reads at most ``MAX_REPORT_FRAMES`` frames. After a
  race it starts from the winning student (:func:`~.student.warm_start`), so the race's steps carry over.
With the defaults the distillation gets at least 70 % of the total when the flow builds take seconds.
They are not bounded: on the NVS demo (100 views of 256^2, one thread, 10 minutes) the selection took 75 s
(13 %), the final flow teacher, its frames, the held-out check and the start 81 s, and the distillation
7.4 minutes (74 %).
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from hyperinr_core.data.dataset import open_dataset
from hyperinr_core.device import pick_device
from hyperinr_core.errors import HyperINRError
from hyperinr_core.model.field_info import FieldInfo
from hyperinr_core.train.budget import Budget
from hyperinr_core.train.checkpoint import read_checkpoint
from hyperinr_core.train.job import RunOptions
from hyperinr_core.train.loop import TrainResult
from hyperinr_core.train.make_teacher import TeacherBuild, build_teacher
from hyperinr_core.train.outputs import check_outputs, finish_outputs, jsonable
from hyperinr_core.train.presets import preset_for
from hyperinr_core.train.choose import SelectionBudget, n_between, select_teacher
from hyperinr_core.train.file_stages import coordnet_stages, direct_stage, teacher_path
from hyperinr_core.train.flow_motion import FlowCache
from hyperinr_core.train.selection import Selection, score_predictor
from hyperinr_core.train.student import StudentSpec, hyperinr_predictor, train_student, warm_start
from hyperinr_core.train.targets import between_params, predict_frames

__all__ = ["PipelineJob", "PipelineResult", "run_pipeline", "MAX_REPORT_FRAMES"]

MAX_REPORT_FRAMES = 16
#: flows the selection's flow teacher keeps for the final one (on CUDA, device memory)
FLOW_CACHE_BYTES = 1 << 30


@dataclass
class PipelineJob(RunOptions):
    """One ``hyperinr train`` run. ``teacher``: ``auto`` or a kind of :data:`~.teachers.TEACHER_KINDS`."""

    teacher: str = "auto"
    candidates: tuple[str, ...] | None = None
    n_encoders: int | None = None
    teacher_samples: int | None = None  # teacher frames between the training frames
    gt_fraction: float = 0.5
    teacher_out: str | None = None
    teacher_minutes: float | None = None
    teacher_steps: int | None = None
    compile: bool = False
    distill_set: str | None = None  # coordnet: the distillation-set file (default OUT.distill.h5)
    on_demand: bool = False  # coordnet: teacher outputs per batch instead of a distillation set
    started: float | None = None  # time.time() the command started (a time budget counts from there)
    select_share: float = 0.15
    network_share: float = 0.04
    teacher_share: float = 0.08
    forced_teacher_share: float = 0.2
    targets_share: float = 0.05


@dataclass
class PipelineResult:
    result: TrainResult
    teacher: str
    selection: Selection | None = None
    heldout: dict | None = None
    messages: list[str] = field(default_factory=list)


class _Clock:
    """The pipeline's budget: minutes left until the deadline, or steps when the budget is in steps."""

    def __init__(self, minutes: float | None, steps: int | None, started: float | None = None):
        self.t0, self.minutes, self.steps = started or time.time(), minutes, steps

    def left(self) -> float:
        return self.minutes - (time.time() - self.t0) / 60.0

    def for_selection(self, job: PipelineJob) -> SelectionBudget:
        if self.minutes is None:
            return SelectionBudget(None, self.steps, None, None, None, self.t0)
        total = 60.0 * self.minutes
        final = total * (1.0 - job.select_share - job.teacher_share - job.targets_share)
        return SelectionBudget(
            job.select_share * total, None, final, job.network_share * total, total, self.t0
        )


def load_training_frames(ds, info: FieldInfo, memory_budget: int | None) -> tuple[np.ndarray, np.ndarray]:
    """All training frames, normalized float32 ``(N, *frame_shape)``, and their parameters ``(N, D)``."""
    idx = ds.train_indices
    need = 4 * len(idx) * int(np.prod(ds.frame_shape))
    if memory_budget is not None and need > memory_budget:
        raise HyperINRError(
            f"{ds.path}: the {len(idx)} training frames need {_size(need)} in memory, over the memory "
            f"budget of {_size(memory_budget)}; raise the budget, or choose the teacher: coordnet or none "
            "stream frames from the file"
        )
    lo, hi = info.value_range
    frames = ((ds.frames(idx) - lo) / (hi - lo)).astype(np.float32)
    return frames, ds.normalized_params()[idx]


def _size(n: int) -> str:
    for unit, div in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= div:
            return f"{n / div:.1f} {unit}"
    return f"{n} bytes"


def _reserve_minutes(ds, total: float) -> float:
    """Minutes kept back from the distillation for what follows it: the held-out check (a generate, a decode
    and LERP per report frame, about 0.6 s per 64^3 frame on 2 cores) and writing the model."""
    n = min(MAX_REPORT_FRAMES, len(ds.test_indices))
    seconds = 3.0 + 0.6 * n * int(np.prod(ds.frame_shape)) / 64**3
    return min(seconds / 60.0, 0.1 * total)


def _heldout(ds, info, model, frames_shape, lerp_predict, say) -> dict | None:
    """Score the final model and LERP on (up to MAX_REPORT_FRAMES of) the dataset's held-out frames."""
    test = ds.test_indices
    if len(test) == 0:
        return None
    pick = test[
        np.unique(np.linspace(0, len(test) - 1, min(MAX_REPORT_FRAMES, len(test))).round().astype(int))
    ]
    lo, hi = info.value_range
    ref = ((ds.frames(pick) - lo) / (hi - lo)).astype(np.float32)
    u = ds.normalized_params()[pick]
    pred = hyperinr_predictor(model, frames_shape, info.n_space_dims == 2)
    m = score_predictor("HyperINR", pred, ref, u)
    lp = score_predictor("LERP", lerp_predict, ref, u)
    gap = m.psnr_mean - lp.psnr_mean
    word = "above" if gap >= 0 else "BELOW"
    say(
        f"held-out check ({len(pick)} of {len(test)} held-out frames): HyperINR {m.psnr_mean:.2f} dB "
        f"(worst {m.psnr_worst:.2f}), LERP {lp.psnr_mean:.2f} dB (worst {lp.psnr_worst:.2f}): "
        f"{abs(gap):.2f} dB {word} LERP"
    )
    return {"frames": [int(i) for i in pick], "hyperinr": asdict(m), "lerp": asdict(lp), "gap_db": gap}


def _over_memory(job: PipelineJob) -> bool:
    """The training frames would not fit ``job.memory_budget``."""
    if job.memory_budget is None:
        return False
    with open_dataset(job.data) as ds:
        return 4 * len(ds.train_indices) * int(np.prod(ds.frame_shape)) > job.memory_budget


def _finish_from_file(job: PipelineJob, result: TrainResult, kind: str, selection, say) -> PipelineResult:
    """After a stage that read the file: the held-out check (rank 0) and the selection into the model."""
    from hyperinr_core.eval.baselines import Lerp
    from hyperinr_core.model.hyperinr import HyperINR
    from hyperinr_core.train.distributed import is_main_process

    heldout = None
    if result.finished and is_main_process():
        model = HyperINR.load(job.out)
        with open_dataset(job.data) as ds:
            info = FieldInfo.from_dataset(ds)
            lerp, (lo, hi) = Lerp(ds), info.value_range
            heldout = _heldout(
                ds, info, model, tuple(ds.frame_shape), lambda u: (lerp.predict(u) - lo) / (hi - lo), say
            )
        if heldout is not None:
            model.cfg.metadata["heldout"] = jsonable(heldout)
        if selection is not None:
            model.cfg.metadata["selection"] = jsonable(selection.to_dict())
        if heldout is not None or selection is not None:
            model.save(job.out)
    return PipelineResult(result, kind, selection, heldout)


def run_pipeline(job: PipelineJob, say=print) -> PipelineResult:
    """Run ``hyperinr train`` for ``job``; ``say`` receives the lines a user should read."""
    from hyperinr_core.model.hyperinr import HyperINR

    device = pick_device(job.device)
    preset = preset_for(job.preset, device)
    if job.teacher == "coordnet":
        return _finish_from_file(job, coordnet_stages(job, preset, say), "coordnet", None, say)
    if job.teacher == "none" and _over_memory(job):
        return _finish_from_file(job, direct_stage(job), "none", None, say)
    out = Path(job.out)
    ckpt = check_outputs(out, job.force, job.resume)
    minutes = (
        job.minutes if job.minutes is not None else (preset.pipeline_minutes if job.steps is None else None)
    )
    steps = job.steps if job.steps is not None else (None if minutes is not None else preset.distill_steps)
    if minutes is None and steps is None:
        raise HyperINRError("the training budget needs steps or minutes")
    clock = _Clock(minutes, steps, job.started)
    quiet = (lambda *_: None) if not job.progress else say
    with open_dataset(job.data) as ds:
        info = FieldInfo.from_dataset(ds)
        frames, train_u = load_training_frames(ds, info, job.memory_budget)
        resume_from = read_checkpoint(ckpt) if job.resume else None
        rec = resume_from.state.get("job", {}) if resume_from else {}
        selection = flow_cache = start = None
        if resume_from is not None:
            kind = rec.get("teacher", "none")
            sel = rec.get("selection")
            quiet(
                f"resuming: teacher {kind}"
                + (f" (chosen by validation: {sel.get('verdict')})" if sel else "")
            )
        elif job.teacher == "auto":
            t_sel = time.perf_counter()
            flow_cache = FlowCache(FLOW_CACHE_BYTES)
            selection, _, start = select_teacher(
                job, info, preset, frames, train_u, device, clock.for_selection(job), quiet, flow_cache
            )
            selection.seconds = time.perf_counter() - t_sel
            say(selection.table())
            kind = selection.chosen
            if kind == "coordnet":  # the one CoordNet path: teacher file, distillation set, the rest of the time
                rest = replace(
                    job,
                    teacher="coordnet",
                    minutes=None if clock.minutes is None else clock.left(),
                    teacher_minutes=job.teacher_minutes
                    if job.teacher_minutes is not None or clock.minutes is None
                    else job.teacher_share * clock.minutes,
                )
                ds.close()
                return _finish_from_file(rest, coordnet_stages(rest, preset, say), kind, selection, say)
        else:
            kind = job.teacher
        tb = TeacherBuild(
            out=str(teacher_path(out, job.teacher_out)),
            minutes=job.teacher_minutes
            if job.teacher_minutes is not None or clock.minutes is None
            else (job.teacher_share if selection else job.forced_teacher_share) * clock.minutes,
            steps=job.teacher_steps
            if job.teacher_steps is not None or clock.minutes is not None
            else max(1, clock.steps // 2),
            preset=job.preset,
            seed=job.seed,
            device=job.device,
            progress=job.progress,
            flow_cache=flow_cache,
            frame_keys=np.arange(len(train_u)),
        )
        t0 = time.perf_counter()
        teacher = build_teacher(kind, frames, train_u, info, device, tb)
        reused = "" if flow_cache is None or not flow_cache.hits else f", {flow_cache.hits} flows reused"
        flow_cache = None  # the flows go with it
        tf = tu = None
        if teacher is not None:
            n = n_between(len(train_u), info.n_param_dims, job.teacher_samples)
            tu = between_params(train_u, n, job.seed, info.periodic_mask)
            n_keep = rec.get("teacher_frames")
            bound = None if (clock.minutes is None or n_keep) else 60.0 * job.targets_share * clock.minutes
            tu, tf = predict_frames(teacher, tu, bound, job.memory_budget, job.progress)
            if n_keep:
                tu, tf = tu[:n_keep], tf[:n_keep]
            quiet(
                f"teacher {kind}: {len(tu)} frames between the training frames "
                f"({time.perf_counter() - t0:.0f} s{reused})"
            )
        if clock.minutes is not None:
            # Whatever the stages before took comes out of the total (counted from the training time
            # already spent when resuming); leave a little for the held-out check (a tenth of a short
            # budget, at most half a minute). A budget is a promise: no minimum stretches it.
            done = resume_from.state["seconds"] / 60.0 if resume_from else 0.0
            reserve = _reserve_minutes(ds, clock.minutes)
            budget = Budget(None, max(1.0 / 60.0, done + clock.left() - reserve))
        else:
            budget = Budget(clock.steps, None)
        # After a race the final training starts from its winner (its steps are not lost).
        warm = resume_from is None and start is not None and kind == selection.chosen
        record = {
            "stage": "train",
            "data": os.path.abspath(job.data),
            "teacher": kind,
            "seed": job.seed,
            "gt_fraction": job.gt_fraction,
            "teacher_frames": 0 if tu is None else len(tu),
            "preset": preset.name,
            "started_from_race": warm or bool(rec.get("started_from_race")),
            "selection": jsonable(selection.to_dict()) if selection else rec.get("selection"),
        }
        spec = StudentSpec(
            info, preset, job.n_encoders, job.gt_fraction, job.seed, device, job.compile, job.progress
        )
        model = HyperINR.load(ckpt) if resume_from is not None else None
        if warm:
            model = warm_start(spec, train_u, start)
            quiet(f"{'distillation' if tf is not None else 'training'} starts from the race's {kind} student")
        start = None
        model, result = train_student(
            spec,
            frames,
            train_u,
            tf,
            tu,
            budget,
            "distill" if tf is not None else "direct",
            checkpoint=ckpt,
            record=record,
            resume_from=resume_from,
            model=model,
            checkpoint_every_s=job.checkpoint_every_s,
        )
        model.cfg.metadata.update(
            {
                "trained": "direct" if tf is None else "distilled",
                "teacher": kind,
                "gt_fraction": job.gt_fraction if tf is not None else 1.0,
                "teacher_frames": record["teacher_frames"],
                "steps": result.step,
                "started_from_race": record["started_from_race"],
                "train_seconds": round(result.seconds, 1),
            }
        )
        if record["selection"]:
            model.cfg.metadata["selection"] = record["selection"]
        heldout = None
        if result.finished:
            heldout = _heldout(
                ds, info, model, frames.shape[1:], build_teacher("lerp", frames, train_u, info, device).predict, say
            )
            if heldout:
                model.cfg.metadata["heldout"] = jsonable(heldout)
    if result.finished:
        finish_outputs(result, model.save, out, ckpt)
    return PipelineResult(result, kind, selection, heldout)
