"""How much an interactive frame of the canvas may cost: the adaptive level (coarser step, then lower
resolution) that keeps frames within the frame budget, learned from the frames traced so far."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

__all__ = ["InteractiveQuality"]


@dataclass
class InteractiveQuality:
    """Cost levels while interacting: (step multiplier, resolution scale), cheapest last.

    The canvas draws on the GUI thread, so a frame's time is time the event loop cannot run: every draw, at
    rest (traced in bands) and while interacting, is kept within ``frame_budget_ms``. The cost of a frame is
    modelled as ``overhead + unit * resolution_scale**2 / step_multiplier`` (rays times samples per ray,
    plus showing the image); ``unit`` (tracing one full-quality frame) and ``overhead`` are running
    estimates from measured frames, so the canvas picks the finest level that fits the budget directly
    instead of stepping one level per frame and oscillating around it.
    """

    levels: tuple[tuple[float, float], ...] = (
        (1.0, 1.0), (2.0, 1.0), (2.0, 0.75), (2.0, 0.5), (3.0, 0.5), (4.0, 0.4), (4.0, 0.3), (6.0, 0.25),
    )
    frame_budget_ms: float = 30.0
    rest_delay_s: float = 0.3
    headroom: float = 0.8  # aim below the budget: frame times vary with the load
    unit_ms: float | None = field(default=None, repr=False)  # estimated time to trace a full-quality frame
    overhead_ms: float = field(default=0.0, repr=False)  # estimated time to show a frame

    def cost(self, level: int) -> float:
        step_mult, res = self.levels[level]
        return res * res / step_mult

    def observe(self, trace_ms: float, share: float, overhead_ms: float | None = None) -> None:
        """Tracing ``share`` of a full-quality frame's work took ``trace_ms`` (showing it ``overhead_ms``)."""
        unit = trace_ms / max(share, 1e-6)
        self.unit_ms = unit if self.unit_ms is None else 0.5 * self.unit_ms + 0.5 * unit
        if overhead_ms is not None:
            self.overhead_ms = 0.5 * self.overhead_ms + 0.5 * float(overhead_ms)

    @property
    def _trace_budget(self) -> float:
        goal = self.headroom * self.frame_budget_ms
        return max(goal - self.overhead_ms, 0.25 * goal)

    def level(self) -> int:
        """The finest level whose predicted frame time fits the budget (the cheapest if none does)."""
        if self.unit_ms is None:
            return len(self.levels) // 2  # no measurement yet: a middle level, refined after one frame
        for i in range(len(self.levels)):
            if self.unit_ms * self.cost(i) <= self._trace_budget:
                return i
        return len(self.levels) - 1

    def bands(self, cap: int) -> int:
        """Bands per full-quality frame so that one band fits the budget."""
        if self.unit_ms is None:
            return int(min(cap, 4))
        return int(min(cap, max(1, math.ceil(self.unit_ms / self._trace_budget))))

    def adapt(self, level: int, trace_ms: float, overhead_ms: float | None = None) -> int:
        """Observe a frame traced at ``level`` in ``trace_ms``; the level for the next frame."""
        self.observe(trace_ms, self.cost(level), overhead_ms)
        return self.level()
