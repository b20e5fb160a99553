"""Export progress that informs: frames done, samples per pixel, elapsed time and an estimate of the time
left, for the terminal (:class:`TerminalProgress`, tqdm) and the explorer's progress dialog
(:func:`progress_line`).

Work is counted in samples per pixel over the whole export (``frame * spp + sample``). :class:`EtaEstimator`
measures the rate from the first completed unit on, so start-up costs (making a GL context, compiling
shaders, the first decode) that are paid once do not inflate the estimate of the rest; between reports the
estimate counts down with the clock, so a display refreshed every second moves every second.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["EtaEstimator", "ProgressState", "progress_line", "format_duration", "TerminalProgress"]


class EtaEstimator:
    """Seconds left of ``total`` work units from progress reports (``update(done)``) and a clock.

    Units are samples; by default every one costs the same. Frames of a sweep do not: the demo's late
    timesteps take almost four times as long to trace as its first ones. :meth:`set_frame_costs` gives the
    relative cost of every frame (measured by :func:`~hyperinr_app.export_gl.frame_costs`), and the
    rate is then measured in cost per second, so the time left counts the remaining frames at their cost.
    """

    def __init__(self, total: int, clock: Callable[[], float] = time.perf_counter):
        self.total = max(int(total), 1)
        self.clock = clock
        self.start = clock()
        self.done = 0
        self._first: tuple[float, int] | None = None  # (time, done) of the first report with done > 0
        self._last: tuple[float, int] | None = None
        self._cum: list[float] | None = None  # cumulative frame costs, with a leading 0
        self._spp = 1

    def set_frame_costs(self, costs, spp: int) -> None:
        """Relative costs of the export's frames (one each, in order) of ``spp`` samples each."""
        cum = [0.0]
        for c in costs:
            cum.append(cum[-1] + max(float(c), 1e-9))
        self._cum, self._spp = cum, max(int(spp), 1)

    def work(self, done: int) -> float:
        """The cost of the first ``done`` units (``done`` itself without frame costs)."""
        if self._cum is None:
            return float(done)
        f, s = divmod(int(done), self._spp)
        if f >= len(self._cum) - 1:
            return self._cum[-1]
        return self._cum[f] + (self._cum[f + 1] - self._cum[f]) * s / self._spp

    def update(self, done: int, total: int | None = None) -> None:
        if total is not None:
            self.total = max(int(total), 1)
        now = self.clock()
        self.done = int(done)
        if self.done > 0 and self._first is None:
            self._first = (now, self.done)
        if self.done > 0:
            self._last = (now, self.done)

    @property
    def fraction(self) -> float:
        return min(max(self.done / self.total, 0.0), 1.0)

    def elapsed(self, now: float | None = None) -> float:
        return (self.clock() if now is None else now) - self.start

    def rate(self) -> float | None:
        """Units per second: since the first report when there are two, else over the whole elapsed time."""
        if self._last is None:
            return None
        (t1, d1), (t2, d2) = self._first, self._last
        w1, w2 = self.work(d1), self.work(d2)
        if w2 > w1 and t2 > t1:
            return (w2 - w1) / (t2 - t1)
        return w2 / (t2 - self.start) if t2 > self.start else None

    def eta(self, now: float | None = None) -> float | None:
        """Seconds left (None before the first report; 0 when done)."""
        if self.done >= self.total:
            return 0.0
        r = self.rate()
        if r is None or r <= 0:
            return None
        now = self.clock() if now is None else now
        left = (self.work(self.total) - self.work(self._last[1])) / r - (now - self._last[0])
        return max(left, 0.0)


def format_duration(seconds: float) -> str:
    """``0:42``, ``12:05``, ``1:02:03``."""
    s = int(round(max(seconds, 0.0)))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


@dataclass
class ProgressState:
    """What a progress display shows: ``frames`` of a ``spp``-sample export, the estimator of its time."""

    frames: int
    spp: int
    eta: EtaEstimator

    @classmethod
    def create(cls, frames: int, spp: int, clock: Callable[[], float] = time.perf_counter) -> ProgressState:
        return cls(max(int(frames), 1), max(int(spp), 1), EtaEstimator(max(frames, 1) * max(spp, 1), clock))

    def frames_done(self) -> int:
        return min(self.eta.done // self.spp, self.frames)


def progress_line(state: ProgressState, now: float | None = None) -> str:
    """``"frame 12/100 · 16 spp · 0:42 elapsed · 3:10 left"`` (frames only for animations)."""
    e = state.eta
    parts = []
    if state.frames > 1:
        parts.append(f"frame {state.frames_done()}/{state.frames}")
        parts.append(f"{state.spp} spp")
    else:
        parts.append(f"{min(e.done, state.spp)}/{state.spp} spp")
    parts.append(f"{format_duration(e.elapsed(now))} elapsed")
    left = e.eta(now)
    parts.append("estimating time left" if left is None else f"{format_duration(left)} left")
    return " · ".join(parts)


class TerminalProgress:
    """A tqdm bar over the export's samples, its text refreshed at least once a second (also while a slow
    sample is being traced). ``with TerminalProgress(frames, spp, desc) as p: export(..., progress=p)``."""

    def __init__(self, frames: int, spp: int, desc: str = "export", interval: float = 0.5):
        self.state = ProgressState.create(frames, spp)
        self.desc = desc
        self.interval = interval
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._bar = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> TerminalProgress:
        from tqdm import tqdm

        self._bar = tqdm(total=self.state.eta.total, desc=self.desc, unit="spp",
                         bar_format="{percentage:3.0f}%|{bar}| {desc}", dynamic_ncols=True)
        self._refresh()
        self._thread = threading.Thread(target=self._tick, name="progress", daemon=True)
        self._thread.start()
        return self

    def __call__(self, done: int, total: int) -> None:
        with self._lock:
            self.state.eta.update(done, total)
        self._refresh()

    def set_frame_costs(self, costs) -> None:
        """The relative cost of every frame (see :meth:`EtaEstimator.set_frame_costs`); any thread."""
        with self._lock:
            self.state.eta.set_frame_costs(costs, self.state.spp)

    def _refresh(self) -> None:
        with self._lock:
            bar = self._bar
            if bar is None:
                return
            bar.total = self.state.eta.total
            bar.n = self.state.eta.done
            bar.set_description_str(f"{self.desc}: {progress_line(self.state)}", refresh=False)
            bar.refresh()

    def _tick(self) -> None:
        while not self._stop.wait(self.interval):
            self._refresh()

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._refresh()
        with self._lock:
            self._bar.close()
            self._bar = None
