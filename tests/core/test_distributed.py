"""Data-parallel training under torchrun: 2 gloo processes on the CPU follow the single-process run on the
same global batch, only rank 0 writes checkpoints, any checkpoint resumes on any world size, and the CLI
runs unchanged."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from hyperinr_app.cli import main
from hyperinr_core.train.checkpoint import read_checkpoint
from hyperinr_core.train.distributed import shard_batch

from . import ddp_worker
from .training_helpers import one_thread, tiny_series

_one_thread = pytest.fixture(autouse=True, scope="module")(one_thread)

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(nproc: int, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """``torchrun --nproc_per_node nproc ARGS`` on this machine's CPU (gloo), one thread per process."""
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]))
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(k, None)
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nnodes",
        "1",
        "--nproc_per_node",
        str(nproc),
        "--rdzv_backend",
        "c10d",
        "--rdzv_endpoint",
        f"127.0.0.1:{_free_port()}",
        *args,
    ]
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


@pytest.mark.parametrize("b,m,world", [(4, 10, 2), (3, 10, 2), (2, 7, 3), (1, 5, 4), (6, 1, 3)])
def test_shards_partition_the_global_batch(b, m, world):
    rows = torch.arange(b) * 100
    flat = torch.arange(b * m).view(b, m)
    seen = []
    for r in range(world):
        rr, ff = shard_batch(rows, flat, (r, world))
        assert ff.shape[0] == rr.shape[0]
        for i in range(ff.shape[0]):
            seen += [(int(rr[i]), int(v)) for v in ff[i]]
    want = [(int(rows[i]), int(v)) for i in range(b) for v in flat[i]]
    assert sorted(seen) == sorted(want) and len(seen) == len(want)


def test_two_gloo_processes_follow_the_single_process_run_and_only_rank0_checkpoints(tmp_path):
    data = tiny_series(tmp_path / "series.h5")
    out = tmp_path / "ddp"
    out.mkdir()
    torchrun(2, str(Path(ddp_worker.__file__)), data, str(out))

    # the single-process reference on the same global batch
    ref_model, ref = ddp_worker.teacher_run(data, None)
    full = json.loads((out / "full.json").read_text())
    assert full["step"] == ddp_worker.STEPS
    assert [s for s, _ in full["losses"]] == [s for s, _ in ref.losses]  # steps 1, 10, ..., 60
    np.testing.assert_allclose([v for _, v in full["losses"]], [v for _, v in ref.losses], rtol=1e-4)
    assert ref.losses[-1][1] < 0.8 * ref.losses[0][1]  # the curve compared is a descending one
    for got, want in zip(full["params"], ref_model.parameters(), strict=True):
        np.testing.assert_allclose(got, want.detach().reshape(-1).numpy(), rtol=1e-4, atol=1e-6)

    # checkpoints: written by rank 0 only (steps 20, 40, 60 and the interrupted run), one file per run
    writes = sorted(p.name for p in out.glob("writes.rank*.txt"))
    assert writes == ["writes.rank0.txt"]
    lines = (out / "writes.rank0.txt").read_text().splitlines()
    assert (
        lines.count(str(out / "full" / "t.ckpt.h5")) == 3 and lines.count(str(out / "cut" / "t.ckpt.h5")) == 1
    )
    assert sorted(os.listdir(out / "full")) == ["t.ckpt.h5"]
    assert sorted(os.listdir(out / "cut")) == ["t.ckpt.h5"]

    # Ctrl-C on rank 1 stopped both ranks after the step in flight; rank 0's checkpoint resumes in one process
    cut = read_checkpoint(out / "cut" / "t.ckpt.h5")
    assert cut.state["step"] == 26
    model, res = ddp_worker.teacher_run(data, out / "cut" / "t.ckpt.h5", resume=cut)
    assert res.step == ddp_worker.STEPS
    assert [s for s, _ in res.losses] == [s for s, _ in ref.losses]
    np.testing.assert_allclose([v for _, v in res.losses], [v for _, v in ref.losses], rtol=1e-4)
    for a, b in zip(model.parameters(), ref_model.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_cli_distill_under_torchrun_streams_and_matches_one_process(tmp_path, capsys):
    from hyperinr_core import HyperINR

    data = tiny_series(tmp_path / "series.h5")
    # 5 training frames of 1344 bytes; 7000 bytes streams them in pools of one frame
    opts = ["--preset", "tiny", "--steps", "12", "--memory-budget", "7000", "--refresh-every", "3", "--quiet"]
    (tmp_path / "two").mkdir()
    (tmp_path / "one").mkdir()
    proc = torchrun(
        2, "-m", "hyperinr_app.cli", "distill", "--direct", "--data", data, "-o", str(tmp_path / "two" / "m.h5"), *opts
    )
    assert proc.stdout.count("direct training: 12 steps") == 1  # rank 0 reports, rank 1 is silent
    assert main(["distill", "--direct", "--data", data, "-o", str(tmp_path / "one" / "m.h5"), *opts]) == 0
    assert os.listdir(tmp_path / "two") == ["m.h5"]  # no checkpoint, no temporary file left behind
    a, b = HyperINR.load(tmp_path / "two" / "m.h5"), HyperINR.load(tmp_path / "one" / "m.h5")
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-6)


def test_a_rank_killed_mid_run_ends_the_others_with_one_line_and_the_run_resumes(tmp_path):
    """SIGKILL one of two gloo processes mid-step: the other exits within 60 s with one line naming the lost
    rank, the last checkpoint reads, and --resume (here on one process) finishes the run."""
    import signal
    import time

    data = tiny_series(tmp_path / "series.h5", n_frames=17)
    out = tmp_path / "m.h5"
    opts = ["--data", data, "-o", str(out), "--preset", "tiny", "--steps", "100000", "--quiet",
            "--checkpoint-every", "0.005"]
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]))
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(k, None)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node", "2",
           "--rdzv_backend", "c10d", "--rdzv_endpoint", f"127.0.0.1:{_free_port()}",
           "-m", "hyperinr_app.cli", "distill", "--direct", *opts]
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    ckpt = tmp_path / "m.ckpt.h5"
    try:
        deadline = time.time() + 120
        while not ckpt.exists():  # training runs and has checkpointed at least once
            assert proc.poll() is None and time.time() < deadline, "no checkpoint from the two processes"
            time.sleep(0.2)
        time.sleep(1.0)
        workers = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
        rank1 = next(int(w) for w in workers if "RANK=1" in Path(f"/proc/{w}/environ").read_text().split("\0"))
        os.kill(rank1, signal.SIGKILL)
        t0 = time.time()
        output, _ = proc.communicate(timeout=60)
        assert time.time() - t0 < 60
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    lines = [ln for ln in output.splitlines() if ln.startswith("hyperinr distill: error:")]
    assert len(lines) == 1 and "rank 1 stopped" in lines[0] and "--resume" in lines[0], output[-3000:]
    step = read_checkpoint(ckpt).state["step"]
    assert step > 0
    assert main(["distill", "--direct", *opts[:-5], "--steps", str(step + 5), "--quiet", "--resume"]) == 0
    from hyperinr_core import HyperINR

    assert HyperINR.load(out).cfg.metadata["steps"] == step + 5
