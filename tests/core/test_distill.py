"""Distillation: the training encoder matches hash_encode, the distillation set's shape and reuse, and
distilled / direct / on-demand HyperINR training end to end at tiny sizes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hyperinr_core import HashGridConfig, HyperINR, hash_encode
from hyperinr_core.errors import FileFormatError
from hyperinr_core.model.coordnet import CoordNet
from hyperinr_core.model.field_info import FieldInfo
from hyperinr_core.model.positions import encoder_positions
from hyperinr_core.model.training_encoder import TrainingEncoder
from hyperinr_core.train.coordnet_teacher import TeacherJob, train_teacher
from hyperinr_core.train.distill import DistillJob, distill, hyperinr_query
from hyperinr_core.train.distill_set import (
    build_distillation_set,
    default_distill_set_path,
    distillation_params,
    open_distillation_set,
    teacher_fingerprint,
)
from hyperinr_core.train.presets import PRESETS

from .training_helpers import one_thread, tiny_images, tiny_series

_one_thread = pytest.fixture(autouse=True, scope="module")(one_thread)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp("distill")
    data = tiny_series(d / "series.h5")
    teacher = d / "teacher.h5"
    train_teacher(TeacherJob(data, str(teacher), preset="tiny", steps=3, progress=False))
    return d, data, str(teacher)


@pytest.mark.parametrize("dims", [2, 3])
def test_training_encoder_matches_hash_encode_values_and_gradients(dims):
    cfg = HashGridConfig(dims, 5, 2, 9, 2, 1.7)
    g = torch.Generator().manual_seed(0)
    p = (torch.rand(3, cfg.n_params, generator=g) - 0.5).requires_grad_()
    x = torch.rand(3, 200, dims, generator=g)
    w = torch.randn(3, 200, cfg.n_output_dims, generator=g)
    ref = hash_encode(x, p, cfg)
    (ga,) = torch.autograd.grad((ref * w).sum(), p)
    enc = TrainingEncoder(cfg, compile=False)
    out = enc(x, p)
    (gb,) = torch.autograd.grad((out * w).sum(), p)
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(gb, ga, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(enc(x[0], p[0]), hash_encode(x[0], p[0], cfg))


def test_training_encoder_mixture_matches_blending_the_gathered_tables():
    """The mixture blends K of E tables per row as a product with the dense blend weights (and its
    backward as the transposed product): the values and every table's gradient, untouched tables zero,
    are those of gathering the K tables and blending them."""
    cfg = HashGridConfig(3, 4, 2, 8, 2, 1.5)
    g = torch.Generator().manual_seed(1)
    tables = (torch.rand(6, cfg.n_params, generator=g) - 0.5).requires_grad_()
    x = torch.rand(3, 150, 3, generator=g)
    kidx = torch.tensor([[0, 2], [2, 5], [5, 5]])
    kw = torch.tensor([[0.25, 0.75], [0.5, 0.5], [0.4, 0.6]])
    w = torch.randn(3, 150, cfg.n_output_dims, generator=g)
    enc = TrainingEncoder(cfg, compile=False)
    blended = torch.einsum("bk,bkp->bp", kw, tables[kidx])
    ref = hash_encode(x, blended, cfg)
    (ga,) = torch.autograd.grad((ref * w).sum(), tables)
    out = enc.mixture(x, tables, kidx, kw)
    (gb,) = torch.autograd.grad((out * w).sum(), tables)
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(gb, ga, rtol=1e-5, atol=1e-5)
    assert gb[[1, 3, 4]].abs().max() == 0 and gb[[0, 2, 5]].abs().amax(dim=1).min() > 0


def test_hyperinr_query_is_the_stateless_forward(trained):
    d, data, _ = trained
    from hyperinr_core.data.dataset import open_dataset
    from hyperinr_core.train.distill import new_hyperinr

    with open_dataset(data) as ds:
        info = FieldInfo.from_dataset(ds)
    model = new_hyperinr(info, PRESETS["tiny"], 4, np.array([[0.0], [1.0]]), seed=0)
    u = torch.tensor([[0.1], [0.7]])
    x = torch.rand(2, 30, 3)
    torch.testing.assert_close(hyperinr_query(model, compile=False)(u, x), model(x, u))


def test_distillation_and_encoder_positions():
    p = distillation_params(1, 11)
    np.testing.assert_allclose(p[:, 0], np.linspace(0, 1, 11))
    train_u = np.array([[0.2, 0.2], [0.8, 0.5]])
    q = distillation_params(2, 40, train_u, seed=1)
    assert q.shape[1] == 2 and 25 <= len(q) <= 45 and (q >= 0).all() and (q <= 1).all()
    # the Gaussian kernels pull samples towards the training parameters
    near = np.min(np.linalg.norm(q[:, None] - train_u[None], axis=-1), axis=1)
    assert np.sum(near < 0.1) >= 5
    assert encoder_positions(1, 5).shape == (5, 1)
    assert len(encoder_positions(2, 30, train_u)) >= 10


def test_distillation_set_shape_values_and_reuse(trained, tmp_path):
    d, data, teacher_path = trained
    teacher = CoordNet.load(teacher_path)
    params = distillation_params(1, 5)
    path = tmp_path / "set.h5"
    build_distillation_set(teacher, params, path, (6, 7, 8), progress=False)
    fp = teacher_fingerprint(teacher)
    s = open_distillation_set(path, fp, params, (6, 7, 8))
    try:
        vals = s.frames(np.arange(5))
        assert vals.shape == (5, 6, 7, 8) and vals.dtype == np.float32
        np.testing.assert_allclose(vals[3], teacher.predict_grid(params[3], (6, 7, 8)), atol=1e-6)
    finally:
        s.close()
    with pytest.raises(FileFormatError, match="different teacher"):
        open_distillation_set(path, "0" * 64)
    with pytest.raises(FileFormatError, match="other parameters"):
        open_distillation_set(path, fp, distillation_params(1, 4))


def test_distill_builds_then_reuses_the_set_and_writes_a_hyperinr(trained):
    d, data, teacher = trained
    out = d / "m.h5"
    job = DistillJob(data, str(out), teacher=teacher, preset="tiny", steps=4, compile=False, progress=False)
    r = distill(job)
    assert r.step == 4 and out.exists()
    dset = default_distill_set_path(out)
    stamp = dset.stat().st_mtime_ns
    model = HyperINR.load(out)
    assert model.n_encoders == 5  # one per training frame (tiny preset)
    assert model.cfg.metadata["trained"] == "distilled"
    job.out = str(d / "m2.h5")
    job.distill_set = str(dset)
    distill(job)
    assert dset.stat().st_mtime_ns == stamp  # reused, not rebuilt


def test_direct_and_on_demand_training(trained):
    d, data, teacher = trained
    r = distill(
        DistillJob(
            data, str(d / "direct.h5"), teacher=None, preset="tiny", steps=3, compile=False, progress=False
        )
    )
    assert r.step == 3 and HyperINR.load(d / "direct.h5").cfg.metadata["trained"] == "direct"
    distill(
        DistillJob(
            data,
            str(d / "od.h5"),
            teacher=teacher,
            preset="tiny",
            steps=3,
            on_demand=True,
            compile=False,
            progress=False,
        )
    )
    assert (d / "od.h5").exists() and not default_distill_set_path(d / "od.h5").exists()


def test_image_task_direct_training(tmp_path):
    data = tiny_images(tmp_path / "img.h5")
    out = tmp_path / "img_model.h5"
    distill(DistillJob(data, str(out), preset="tiny", steps=2, compile=False, progress=False))
    m = HyperINR.load(out)
    assert (
        m.cfg.encoding.n_input_dims == 2
        and m.cfg.mlp.n_output_dims == 3
        and m.cfg.encoding.base_resolution == 8
    )
