"""The students' race of ``--teacher auto``: short HyperINR runs compared on equal footing.

A student distilled from a teacher starts slower than one trained on the frames alone (half of each batch
comes from parameters it has never seen) and ends higher when the teacher is better. A race of a few
seconds each therefore rewards the start, and a race by wall time also rewards whichever run does not pay
the first run's warm-up (kernel compilation, caches). So the race is run like this:

1. **Warm-up.** A few untimed steps compile and warm up everything a run uses; a few more, timed, give the
   seconds per step.
2. **Equal steps.** Every student runs the same number of steps (what the selection's share of the budget
   buys), with validation probes at 1/8, 1/4, 1/2 and all of them.
3. **Learning curves projected to the real budget.** The gains per doubling of the steps (measured at a
   constant learning rate) are extrapolated, saturating geometrically, to the steps the final training
   will get (:func:`project`), both capped at the best teacher's own validation score (or the level
   already reached): a projection is not trusted beyond what the best interpolator shows.
4. **A race decided early stops early.** The direct student runs second; once even an optimistic
   projection of its curve so far (:func:`optimistic`) stays below the distilled student's projection, it
   cannot win, and it stops there (:func:`out_of_reach`).
5. **A failed test is reported, not trusted.** A distilled student far below the direct one at equal steps
   although its teacher scores above the direct one points to a defect, not to a bad teacher
   (:func:`failed_test`); the decision then rests on the teacher's own score.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "Curve",
    "Verdict",
    "decide",
    "project",
    "failed_test",
    "PROBE_FRACTIONS",
    "FAILED_TEST_DB",
    "probe_steps",
    "optimistic",
    "out_of_reach",
]

#: fractions of a race run's steps at which the student is scored on the validation frames
PROBE_FRACTIONS = (0.125, 0.25, 0.5, 1.0)
#: a distilled student this far below the direct one at equal steps, while its teacher scores above the
#: direct one, is a failed test
FAILED_TEST_DB = 3.0
#: saturation of the gain per doubling: measured between these bounds (noise makes it wild)
RATIO_BOUNDS = (0.3, 0.8)


@dataclass
class Curve:
    """Validation PSNR of one race run at its probe steps."""

    steps: list[int] = field(default_factory=list)
    psnr: list[float] = field(default_factory=list)

    @property
    def last(self) -> float:
        return self.psnr[-1] if self.psnr else float("nan")


def probe_steps(n: int) -> list[int]:
    """The distinct probe steps of a run of ``n`` steps (:data:`PROBE_FRACTIONS`)."""
    return sorted({max(1, int(round(f * n))) for f in PROBE_FRACTIONS})


def project(curve: Curve, final_steps: int, cap: float | None = None) -> float:
    """The validation PSNR ``curve`` extrapolates to after ``final_steps``.

    The last probe is the level (it has the learning-rate decay behind it); the increments between the
    earlier probes, one doubling of the steps apart at a constant rate, give the gain per doubling ``d`` and
    its ratio ``r`` from one doubling to the next. The gain over ``k`` more doublings is
    ``d (r + r^2 + ... + r^k)``. ``cap`` bounds the result (a student cannot be expected to beat its teacher
    on frames only the teacher shows it), but never below the level already reached.
    """
    s, p = np.asarray(curve.steps, np.float64), np.asarray(curve.psnr, np.float64)
    if len(p) == 0:
        return float("nan")
    level = float(p[-1])
    k = _doublings(s[-1], final_steps)
    gain = 0.0
    before = p[:-1]
    if k > 0 and len(before) >= 2 and np.all(np.isfinite(before)):
        inc = np.diff(before) / np.maximum(np.diff(np.log2(s[:-1])), 1e-9)  # per doubling
        d = max(float(inc[-1]), 0.0)
        r = float(inc[-1] / inc[-2]) if len(inc) >= 2 and inc[-2] > 0 else RATIO_BOUNDS[0]
        r = min(max(r, RATIO_BOUNDS[0]), RATIO_BOUNDS[1])
        gain = d * r * (1.0 - r**k) / (1.0 - r)
    return _capped(level + gain, cap, level)


def _doublings(steps_done: float, final_steps: int) -> float:
    """Doublings of the steps from ``steps_done`` to ``final_steps`` (0 when there are none left)."""
    return math.log2(final_steps / steps_done) if final_steps > steps_done > 0 else 0.0


def _capped(value: float, cap: float | None, level: float) -> float:
    """``value`` bounded by ``cap``, but never below the ``level`` already reached."""
    if cap is not None and math.isfinite(cap):
        return min(value, max(cap, level))
    return value


def optimistic(curve: Curve, final_steps: int, cap: float | None = None) -> float:
    """An upper estimate of what ``curve`` (a run stopped at one of its probes) reaches at ``final_steps``:
    its last gain per doubling kept for the next doubling, then saturating at the slowest ratio
    (``RATIO_BOUNDS[1]``), capped like :func:`project` (at ``cap``, or the level already reached)."""
    s, p = np.asarray(curve.steps, np.float64), np.asarray(curve.psnr, np.float64)
    if len(p) < 2 or not np.all(np.isfinite(p)):
        return float("inf")
    k = _doublings(s[-1], final_steps)
    d = max(float((p[-1] - p[-2]) / max(math.log2(s[-1] / s[-2]), 1e-9)), 0.0)
    r = RATIO_BOUNDS[1]
    return _capped(float(p[-1]) + d * (1.0 - r**k) / (1.0 - r), cap, float(p[-1]))


def out_of_reach(direct: Curve, distilled_projection: float, final_steps: int, cap: float | None) -> bool:
    """The direct student, stopped at a probe, cannot overtake the distilled student's projection (ties go
    to the teacher, as in :func:`decide`)."""
    return optimistic(direct, final_steps, cap) <= distilled_projection


def failed_test(distilled: Curve, direct: Curve, teacher_psnr: float) -> bool:
    """The distilled student lies :data:`FAILED_TEST_DB` below the direct one at equal steps while its
    teacher scores above the direct one: something ate the run (a defect to report), not a verdict."""
    return (
        distilled.last < direct.last - FAILED_TEST_DB
        and teacher_psnr > direct.last
        and distilled.steps[-1:] == direct.steps[-1:]
    )


@dataclass
class Verdict:
    """The race's outcome: the projections, whether the test failed, and the choice."""

    chosen: str
    projected_teacher: float
    projected_direct: float
    failed: bool


def decide(teacher: str, teacher_psnr: float, distilled: Curve, direct: Curve, final_steps: int) -> Verdict:
    """``teacher`` or ``"none"``: the student whose curve projects higher at ``final_steps`` (both capped at
    ``teacher_psnr``, the best teacher's validation score, or at the level already reached); ties go to the
    teacher. After a failed test (:func:`failed_test`)
    the teacher's own score stands in for its student's projection."""
    p_t = project(distilled, final_steps, teacher_psnr)
    # The direct student is an interpolator too: no projection of it beyond the best teacher's own score
    # is trusted (uncapped, a steep early curve would outrun a capped distilled one on extrapolation alone).
    p_0 = project(direct, final_steps, teacher_psnr)
    failed = failed_test(distilled, direct, teacher_psnr)
    mine = teacher_psnr if failed else p_t
    return Verdict(teacher if mine >= p_0 else "none", p_t, p_0, failed)


def calibrate(
    run: Callable[..., tuple],
    probe: Callable[[object], float],
    warm: int = 3,
    timed: int = 5,
    sync: Callable[[], None] | None = None,
):
    """``(seconds per step, seconds per probe)`` from one short run: ``run(steps, on_step) -> (model, _)``
    runs ``warm`` untimed steps (compilation, caches), then ``timed`` timed ones; ``probe(model)`` is timed
    once on the result. ``sync`` waits for queued device work (``torch.cuda.synchronize``: a step returns
    before a GPU has done it)."""
    warm = max(warm, 1)  # step 0 has no time stamp
    at: dict[int, float] = {}

    def on_step(_model, step: int) -> None:
        if step in (warm, warm + timed) and sync is not None:
            sync()
        at[step] = time.perf_counter()

    model, _ = run(warm + timed, on_step)
    t0 = time.perf_counter()
    probe(model)
    return (at[warm + timed] - at[warm]) / timed, time.perf_counter() - t0


__all__.append("calibrate")
