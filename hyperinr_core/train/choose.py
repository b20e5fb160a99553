"""``--teacher auto``: the selection procedure (the records it fills are in :mod:`.selection`).

Within ``select_share`` of a time budget (teacher builds included):

1. the training frames are split into frames to fit and frames to validate on;
2. every candidate teacher is built from the frames to fit and scored on the validation frames, beside
   LERP; a network candidate trains within ``network_share`` of the budget and is skipped, with the reason
   in the table, when that share is not left or it ends below LERP;
3. the best teacher's student and the direct student race (:mod:`.race`): equal steps after one warm-up,
   learning curves projected to the final training's steps, both capped at the best teacher's score; the
   direct student stops early once it is out of reach.

The larger projection wins. The built teachers come back with the selection, and so does the winner's
student: the final training starts from it (:func:`~.student.warm_start`) instead of from scratch, so the
race's steps are not lost.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from hyperinr_core.errors import HyperINRError
from hyperinr_core.eval.metrics import psnr
from hyperinr_core.train.budget import Budget
from hyperinr_core.train.make_teacher import NETWORK_TEACHERS, TeacherBuild, build_teacher
from hyperinr_core.train.race import (
    Curve,
    calibrate,
    decide,
    optimistic,
    out_of_reach,
    probe_steps,
    project,
)
from hyperinr_core.train.selection import Score, Selection, score_predictor, validation_split
from hyperinr_core.train.student import StudentSpec, hyperinr_predictor, train_student
from hyperinr_core.train.targets import between_params, predict_frames

__all__ = [
    "SelectionBudget",
    "select_teacher",
    "default_candidates",
    "n_between",
    "point_probe",
    "MIN_RACE_STEPS",
]

#: a race (on a time budget) shorter than this tells nothing: the teachers' scores decide alone
MIN_RACE_STEPS = 100
#: the race of a step budget (reproducible runs, tests): a tenth of the budget, at least this
MIN_STEP_BUDGET_RACE = 24


@dataclass
class SelectionBudget:
    """What the selection may spend: ``seconds`` of a time budget (or ``steps`` of a step budget), and the
    steps the final training is expected to get (what the race projects to)."""

    seconds: float | None
    steps: int | None
    final_seconds: float | None
    network_seconds: float | None
    total_seconds: float | None
    t0: float

    def left(self) -> float:
        return float("inf") if self.seconds is None else self.seconds - (time.time() - self.t0)


def default_candidates(device_type: str) -> tuple[str, ...]:
    """Teachers ``auto`` tries: on a CPU only those that cost seconds (a CoordNet or HashINR teacher
    starves on a CPU budget); on CUDA the network teachers too."""
    if device_type == "cuda":
        return ("flow", "lerp", "hashinr", "coordnet", "none")
    return ("flow", "lerp", "none")


def n_between(n_train: int, n_dims: int, requested: int | None) -> int:
    """Teacher frames: two inside every gap in 1-D, four per training frame in n-D (by default)."""
    if requested is not None:
        return requested
    return 2 * max(n_train - 1, 1) if n_dims == 1 else 4 * n_train


def select_teacher(
    job, info, preset, frames, train_u, device, budget: SelectionBudget, say, flow_cache=None
):
    """Choose the teacher for ``job`` (a :class:`~.pipeline.PipelineJob`). Returns ``(selection, teachers,
    student)``: the table, the teachers built, by kind (fitted to the frames to fit, not to all frames),
    and the race winner's student (None without a decided race), a start for the final training.
    ``flow_cache`` (a :class:`~.flow_motion.FlowCache`) keeps the flow candidate's flows, named by
    training frame index, for the final teacher."""
    fit_i, val_i = validation_split(train_u, job.seed, info.periodic)
    cands = job.candidates or default_candidates(device.type)
    nan = float("nan")
    if len(val_i) == 0:
        if len(train_u) < 2:  # nothing lies between training frames: no teacher has anything to add
            chosen = "none"
            say("teacher selection: one training frame, nothing to interpolate; training without a teacher")
        else:
            chosen = next((c for c in ("flow", "lerp") if c in cands), cands[0])
            say(f"teacher selection: too few training frames to validate on; using {chosen}")
        return Selection(chosen, Score("LERP", nan, nan), [], len(fit_i), 0), {}, None
    f_fit, u_fit, f_val, u_val = frames[fit_i], train_u[fit_i], frames[val_i], train_u[val_i]
    lerp = build_teacher("lerp", f_fit, u_fit, info, device)
    sel = Selection("none", score_predictor("LERP", lerp.predict, f_val, u_val), [], len(fit_i), len(val_i))
    sel.budget_seconds = budget.total_seconds
    teachers = {}
    for kind in cands:
        if kind in ("none", "lerp"):
            continue
        if kind in NETWORK_TEACHERS and budget.seconds is not None and budget.left() < budget.network_seconds:
            sel.rows.append(
                Score(
                    kind,
                    nan,
                    nan,
                    note=(f"skipped: its {budget.network_seconds:.0f} s share of the selection is not left"),
                )
            )
            continue
        t0 = time.perf_counter()
        tb = TeacherBuild(
            minutes=None if budget.seconds is None else budget.network_seconds / 60.0,
            steps=None if budget.seconds is not None else max(1, budget.steps // 4),
            preset=job.preset,
            seed=job.seed,
            device=job.device,
            progress=job.progress,
            flow_cache=flow_cache,
            frame_keys=fit_i,
        )
        try:
            teachers[kind] = build_teacher(kind, f_fit, u_fit, info, device, tb)
        except (HyperINRError, RuntimeError, ValueError) as exc:  # reported in the table, not fatal
            sel.rows.append(Score(kind, nan, nan, note=f"skipped: {exc}"))
            continue
        s = score_predictor(kind, teachers[kind].predict, f_val, u_val)
        s.seconds += time.perf_counter() - t0
        if kind in NETWORK_TEACHERS and s.psnr_mean < sel.lerp.psnr_mean:
            s.note = f"skipped: below LERP after its {s.seconds:.0f} s share"
            teachers.pop(kind)
        sel.rows.append(s)
    if "lerp" in cands:
        teachers["lerp"] = lerp
        sel.rows.append(
            Score("lerp", sel.lerp.psnr_mean, sel.lerp.psnr_worst, note="the frames' interpolation")
        )
    scored = [r for r in sel.rows if r.name in teachers and np.isfinite(r.psnr_mean)]
    best = max(scored, key=lambda r: r.psnr_mean) if scored else None
    sel.chosen = best.name if best else "none"
    student = None
    if best is not None and "none" in cands:
        student = _race(
            job,
            info,
            preset,
            frames.shape[1:],
            (f_fit, u_fit, f_val, u_val),
            teachers[best.name],
            best,
            device,
            budget,
            sel,
        )
    return sel, teachers, student


def _race(job, info, preset, frame_shape, split, teacher, best: Score, device, budget, sel: Selection):
    """The best teacher's student against the direct student (:mod:`.race`); sets ``sel.chosen``.
    Returns the winner's student (a HyperINR fitted to the frames to fit) when the race decided, or None."""
    f_fit, u_fit, f_val, u_val = split
    spec = StudentSpec(info, preset, None, job.gt_fraction, job.seed, device, job.compile, False)
    is_image = info.n_space_dims == 2
    tu = between_params(u_fit, n_between(len(u_fit), info.n_param_dims, job.teacher_samples), job.seed)
    bound = None if budget.seconds is None else max(1.0, 0.25 * budget.left())
    tu, tf = predict_frames(teacher, tu, bound, job.memory_budget, progress=False)

    def run(kind: str, steps: int, on_step=None, minutes=None):
        args = (None, None) if kind == "none" else (tf, tu)
        budget_ = Budget(steps, minutes)
        return train_student(spec, f_fit, u_fit, *args, budget_, f"race {kind}", on_step=on_step)

    probe_fn = point_probe(f_val, u_val, is_image, job.seed)
    sync = None
    if device.type == "cuda":
        import torch

        sync = torch.cuda.synchronize
    sps, probe_cost = calibrate(lambda n, on_step: run(best.name, n, on_step), probe_fn, sync=sync)
    cap = None
    if budget.seconds is not None:
        per_run = 0.85 * budget.left() / 2.0  # the rest: the two students' whole-frame scores
        n = int((per_run - len(probe_steps(1000)) * probe_cost) / sps)
        final = max(n, int(budget.final_seconds / sps))
        cap = max(per_run, 1.0) / 60.0  # a loaded machine stops a run early; the other then runs as many
    else:
        n = max(MIN_STEP_BUDGET_RACE, budget.steps // 10)
        final = budget.steps
    if budget.seconds is not None and n < MIN_RACE_STEPS:
        sel.notes.append(
            f"no race: {max(budget.left(), 0):.0f} s of the selection's share left buy {max(n, 0)} steps a "
            f"student (at {sps:.2f} s a step), under {MIN_RACE_STEPS}; the teachers' scores decide"
        )
        return None
    curves, models, stopped = {}, {}, 0
    for kind in (best.name, "none"):
        curve, at = Curve(), set(probe_steps(n))
        # The direct student runs second: it stops at a probe once even an optimistic projection of it
        # cannot overtake the distilled one's (the verdict would not change).
        target = project(curves[best.name][0], final, best.psnr_mean) if curves else None

        def probe(model, step, curve=curve, at=at, target=target):
            if step in at:
                curve.steps.append(step)
                curve.psnr.append(probe_fn(model))
                if target is not None and step < n and out_of_reach(curve, target, final, best.psnr_mean):
                    raise _Decided(model, step)

        t0 = time.perf_counter()
        try:
            model, result = run(kind, n, probe, cap)
            steps = result.step
        except _Decided as d:
            model, steps = d.model, d.step
            stopped = steps
        if steps < n and target is None:  # cut short by the time cap: the other student runs as many
            n = steps
            curve.steps.append(n)
            curve.psnr.append(probe_fn(model))
        s = score_predictor(f"student:{kind}", hyperinr_predictor(model, frame_shape, is_image), f_val, u_val)
        s.seconds, s.steps = time.perf_counter() - t0, steps
        s.note = "HyperINR race" + (", no teacher" if kind == "none" else f", {len(tu)} teacher frames")
        sel.rows.append(s)
        curves[kind], models[kind] = (curve, s), model
        cap = None if cap is None else 1.5 * cap
    (c_t, s_t), (c_0, s_0) = curves[best.name], curves["none"]
    if stopped:  # the direct student stopped early: out of reach
        s_0.note += f", stopped at step {s_0.steps}: out of reach"
        s_t.projected = target  # the distilled student's projection the direct one was held against
        s_0.projected = optimistic(c_0, final, best.psnr_mean)
        sel.chosen = best.name
        sel.notes.append(
            f"race: {n} steps a student after a warm-up, projected to the final training's {final}; the "
            f"direct student stopped at step {s_0.steps}, where even an optimistic projection of it "
            f"({s_0.projected:.2f} dB) stays below the distilled one's ({s_t.projected:.2f} dB)"
        )
        return models[best.name]
    if s_0.steps != s_t.steps:
        sel.notes.append("race cut short by the time left: unequal steps, the teachers' scores decide")
        return None
    v = decide(best.name, best.psnr_mean, c_t, c_0, final)
    s_t.projected, s_0.projected, sel.chosen = v.projected_teacher, v.projected_direct, v.chosen
    sel.notes.append(f"race: {n} steps a student after a warm-up, projected to the final training's {final}")
    if v.failed:
        s_t.note += f"; FAILED TEST: {c_0.last - c_t.last:.1f} dB below the direct student at equal steps"
        sel.notes.append(
            f"WARNING: the student distilled from {best.name} ends {c_0.last - c_t.last:.1f} dB below the "
            f"direct one at equal steps although {best.name} itself scores "
            f"{best.psnr_mean - c_0.last:.1f} dB above it: the race is not trusted (please report it); the "
            "teacher's own score decides"
        )
        return None
    return models[v.chosen]


class _Decided(Exception):
    """Raised from a race run's probe: the run has decided the race at ``step``."""

    def __init__(self, model, step: int):
        super().__init__(step)
        self.model, self.step = model, step


def point_probe(frames: np.ndarray, params_u: np.ndarray, is_image: bool, seed: int, n_points: int = 1 << 15):
    """``probe(model) -> mean PSNR`` on the validation ``frames (V, ...)`` at ``params_u (V, D)``, over one
    fixed random set of ``n_points`` grid nodes per frame: a learning curve needs many cheap probes, and
    its points are the same at every probe (the table's scores decode whole frames)."""
    import torch

    space = frames.shape[1:-1] if is_image else frames.shape[1:]
    n_vox = int(np.prod(space))
    rng = np.random.default_rng(seed)
    flat = np.sort(rng.choice(n_vox, size=min(n_points, n_vox), replace=False))
    idx = np.unravel_index(flat, space)
    # INR coordinates: x (the fastest axis) first, node-centred in [0, 1] (as INR.sample_grid).
    x = np.stack([i / max(n - 1, 1) for i, n in zip(reversed(idx), reversed(space), strict=True)], -1)
    xt = torch.from_numpy(x.astype(np.float32))
    ref = [f[idx].reshape(len(flat), -1) for f in frames]

    @torch.no_grad()
    def probe(model) -> float:
        vals = []
        for r, u in zip(ref, params_u, strict=True):
            inr = model.generate(model.denormalize(np.asarray(u, np.float64)))
            pred = inr(xt).cpu().numpy().reshape(r.shape)
            vals.append(psnr(pred, r, 1.0))
        return float(np.mean(vals))

    return probe
