"""Run under torchrun by test_distributed.py (and called in-process for the single-process reference).

``python ddp_worker.py DATA OUT_DIR``: two teacher fits on the tiny series, 60 steps each:
- ``full``: uninterrupted, a checkpoint every 20 steps;
- ``cut``: the last rank presses Ctrl-C while step 25 is sampled; the checkpoint must come from rank 0.
Rank 0 writes ``OUT_DIR/<run>.json`` (loss curve, step, parameters); every call of ``write_checkpoint``
is logged to ``OUT_DIR/writes.rank<R>.txt``.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import torch

STEPS = 60


class CtrlCAt:
    def __init__(self, inner, at: int, rank: int | None):
        self.inner, self.at, self.rank = inner, at, rank
        self.shard = inner.shard

    def sample(self, gen, b, m, step=0):
        self.inner.shard = self.shard
        me = int(os.environ.get("RANK", "0"))
        if step == self.at and (self.rank is None or me == self.rank):
            signal.raise_signal(signal.SIGINT)
        return self.inner.sample(gen, b, m, step)


def teacher_run(data: str, ckpt: Path | None, steps: int = STEPS, ctrl_c_rank=None, resume=None, every=None):
    from hyperinr_core.data.dataset import open_dataset
    from hyperinr_core.model.coordnet import CoordNet
    from hyperinr_core.model.field_info import FieldInfo
    from hyperinr_core.train.budget import Budget, seeded_generator
    from hyperinr_core.train.fit import FitRun, fit
    from hyperinr_core.train.presets import PRESETS
    from hyperinr_core.train.sampling import frame_sampler

    torch.manual_seed(0)
    preset = PRESETS["tiny"]
    with open_dataset(data) as ds:
        model = (
            CoordNet(preset.teacher, FieldInfo.from_dataset(ds)) if resume is None else CoordNet.load(ckpt)
        )
        sampler = frame_sampler(ds, torch.device("cpu"), 0)
        if ctrl_c_rank is not None:
            sampler = CtrlCAt(sampler, 25, ctrl_c_rank if ctrl_c_rank >= 0 else None)
        result = None
        try:
            result = fit(FitRun(
                "t",
                list(model.parameters()),
                model.query,
                sampler,
                preset.teacher_fit,
                Budget(steps=steps),
                seeded_generator(0),
                model.model_file,
                torch.device("cpu"),
                False,
                ckpt,
                {"x": 1},
                resume_from=resume,
                checkpoint_every_steps=every,
                progress=False,
            ))
        except KeyboardInterrupt:
            pass
    return model, result


def _record(model, result) -> dict:
    return {
        "step": None if result is None else result.step,
        "losses": None if result is None else result.losses,
        "params": [p.detach().reshape(-1).tolist() for p in model.parameters()],
    }


def main(data: str, out_dir: str) -> None:
    import hyperinr_core.train.loop as training
    from hyperinr_core.train.distributed import init_from_env, shutdown

    out = Path(out_dir)
    ctx = init_from_env("cpu")
    real_write = training.write_checkpoint

    def logged_write(path, *args, **kwargs):
        with open(out / f"writes.rank{ctx.rank}.txt", "a") as f:
            f.write(f"{path}\n")
        return real_write(path, *args, **kwargs)

    training.write_checkpoint = logged_write
    try:
        full_dir, cut_dir = out / "full", out / "cut"
        full_dir.mkdir(exist_ok=True)
        cut_dir.mkdir(exist_ok=True)
        model, result = teacher_run(data, full_dir / "t.ckpt.h5", every=20)
        if ctx.is_main:
            (out / "full.json").write_text(json.dumps(_record(model, result)))
        model, result = teacher_run(data, cut_dir / "t.ckpt.h5", ctrl_c_rank=ctx.world_size - 1)
        if ctx.is_main:
            (out / "cut.json").write_text(
                json.dumps({"world_size": ctx.world_size, **_record(model, result)})
            )
    finally:
        training.write_checkpoint = real_write
        shutdown()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
