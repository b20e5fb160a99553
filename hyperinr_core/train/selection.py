"""``--teacher auto``: choose the teacher by validation on training frames held back for that purpose.

1. **Split.** Some training frames are held back for validation only: every other interior frame in
   1-D (the ends stay, so validation is interpolation), about a third of the interior frames in n-D
   (frames on the convex hull of the training parameters stay; a periodic parameter has no ends).
2. **Teachers.** Each candidate teacher is built from the remaining frames and scored on the validation
   frames, beside LERP of the same frames.
3. **Students.** A HyperINR distilled from the best teacher and a direct one (no teacher) race on equal
   footing (:mod:`.race`, run by :mod:`.choose`): their learning curves are projected to the final
   training's steps, so a teacher that is good on its own but cannot be distilled on this budget does not
   beat training without one, and one that is slow to distil but better is not rejected for its start.

The winner then trains the final model on *all* training frames. When every candidate loses to LERP
the selection says so (:meth:`Selection.verdict`); the pipeline prints it and stores it in the model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy.spatial import ConvexHull, QhullError

from hyperinr_core.eval.metrics import psnr

__all__ = ["Score", "Selection", "validation_split", "score_predictor"]


@dataclass
class Score:
    """PSNR (dB, over the normalized value range) of one candidate on the validation frames."""

    name: str
    psnr_mean: float
    psnr_worst: float
    seconds: float = 0.0
    note: str = ""
    steps: int = 0  # a race run's steps (students only)
    projected: float = float("nan")  # a student's score projected to the final training's steps

    def expected(self) -> float:
        """What the final model is expected to score by this row: the projection when there is one."""
        return self.projected if np.isfinite(self.projected) else self.psnr_mean


@dataclass
class Selection:
    """The outcome of ``auto``: every candidate's score, LERP's, and the choice."""

    chosen: str
    lerp: Score
    rows: list[Score] = field(default_factory=list)
    n_fit: int = 0
    n_val: int = 0
    seconds: float = 0.0  # the whole selection, teacher builds included
    budget_seconds: float | None = None  # the run's total budget (a time budget)
    notes: list[str] = field(default_factory=list)

    def share_line(self) -> str:
        """How much of the budget the selection took."""
        if self.budget_seconds:
            return (f"  selection took {self.seconds:.0f} s, {100 * self.seconds / self.budget_seconds:.0f} % of "
                    f"the {self.budget_seconds / 60:g} min budget")
        return f"  selection took {self.seconds:.0f} s"

    def best(self) -> Score:
        return max(self.rows, key=lambda s: s.psnr_mean)

    def verdict(self) -> str:
        """One plain sentence: does the chosen candidate beat LERP on validation, and by how much."""
        if not self.rows:
            return (f"{self.chosen} chosen without a comparison: too few training frames ({self.n_fit}) to "
                    "hold any back for validation")
        # A chosen teacher is judged by its own validation score (a short race's projection is a lower
        # bound); training without one by its student's projection.
        names = (self.chosen,) if self.chosen != "none" else (self.chosen, f"student:{self.chosen}")
        chosen = [r for r in self.rows if r.name in names and np.isfinite(r.psnr_mean)]
        s = chosen[-1] if chosen else self.best()
        score = s.expected()
        gap = score - self.lerp.psnr_mean
        what = "projected to the final training" if np.isfinite(s.projected) else "on validation"
        if gap >= 0:
            return (
                f"{what}, {s.name} beats LERP by {gap:.2f} dB "
                f"({score:.2f} vs {self.lerp.psnr_mean:.2f})"
            )
        if s.name.startswith("student:"):
            return (
                f"WARNING: {what}, the best HyperINR run, {s.name}, scores {-gap:.2f} dB below "
                f"LERP "
                f"({score:.2f} vs {self.lerp.psnr_mean:.2f}): the model may be less faithful than "
                "interpolating the stored frames on this budget"
            )
        return (
            f"WARNING: every candidate scores below LERP on validation; the best, {s.name}, by {-gap:.2f} dB "
            f"({s.psnr_mean:.2f} vs {self.lerp.psnr_mean:.2f}): interpolating the stored frames is more "
            "faithful than this model on this budget"
        )

    def table(self) -> str:
        if not self.rows:
            return f"  chosen: {self.chosen}; {self.verdict()}"
        lines = [
            f"teacher selection on {self.n_val} validation frames ({self.n_fit} frames fitted):",
            f"  {'candidate':<18} {'mean PSNR':>10} {'worst':>8} {'vs LERP':>8} {'seconds':>8} {'steps':>6} "
            f"{'projected':>9}",
        ]
        for r in [self.lerp, *self.rows]:
            mark = " <-" if r.name in (self.chosen, f"student:{self.chosen}") else ""
            steps = f"{r.steps:>6d}" if r.steps else f"{'':>6}"
            proj = f"{r.projected:>9.2f}" if np.isfinite(r.projected) else f"{'':>9}"
            lines.append(
                f"  {r.name:<18} {r.psnr_mean:>10.2f} {r.psnr_worst:>8.2f} "
                f"{r.psnr_mean - self.lerp.psnr_mean:>+8.2f} {r.seconds:>8.1f} {steps} {proj}{mark}"
                + (f"  ({r.note})" if r.note else "")
            )
        lines += [f"  {n}" for n in self.notes]
        lines.append(self.share_line())
        lines.append(f"  chosen: {self.chosen}; {self.verdict()}")
        return "\n".join(lines)

    @classmethod
    def from_dict(cls, d: dict) -> Selection:
        """The inverse of :meth:`to_dict` (as stored in a model file's metadata)."""

        def score(r: dict) -> Score:
            return Score(**{k: r[k] for k in Score.__dataclass_fields__ if k in r})

        rows = [score(r) for r in d.get("rows", [])]
        return cls(
            str(d.get("chosen", "?")),
            score(d["lerp"]),
            rows,
            int(d.get("n_fit", 0)),
            int(d.get("n_val", 0)),
            float(d.get("seconds", 0.0)),
            d.get("budget_seconds"),
            [str(n) for n in d.get("notes", [])],
        )

    def to_dict(self) -> dict:
        return {
            "chosen": self.chosen,
            "n_fit": self.n_fit,
            "n_val": self.n_val,
            "lerp": asdict(self.lerp),
            "rows": [asdict(r) for r in self.rows],
            "seconds": self.seconds,
            "budget_seconds": self.budget_seconds,
            "notes": list(self.notes),
            "verdict": self.verdict(),
        }


def validation_split(
    train_u: np.ndarray, seed: int = 0, periodic=None
) -> tuple[np.ndarray, np.ndarray]:
    """Indices into ``train_u (N, D)``: (frames to fit, frames to validate on).

    1-D: in parameter order, every other interior frame validates. n-D: a third of the frames not on
    the convex hull validate (at random, seeded). A periodic parameter (``periodic``: D flags) has no
    ends: the hull spans the other parameters only (every frame is interior along a full turn).
    Fewer than 3 (1-D) or D + 3 (n-D) frames: nothing to validate on (an empty second array).
    """
    u = np.asarray(train_u, np.float64)
    n, d = u.shape
    idx = np.arange(n)
    m = np.zeros(d, bool) if periodic is None else np.asarray(list(periodic), bool)
    if d == 1:
        if n < 3:
            return idx, idx[:0]
        order = np.argsort(u[:, 0], kind="stable")
        val = order[1::2] if m[0] else order[1:-1:2]
        return np.setdiff1d(idx, val), np.sort(val)
    if n < d + 3:
        return idx, idx[:0]
    hull = _hull(u[:, ~m])
    inner = np.array([i for i in idx if i not in hull], np.int64)
    if len(inner) == 0:
        return idx, idx[:0]
    rng = np.random.default_rng(seed)
    val = np.sort(rng.choice(inner, size=max(1, len(inner) // 3), replace=False))
    return np.setdiff1d(idx, val), val


def _hull(u: np.ndarray) -> set[int]:
    """Indices of the extreme points of ``u (N, D')``: the convex hull's vertices (D' >= 2), the ends
    (D' = 1), none (D' = 0)."""
    if u.shape[1] == 0:
        return set()
    if u.shape[1] == 1:
        return {int(np.argmin(u[:, 0])), int(np.argmax(u[:, 0]))}
    try:
        return set(ConvexHull(u).vertices.tolist())
    except (QhullError, ValueError):
        return set()


def score_predictor(
    name: str, predict: Callable[[np.ndarray], np.ndarray], frames: np.ndarray, params_u: np.ndarray
) -> Score:
    """Score ``predict(u (D,)) -> normalized frame`` against ``frames (V, ...)`` at ``params_u (V, D)``."""
    import time

    t0 = time.perf_counter()
    vals = [psnr(predict(params_u[i]), frames[i], 1.0) for i in range(len(frames))]
    return Score(name, float(np.mean(vals)), float(np.min(vals)), time.perf_counter() - t0)
