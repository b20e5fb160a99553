"""Training throughput in samples/s: frames in memory vs streamed from the file under a memory budget, and
1 vs 2 data-parallel gloo processes (torchrun) on this machine's CPU.

The workload is direct HyperINR training (the stateless evaluator, fused Adam) on a synthetic TSR series
written to a temporary directory. Each case runs in a fresh process (``--worker``), ``--repeats`` times;
the figures are medians of the training-loop time only (process start and data opening excluded; pool
loads while streaming included). A sample is one voxel of one frame: a step trains on
``batch_frames x batch_points`` of them, split across the processes when there are two.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _dataset(path: Path, n_train: int, side: int) -> int:
    """A moving blob over t in [0, 1]: ``n_train`` training frames of ``side^3`` (and as many held out)."""
    import numpy as np

    from hyperinr_core.data.dataset_writer import write_dataset

    n = 2 * n_train
    g = np.linspace(0, 1, side, dtype=np.float32)
    z, y, x = np.meshgrid(g, g, g, indexing="ij")
    frames = np.empty((n, side, side, side), np.float32)
    for i, t in enumerate(np.linspace(0, 1, n)):
        frames[i] = np.exp(-((x - 0.3 - 0.4 * t) ** 2 + (y - 0.5) ** 2 + (z - 0.5) ** 2) / 0.04)
    mask = np.arange(n) % 2 == 0
    write_dataset(path, "tsr", ["t"], [0.0], [1.0], np.linspace(0, 1, n), frames, train_mask=mask)
    return n_train * side**3 * 4


def worker(args: argparse.Namespace) -> int:
    """One training run (under torchrun or alone); rank 0 prints one JSON line."""
    import torch

    from hyperinr_core.data.dataset import open_dataset
    from hyperinr_core.model.field_info import FieldInfo
    from hyperinr_core.train.budget import Budget, seeded_generator
    from hyperinr_core.train.distill import hyperinr_query, new_hyperinr
    from hyperinr_core.train.distributed import context, init_from_env, shutdown
    from hyperinr_core.train.fit import FitRun, fit
    from hyperinr_core.train.presets import PRESETS
    from hyperinr_core.train.sampling import frame_sampler

    torch.set_num_threads(args.threads)
    device = torch.device("cpu")
    init_from_env(device)
    preset = PRESETS[args.preset]
    fit_cfg = preset.distill_fit
    try:
        with open_dataset(args.data) as ds:
            info = FieldInfo.from_dataset(ds)
            train_u = ds.normalized_params()[ds.train_indices]
            model = new_hyperinr(info, preset, args.encoders, train_u, 0).to(device)
            sampler = frame_sampler(ds, device, 0, args.budget, args.refresh_every)
            try:
                res = fit(FitRun(
                    "bench",
                    list(model.parameters()),
                    hyperinr_query(model),
                    sampler,
                    fit_cfg,
                    Budget(steps=args.steps),
                    seeded_generator(0),
                    lambda: None,
                    device,
                    False,
                    None,
                    {},
                    progress=False,
                ))
            finally:
                sampler.close()
        ctx = context()
        if ctx.is_main:
            samples = res.step * fit_cfg.batch_frames * fit_cfg.batch_points
            print(
                "BENCH "
                + json.dumps(
                    {
                        "samples_per_s": samples / res.seconds,
                        "steps": res.step,
                        "train_seconds": res.seconds,
                        "processes": ctx.world_size,
                        "threads_per_process": torch.get_num_threads(),
                        "streaming": sampler.streaming,
                        "pool_frames": sampler.pool_size,
                        "frames_read": sampler.pools.loads,
                        "loader_peak_bytes": sampler.pools.peak_bytes,
                        "waited_for_loader_s": sampler.pools.wait_seconds,
                        "final_loss": res.final_loss,
                    }
                ),
                flush=True,
            )
    finally:
        shutdown()
    return 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch(nproc: int, threads: int, worker_args: list[str]) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    env["OMP_NUM_THREADS"] = str(threads)
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(k, None)
    cmd = [sys.executable]
    if nproc > 1:
        cmd += ["-m", "torch.distributed.run", "--nnodes", "1", f"--nproc_per_node={nproc}"]
        cmd += ["--rdzv_backend", "c10d", "--rdzv_endpoint", f"127.0.0.1:{_free_port()}"]
    cmd += ["-m", "bench.train", "--worker", "--threads", str(threads), *worker_args]
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    for line in proc.stdout.splitlines():
        if line.startswith("BENCH "):
            return json.loads(line[6:])
    raise RuntimeError(
        f"benchmark worker failed ({proc.returncode}):\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}"
    )


def run(
    repeats: int = 3,
    steps: int = 8,
    frames: int = 32,
    side: int = 48,
    encoders: int = 8,
    preset: str = "demo",
    budget_fraction: float = 0.25,
    refresh_every: int = 2,
    all_threads: bool = False,
) -> dict:
    """Cases: 1 process x 1 thread and 2 gloo processes x 1 thread, each with the frames in memory and
    streamed; with ``all_threads`` also 1 process using every core (the same cores as 2 processes)."""
    from bench._common import machine_info
    from hyperinr_core.train.presets import PRESETS

    fit_cfg = PRESETS[preset].distill_fit
    out: dict = {
        "benchmark": "train",
        "machine": {**machine_info(), "load_avg_1min_at_start": round(os.getloadavg()[0], 2)},
        "workload": {
            "training": "direct HyperINR (stateless evaluator), fused Adam",
            "preset": preset,
            "encoders": encoders,
            "batch": f"{fit_cfg.batch_frames} frames x {fit_cfg.batch_points} points",
            "steps_per_run": steps,
            "repeats": repeats,
            "training_frames": frames,
            "frame_shape": [side] * 3,
        },
        "cases": {},
    }
    with tempfile.TemporaryDirectory(prefix="hyperinr-bench-train-") as tmp:
        data = Path(tmp) / "series.h5"
        data_bytes = _dataset(data, frames, side)
        budget = int(data_bytes * budget_fraction)
        out["workload"]["training_frame_bytes"] = data_bytes
        out["workload"]["streamed_memory_budget_bytes"] = budget
        out["workload"]["streamed_refresh_every"] = refresh_every
        common = ["--data", str(data), "--steps", str(steps), "--encoders", str(encoders), "--preset", preset]
        common += ["--refresh-every", str(refresh_every)]
        everything, streamed = ["--budget", str(4 * data_bytes)], ["--budget", str(budget)]
        cases = {
            "in_memory_1proc": (1, 1, everything),
            "streamed_1proc": (1, 1, streamed),
            "in_memory_2proc_gloo": (2, 1, everything),
            "streamed_2proc_gloo": (2, 1, streamed),
        }
        if all_threads:
            n_cpu = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
            cases["in_memory_1proc_all_threads"] = (1, n_cpu, everything)
        runs: dict[str, list[dict]] = {k: [] for k in cases}
        t0 = time.perf_counter()
        for _ in range(repeats):  # interleaved, so a busy spell on the machine hits every case alike
            for name, (nproc, th, extra) in cases.items():
                runs[name].append(_launch(nproc, th, common + extra))
        out["wall_seconds"] = round(time.perf_counter() - t0, 1)
    for name, rs in runs.items():
        sps = [r["samples_per_s"] for r in rs]
        last = rs[-1]
        out["cases"][name] = {
            "samples_per_s_median": round(statistics.median(sps)),
            "samples_per_s_runs": [round(v) for v in sps],
            "processes": last["processes"],
            "threads_per_process": last["threads_per_process"],
            "streaming": last["streaming"],
            "pool_frames": last["pool_frames"],
            "frames_read": last["frames_read"],
            "loader_peak_bytes": last["loader_peak_bytes"],
            "waited_for_loader_s_median": round(statistics.median(r["waited_for_loader_s"] for r in rs), 3),
        }
    c = {k: v["samples_per_s_median"] for k, v in out["cases"].items()}
    out["ratios"] = {
        "streamed_over_in_memory_1proc": round(c["streamed_1proc"] / c["in_memory_1proc"], 3),
        "streamed_over_in_memory_2proc": round(c["streamed_2proc_gloo"] / c["in_memory_2proc_gloo"], 3),
        "2proc_over_1proc_in_memory": round(c["in_memory_2proc_gloo"] / c["in_memory_1proc"], 3),
    }
    if "in_memory_1proc_all_threads" in c:
        out["ratios"]["2proc_over_1proc_all_threads"] = round(
            c["in_memory_2proc_gloo"] / c["in_memory_1proc_all_threads"], 3
        )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="hyperinr bench train", description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3, help="runs per case (median reported; default 3)")
    ap.add_argument("--steps", type=int, default=8, help="optimizer steps per run (default 8)")
    ap.add_argument("--frames", type=int, default=32, help="training frames in the synthetic series")
    ap.add_argument("--side", type=int, default=48, help="frames are side^3 voxels (default 48)")
    ap.add_argument("--encoders", type=int, default=8, help="hash encoders of the HyperINR (default 8)")
    ap.add_argument("--preset", default="demo", help="model and batch sizes (default demo)")
    ap.add_argument(
        "--budget-fraction", type=float, default=0.25, help="streamed case: memory budget / data size"
    )
    ap.add_argument("--refresh-every", type=int, default=2, help="streamed case: batches per pool")
    ap.add_argument(
        "--all-threads", action="store_true", help="also time 1 process using every core (slower to run)"
    )
    ap.add_argument("--json", metavar="OUT", help="also write the JSON to this file")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    ap.add_argument("--budget", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return worker(args)
    from bench._common import emit

    emit(
        run(
            args.repeats,
            args.steps,
            args.frames,
            args.side,
            args.encoders,
            args.preset,
            args.budget_fraction,
            args.refresh_every,
            args.all_threads,
        ),
        args.json,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
