"""Training budgets (steps or minutes), the learning-rate schedule and the seeded sampling generator."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from hyperinr_core.errors import HyperINRError

# Bytes of frames a trainer keeps in memory (per process) before it streams them from the file instead.
DEFAULT_MEMORY_BUDGET = 4 << 30


def seeded_generator(seed: int) -> torch.Generator:
    """The sampling generator of a run (on the CPU, so sampling is identical on every device)."""
    return torch.Generator().manual_seed(int(seed))


@dataclass
class Budget:
    """Stop after ``steps`` optimizer steps or ``minutes`` of training time, whichever comes first.

    Training time counts only the loop (not loading, not checkpoint writes) and carries over a resume.
    Step budgets make runs reproducible; time budgets make them finish on time.
    """

    steps: int | None = None
    minutes: float | None = None

    def __post_init__(self) -> None:
        if self.steps is None and self.minutes is None:
            raise HyperINRError(
                "a training budget needs {steps} or {minutes}", steps="steps", minutes="minutes"
            )
        if self.steps is not None and self.steps < 1:
            raise HyperINRError(f"{{steps}} must be >= 1, got {self.steps}", steps="steps")
        if self.minutes is not None and not self.minutes > 0:
            raise HyperINRError(f"{{minutes}} must be > 0, got {self.minutes}", minutes="minutes")

    def fraction(self, step: int, seconds: float) -> float:
        """Progress in [0, 1]: the larger of the step and the time fraction."""
        f = 0.0
        if self.steps is not None:
            f = max(f, step / self.steps)
        if self.minutes is not None:
            f = max(f, seconds / (60.0 * self.minutes))
        return min(f, 1.0)

    def done(self, step: int, seconds: float) -> bool:
        return self.fraction(step, seconds) >= 1.0


@dataclass
class LRSchedule:
    """Constant learning rate, then exponential decay to ``final_factor`` over the last ``decay_fraction``.

    A function of budget progress, so the same schedule serves step and time budgets.
    """

    lr: float = 1e-3
    decay_fraction: float = 0.3
    final_factor: float = 0.1

    def __call__(self, progress: float) -> float:
        start = 1.0 - self.decay_fraction
        if self.decay_fraction <= 0 or progress <= start:
            return self.lr
        t = min((progress - start) / self.decay_fraction, 1.0)
        return self.lr * self.final_factor**t


#: tqdm format of a time-budget bar: seconds done of the budget, no rate (it would be seconds per second).
TIME_BAR_FORMAT = "{l_bar}{bar}| {n_fmt}/{total_fmt} s [{elapsed}<{remaining}{postfix}]"


def resolve_budget(
    steps: int | None,
    minutes: float | None,
    default_steps: int | None,
    default_minutes: float | None,
    ckpt_budget: dict | None = None,
) -> Budget:
    """Explicit options win, then the checkpoint's budget (on resume), then the preset's."""
    if steps is not None or minutes is not None:
        return Budget(steps, minutes)
    if ckpt_budget:
        return Budget(ckpt_budget.get("steps"), ckpt_budget.get("minutes"))
    return Budget(default_steps, default_minutes)
