"""Shared helpers of the benchmarks: timing medians and a machine description."""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable


def machine_info() -> dict:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info = {
        "cpu": cpu,
        "logical_cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "platform": platform.platform(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    try:
        info["memory_gib"] = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError):
        pass
    return info


def load_average() -> list[float] | None:
    """The 1, 5 and 15-minute load averages (how busy the shared machine was), or None where unknown."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def sync(device) -> None:
    import torch

    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def time_it(fn: Callable[[], object], repeats: int = 20, warmup: int = 3, device="cpu") -> dict:
    """Run ``fn`` ``warmup`` times, then time ``repeats`` runs; returns median/p10/p90/min in ms."""
    for _ in range(warmup):
        fn()
    sync(device)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync(device)
        times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    q = statistics.quantiles(times, n=10) if len(times) >= 2 else times * 9
    return {
        "median_ms": statistics.median(times),
        "p10_ms": q[0],
        "p90_ms": q[-1],
        "min_ms": times[0],
        "runs": repeats,
    }


def emit(result: dict, out: str | None = None) -> None:
    text = json.dumps(result, indent=2)
    print(text)
    if out:
        from hyperinr_core.fileio import atomic_path

        with atomic_path(out) as tmp:
            tmp.write_text(text + "\n")


def use_triton_site() -> None:
    """Put the triton that ``./run.sh`` keeps apart from the explorer's environment (``.venv/triton-site``)
    on the path when none imports otherwise."""
    import importlib.util
    from pathlib import Path

    site = Path(sys.prefix) / "triton-site"
    if importlib.util.find_spec("triton") is None and (site / "triton").is_dir():
        sys.path.append(str(site))
