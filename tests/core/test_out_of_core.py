"""Training on data larger than the memory budget: frames and distillation-set samples streamed in
deterministic pools read in the background, memory bounded by the budget, the --memory-budget knob."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import torch

from hyperinr_app.cli import main
from hyperinr_core.data.dataset import open_dataset
from hyperinr_core.data.dataset_writer import write_dataset
from hyperinr_core.data.streaming import FramePools, parse_size
from hyperinr_core.model.coordnet import CoordNet
from hyperinr_core.model.field_info import FieldInfo
from hyperinr_core.train.budget import Budget, seeded_generator
from hyperinr_core.train.coordnet_teacher import TeacherJob, train_teacher
from hyperinr_core.train.distill import DistillJob, distill
from hyperinr_core.train.distill_set import build_distillation_set, distillation_params, open_distillation_set
from hyperinr_core.train.fit import FitRun, fit
from hyperinr_core.train.presets import PRESETS
from hyperinr_core.train.sampling import FrameSampler, frame_sampler

from .training_helpers import one_thread, tiny_series

_one_thread = pytest.fixture(autouse=True, scope="module")(one_thread)

SHAPE = (24, 24, 24)
FRAME_BYTES = 4 * 24**3


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    """24 frames of 24^3 whose every voxel holds the frame's index."""
    path = tmp_path_factory.mktemp("ooc") / "labelled.h5"
    frames = np.stack([np.full(SHAPE, i, np.float32) for i in range(24)])
    write_dataset(path, "tsr", ["t"], [0.0], [23.0], np.arange(24.0)[:, None], frames)
    return str(path)


def test_parse_size():
    assert parse_size("512M") == 512 << 20 and parse_size("8G") == 8 << 30 and parse_size("1.5GiB") == 3 << 29
    assert parse_size("1000") == 1000 and parse_size("64kb") == 64 << 10
    for bad in ("", "G", "-1G", "lots"):
        with pytest.raises(ValueError):
            parse_size(bad)


@pytest.mark.parametrize("prefetch", [True, False])
def test_pools_serve_the_frames_they_name_deterministically_under_the_budget(labelled, prefetch):
    budget = 9 * FRAME_BYTES  # 9 - 3 for the frame in flight = 6 slots: two pools of 3 frames
    with open_dataset(labelled) as ds:
        pools = FramePools(ds.frames, 24, SHAPE, budget, seed=3, value_range=(0.0, 23.0), prefetch=prefetch)
        try:
            assert pools.streaming and pools.pool_size == 3
            seen = set()
            for pid in [0, 1, 2, 3, 7, 8, 2]:  # in order, a jump (resume), a jump back
                idx, vals = pools.acquire(pid)
                np.testing.assert_array_equal(idx, pools.pool_indices(pid))
                np.testing.assert_allclose(vals, (idx[:, None] / 23.0).repeat(vals.shape[1], 1), rtol=1e-6)
                seen.update(idx.tolist())
            assert len(seen) > 6  # pools differ
            assert pools.peak_bytes <= budget and pools.resident_bytes() == 6 * FRAME_BYTES
        finally:
            pools.close()
        again = FramePools(ds.frames, 24, SHAPE, budget, seed=3, prefetch=not prefetch)
        assert all(np.array_equal(again.pool_indices(k), pools.pool_indices(k)) for k in range(5))
        with pytest.raises(ValueError, match="too small"):
            FramePools(ds.frames, 24, SHAPE, 3 * FRAME_BYTES)
        assert not FramePools(ds.frames, 24, SHAPE, 27 * FRAME_BYTES).streaming


def _fit_teacher(ds, budget, steps=40, refresh=4):
    """Train the tiny teacher with frames under ``budget``; also returns the most memory numpy and Python
    allocated meanwhile (tracemalloc, counted from when the sampler is made)."""
    torch.manual_seed(0)
    preset = PRESETS["tiny"]
    model = CoordNet(preset.teacher, FieldInfo.from_dataset(ds))
    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        sampler = frame_sampler(ds, torch.device("cpu"), 0, budget, refresh)
        try:
            res = fit(FitRun(
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
                None,
                {},
                progress=False,
            ))
        finally:
            sampler.close()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return sampler, res, peak - base


def test_training_streams_a_dataset_four_times_its_memory_budget_without_exceeding_it(tmp_path):
    data = tiny_series(tmp_path / "big.h5", n_frames=56, shape=SHAPE, stride=2)  # 28 training frames
    dataset_bytes = 28 * FRAME_BYTES
    budget = dataset_bytes // 4  # 7 frames: two pools of 2 and one frame in flight (3 frames of scratch)
    with open_dataset(data) as ds:
        _fit_teacher(ds, budget, steps=2)  # first calls allocate caches (imports, linecache) once
        sampler, res, streamed_peak = _fit_teacher(ds, budget)
        _, _, in_memory_peak = _fit_teacher(ds, None)
    pools = sampler.pools
    assert sampler.streaming and pools.pool_size == 2 and res.step == 40
    assert pools.peak_bytes <= budget < dataset_bytes  # what the loader held, frames in flight included
    assert pools.loads >= 20  # 10 pools of 2 frames (and the prefetched next one)
    assert np.isfinite(res.final_loss)
    # Independent of the loader's own bookkeeping: the memory numpy and Python allocated while training. The
    # in-memory run shows that this measurement sees the frames; the streamed run stays within the budget
    # (plus a little for the Python objects of a training loop).
    assert in_memory_peak >= dataset_bytes
    assert streamed_peak <= budget + 64 * 1024


def test_precomputed_distillation_set_is_streamed_under_the_budget(tmp_path, monkeypatch):
    import hyperinr_core.train.distill as distill_mod

    data = tiny_series(tmp_path / "s.h5")
    teacher = tmp_path / "t.h5"
    train_teacher(TeacherJob(data, str(teacher), preset="tiny", steps=2, progress=False))
    shape, frame_bytes = (6, 7, 8), 4 * 6 * 7 * 8
    build_distillation_set(
        CoordNet.load(teacher), distillation_params(1, 9), tmp_path / "set.h5", shape, False
    )
    dset = open_distillation_set(tmp_path / "set.h5")
    try:
        budget = 7 * frame_bytes  # two pools of 2 samples out of 9
        s = FrameSampler(dset.frames, dset.params, shape, False, memory_limit=budget, pool_steps=2)
        gen = seeded_generator(0)
        for step in range(12):
            u, x, y = s.sample(gen, 3, 40, step)
            for b in range(3):
                k = int(np.argmin(np.abs(dset.params[:, 0] - float(u[b, 0]))))
                zyx = np.rint(x[b].numpy()[:, ::-1] * (np.array(shape) - 1)).astype(int)
                want = dset.frames(np.array([k]))[0][zyx[:, 0], zyx[:, 1], zyx[:, 2]]
                np.testing.assert_allclose(y[b, :, 0].numpy(), want, rtol=1e-6)
        assert s.streaming and s.pools.peak_bytes <= budget and s.pools.loads >= 12
        s.close()
    finally:
        dset.close()

    # the job's knob reaches the sampler of the distillation set
    made = []

    class Recording(FrameSampler):
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            made.append(self)

    monkeypatch.setattr(distill_mod, "FrameSampler", Recording)
    job = DistillJob(
        data,
        str(tmp_path / "m.h5"),
        teacher=str(teacher),
        preset="tiny",
        steps=6,
        distill_set=str(tmp_path / "set.h5"),
        distill_samples=9,
        memory_budget=7 * frame_bytes,
        refresh_every=2,
        progress=False,
    )
    assert distill(job).step == 6
    assert len(made) == 1 and made[0].streaming and made[0].pools.peak_bytes <= 7 * frame_bytes


def test_cli_memory_budget_errors_are_one_line(tmp_path, capsys):
    data = tiny_series(tmp_path / "s.h5")
    base = ["train-teacher", "--data", data, "--preset", "tiny", "--steps", "2", "--quiet"]
    with pytest.raises(SystemExit):
        main([*base, "-o", str(tmp_path / "a.h5"), "--memory-budget", "lots"])
    assert "not a size" in capsys.readouterr().err
    assert main([*base, "-o", str(tmp_path / "b.h5"), "--memory-budget", "2K"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "too small" in err
    assert main([*base, "-o", str(tmp_path / "c.h5"), "--memory-budget", "8K", "--refresh-every", "1"]) == 0
