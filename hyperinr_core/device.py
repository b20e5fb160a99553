"""The torch device and CPU thread count a command runs with."""

from __future__ import annotations

import math
import os

import torch

from hyperinr_core.errors import HyperINRError


def pick_device(name: str | None = None) -> torch.device:
    """``name`` or CUDA when available, else CPU. An unusable device name is a user error.

    Under ``torchrun`` (more than one process) ``cuda`` without an index means the GPU of the process's
    local rank.
    """
    from hyperinr_core.train.distributed import env_local_rank, env_world_size

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


def configure_threads(threads: int | None = None) -> int:
    """Set torch's CPU thread count: ``threads``, or automatically fewer on a busy machine.

    Why: when other processes already keep the cores busy, OpenMP worker threads wait on each other and a
    two-thread step can be several times slower than a one-thread step (measured on the shared 2-core
    development machine: CoordNet training 7k vs 36k points/s). Auto keeps all cores on an idle machine.
    """
    if threads is not None:
        if threads < 1:
            raise HyperINRError(f"{{threads}} must be >= 1, got {threads}", threads="threads")
        torch.set_num_threads(int(threads))
        return int(threads)
    try:
        n_cpu = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        n_cpu = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except OSError:  # pragma: no cover
        load = 0.0
    n = max(1, min(torch.get_num_threads(), n_cpu - int(math.ceil(load - 0.5))))
    torch.set_num_threads(n)
    return n
