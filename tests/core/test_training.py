"""Training loop: budgets, checkpoints (no pickle), exact resume after Ctrl-C, sampling, CLI errors."""

from __future__ import annotations

import os
import signal

import h5py
import numpy as np
import pytest
import torch

from hyperinr_app.cli import main
from hyperinr_core.data.dataset import open_dataset
from hyperinr_core.errors import HyperINRError
from hyperinr_core.model.coordnet import CoordNet
from hyperinr_core.model.field_info import FieldInfo
from hyperinr_core.train.budget import Budget, LRSchedule, seeded_generator
from hyperinr_core.train.checkpoint import checkpoint_path, decode_tree, encode_tree, read_checkpoint
from hyperinr_core.train.coordnet_teacher import TeacherJob, train_teacher
from hyperinr_core.train.fit import FitRun, fit
from hyperinr_core.train.presets import PRESETS
from hyperinr_core.train.sampling import frame_sampler, node_coordinates

from .training_helpers import one_thread, tiny_series

_one_thread = pytest.fixture(autouse=True, scope="module")(one_thread)


@pytest.fixture()
def series(tmp_path):
    return tiny_series(tmp_path / "series.h5")


def test_budget_and_schedule():
    b = Budget(steps=10, minutes=1.0)
    assert b.fraction(5, 0.0) == 0.5 and b.fraction(1, 45.0) == 0.75 and b.done(10, 0.0)
    with pytest.raises(HyperINRError):
        Budget()
    with pytest.raises(HyperINRError):
        Budget(steps=0)
    s = LRSchedule(1e-3, decay_fraction=0.5, final_factor=0.1)
    assert s(0.2) == 1e-3 and s(1.0) == pytest.approx(1e-4) and 1e-4 < s(0.75) < 1e-3


def test_optimizer_state_round_trips_through_json_and_arrays():
    p = torch.nn.Parameter(torch.randn(5))
    opt = torch.optim.Adam([p], lr=1e-3)
    p.sum().backward()
    opt.step()
    arrays: dict = {}
    tree = encode_tree(opt.state_dict(), arrays, "t")
    import json

    back = decode_tree(json.loads(json.dumps(tree)), arrays)
    ref = opt.state_dict()
    assert set(back["state"]) == {0}
    for k, v in ref["state"][0].items():
        assert torch.equal(back["state"][0][k], v) and back["state"][0][k].dtype == v.dtype
    assert back["param_groups"][0]["betas"] == ref["param_groups"][0]["betas"]


def test_frame_sampler_targets_are_the_voxels_at_the_coordinates(series):
    with open_dataset(series) as ds:
        s = frame_sampler(ds, torch.device("cpu"), seed=0)
        u, x, y = s.sample(seeded_generator(3), 3, 50)
        assert u.shape == (3, 1) and x.shape == (3, 50, 3) and y.shape == (3, 50, 1)
        lo, hi = FieldInfo.from_dataset(ds).value_range
        train = ds.train_indices
        for b in range(3):
            k = int(np.argmin(np.abs(ds.normalized_params()[train, 0] - float(u[b, 0]))))
            frame = ds.frame(int(train[k]))
            zyx = np.rint(x[b].numpy()[:, ::-1] * (np.array(frame.shape) - 1)).astype(int)
            want = (frame[zyx[:, 0], zyx[:, 1], zyx[:, 2]] - lo) / (hi - lo)
            np.testing.assert_allclose(y[b, :, 0].numpy(), want, rtol=1e-5, atol=1e-6)
    # node-centred: the last index maps to exactly 1
    np.testing.assert_array_equal(
        node_coordinates(torch.tensor([6 * 7 * 8 - 1]), (6, 7, 8)).numpy(), [[1, 1, 1]]
    )


class _CtrlCAt:
    """Wraps a sampler and presses Ctrl-C (SIGINT) while step ``at`` is sampled."""

    def __init__(self, inner, at):
        self.inner, self.at = inner, at

    def sample(self, gen, b, m, step=0):
        if step == self.at:
            signal.raise_signal(signal.SIGINT)
        return self.inner.sample(gen, b, m, step)


def _teacher_run(ds, ckpt, steps, sampler_wrap=None, resume=None):
    torch.manual_seed(0)
    info = FieldInfo.from_dataset(ds)
    preset = PRESETS["tiny"]
    if resume is None:
        model = CoordNet(preset.teacher, info)
    else:
        model = CoordNet.load(ckpt)
    sampler = frame_sampler(ds, torch.device("cpu"), 0)
    if sampler_wrap:
        sampler = sampler_wrap(sampler)
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
        progress=False,
    ))
    return model, result


def test_ctrl_c_saves_a_checkpoint_and_resume_follows_the_same_loss_curve(series, tmp_path):
    ckpt = tmp_path / "t.ckpt.h5"
    with open_dataset(series) as ds:
        ref_model, ref = _teacher_run(ds, None, 12)
        with pytest.raises(KeyboardInterrupt):
            _teacher_run(ds, ckpt, 12, lambda s: _CtrlCAt(s, 5))
        assert ckpt.exists()
        c = read_checkpoint(ckpt)
        assert c.state["step"] == 6 and c.state["job"] == {"x": 1}  # the step in flight completes
        with h5py.File(ckpt) as f:  # a checkpoint is a model file plus a /checkpoint group, no pickles
            assert f.attrs["kind"] == "coordnet" and "checkpoint/rng/generator" in f
        model, res = _teacher_run(ds, ckpt, 12, resume=c)
    assert res.step == 12
    assert [s for s, _ in res.losses] == [s for s, _ in ref.losses]
    np.testing.assert_allclose([v for _, v in res.losses], [v for _, v in ref.losses], rtol=1e-5)
    for a, b in zip(model.parameters(), ref_model.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)


def test_train_teacher_job_writes_model_and_removes_checkpoint(series, tmp_path):
    out = tmp_path / "teacher.h5"
    r = train_teacher(
        TeacherJob(series, str(out), preset="tiny", steps=5, checkpoint_every_steps=2, progress=False)
    )
    assert r.step == 5 and out.exists() and not checkpoint_path(out).exists()
    m = CoordNet.load(out)
    assert m.info.param_names == ["t"] and m.info.frame_shape == [6, 7, 8]
    # same seed, same steps -> same weights (reproducible on CPU)
    out2 = tmp_path / "teacher2.h5"
    train_teacher(TeacherJob(series, str(out2), preset="tiny", steps=5, progress=False))
    for a, b in zip(m.parameters(), CoordNet.load(out2).parameters(), strict=True):
        assert torch.equal(a, b)


def test_cli_train_teacher_errors_are_one_line_and_never_overwrite(series, tmp_path, capsys):
    out = tmp_path / "t.h5"
    assert (
        main(
            ["train-teacher", "--data", series, "-o", str(out), "--preset", "tiny", "--steps", "3", "--quiet"]
        )
        == 0
    )
    before = out.read_bytes()
    capsys.readouterr()
    assert main(["train-teacher", "--data", series, "-o", str(out), "--preset", "tiny", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "exists" in err
    assert out.read_bytes() == before
    # resume without a checkpoint, a truncated dataset, a bad budget: one line each, exit 2
    assert main(["train-teacher", "--data", series, "-o", str(tmp_path / "n.h5"), "--resume", "--quiet"]) == 2
    bad = tmp_path / "bad.h5"
    bad.write_bytes(open(series, "rb").read()[:3000])
    assert main(["train-teacher", "--data", str(bad), "-o", str(tmp_path / "x.h5"), "--quiet"]) == 2
    assert main(["train-teacher", "--data", series, "-o", str(tmp_path / "y.h5"), "--steps", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 3 and "Traceback" not in err
    assert not os.path.exists(tmp_path / "x.h5") and not os.path.exists(tmp_path / "y.h5")
