"""The torch device and CPU thread count a command runs with."""

from __future__ import annotations

import math
import os
import time

import torch

from hyperinr_core.errors import HyperINRError


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, str(default)))
    except ValueError:
        return default


def env_world_size() -> int:
    """torchrun's WORLD_SIZE (1 outside torchrun)."""
    return _env_int("WORLD_SIZE", 1)


def env_rank() -> int:
    """torchrun's RANK (0 outside torchrun)."""
    return _env_int("RANK", 0)


def env_local_rank() -> int:
    """torchrun's LOCAL_RANK (0 outside torchrun)."""
    return _env_int("LOCAL_RANK", 0)


def pick_device(name: str | None = None) -> torch.device:
    """``name`` or CUDA when available, else CPU. An unusable device name is a user error.

    Under ``torchrun`` (more than one process) ``cuda`` without an index means the GPU of the process's
    local rank.
    """
    if name in (None, "", "auto"):
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(name)
    except RuntimeError as exc:
        raise HyperINRError(f"unknown device {name!r}: {exc}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise HyperINRError(f"device {name!r} requested but CUDA is not available")
    if dev.type == "cuda" and dev.index is None and env_world_size() > 1:
        local = env_local_rank()
        if local >= torch.cuda.device_count():
            raise HyperINRError(
                f"local rank {local} has no GPU ({torch.cuda.device_count()} visible); "
                "start at most one process per GPU (torchrun --nproc_per_node)"
            )
        dev = torch.device("cuda", local)
    return dev


def triton_interpreted() -> bool:
    """Whether Triton runs under its interpreter (``TRITON_INTERPRET=1``, read when kernels are defined):
    its kernels then run on CPU tensors (the tests)."""
    return os.environ.get("TRITON_INTERPRET", "") not in ("", "0")


def cpu_times() -> tuple[float, float] | None:
    """``(busy CPU seconds of the whole machine, CPU seconds of this process)`` since boot / start; None where
    /proc/stat is unreadable (not Linux)."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    v = [int(x) for x in fields[1:]]
    busy = sum(v[:3]) + sum(v[5:8])  # user nice system + irq softirq steal (idle and iowait are not busy)
    own = os.times()
    return busy / os.sysconf("SC_CLK_TCK"), own.user + own.system


def _n_cpu() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def threads_for(others_busy: float, n_cpu: int) -> int:
    """Threads to use when other processes keep ``others_busy`` cores busy: the cores left (at least one)."""
    return max(1, min(n_cpu, n_cpu - int(math.floor(others_busy + 0.5))))


class ThreadGovernor:
    """Chooses torch's CPU thread count from what *other* processes use now, and again every ``interval_s``.

    Why: when other processes keep the cores busy, OpenMP worker threads wait on each other and a two-thread
    step can be many times slower than a one-thread step (measured on a shared 2-core machine: a 65k-point
    hash encode took 2.0 s with two threads beside one busy process, 0.065 s with one). A choice made once
    from the load average goes stale: the average still counts a job that has just ended (a 27-minute
    training run kept one thread on an idle machine), and a job may start later. Other processes' use is the
    machine's busy time minus this process's own over the last interval (``/proc/stat``).
    """

    def __init__(self, interval_s: float = 20.0, n_cpu: int | None = None, times=cpu_times, clock=time.monotonic):
        self.interval_s, self.n_cpu = float(interval_s), n_cpu or _n_cpu()
        self._times, self._clock = times, clock
        self._last = (clock(), times())

    def others_busy(self) -> float | None:
        """Cores kept busy by other processes since the last measurement (None: unmeasurable)."""
        now, t = self._clock(), self._times()
        (then, t0), self._last = self._last, (now, t)
        if t is None or t0 is None or now - then <= 0:
            return None
        return max(0.0, ((t[0] - t0[0]) - (t[1] - t0[1])) / (now - then))

    def tick(self) -> int | None:
        """Re-choose the thread count when ``interval_s`` has passed; returns the new count when it changed."""
        if self._clock() - self._last[0] < self.interval_s:
            return None
        busy = self.others_busy()
        if busy is None:
            return None
        n = threads_for(busy, self.n_cpu)
        if n != torch.get_num_threads():
            torch.set_num_threads(n)
            return n
        return None


_GOVERNOR: list[ThreadGovernor | None] = [None]


def configure_threads(threads: int | None = None) -> int:
    """Set torch's CPU thread count: ``threads``, or automatically the cores other processes leave free,
    re-chosen during long work (:func:`retune_threads`, :class:`ThreadGovernor`)."""
    if threads is not None:
        if threads < 1:
            raise HyperINRError(f"{{threads}} must be >= 1, got {threads}", threads="threads")
        _GOVERNOR[0] = None
        torch.set_num_threads(int(threads))
        return int(threads)
    gov = ThreadGovernor()
    time.sleep(0.25)  # a short first measurement: the load average lags by a minute
    busy = gov.others_busy()
    if busy is None:  # pragma: no cover - no /proc/stat: the load average is all there is
        try:
            busy = os.getloadavg()[0]
        except OSError:
            busy = 0.0
    n = threads_for(busy, gov.n_cpu)
    torch.set_num_threads(n)
    _GOVERNOR[0] = gov
    return n


def retune_threads() -> int | None:
    """Called often by long loops (training): re-chooses the automatic thread count every so often; a
    no-op (one clock read) otherwise, and when the count was given explicitly."""
    gov = _GOVERNOR[0]
    return None if gov is None else gov.tick()
