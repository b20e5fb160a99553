"""Baselines: LERP is exact at the training frames and linear between them; HashINR (OneBlob + hash grid)
saves, loads and trains with the shared loop."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hyperinr_core.data.dataset import open_dataset
from hyperinr_core.errors import FileFormatError
from hyperinr_core.eval.baselines import Lerp
from hyperinr_core.model.hashinr import HashINR, HashINRConfig, one_blob
from hyperinr_core.train.hashinr_train import HashINRJob, train_hashinr
from hyperinr_core.model.encoding import HashGridConfig
from hyperinr_core.model.field_info import FieldInfo

from .training_helpers import one_thread, tiny_images, tiny_series

_one_thread = pytest.fixture(autouse=True, scope="module")(one_thread)


def test_lerp_is_exact_at_training_frames_and_linear_between(tmp_path):
    with open_dataset(tiny_series(tmp_path / "s.h5", n_frames=9, stride=4)) as ds:
        lerp = Lerp(ds)
        u = ds.normalized_params()
        for i in ds.train_indices:  # 0, 4, 8
            np.testing.assert_array_equal(lerp.predict(u[i]), ds.frame(i))
        # frame 1 lies a quarter of the way from frame 0 to frame 4
        want = 0.75 * ds.frame(0) + 0.25 * ds.frame(4)
        np.testing.assert_allclose(lerp.predict(u[1]), want, rtol=1e-6, atol=1e-6)
        idx, w = lerp.weights(u[2])
        assert list(idx) == [0, 4] and np.allclose(w, [0.5, 0.5])


def test_lerp_clamps_outside_the_training_range(tmp_path):
    with open_dataset(tiny_series(tmp_path / "s.h5", n_frames=9, stride=3)) as ds:  # trains on 0, 3, 6
        lerp = Lerp(ds)
        np.testing.assert_array_equal(lerp.predict([1.0]), ds.frame(6))


def test_lerp_idw_in_two_dimensions(tmp_path):
    with open_dataset(tiny_images(tmp_path / "i.h5")) as ds:
        lerp = Lerp(ds)
        u = ds.normalized_params()
        for i in ds.train_indices:
            np.testing.assert_array_equal(lerp.predict(u[i]), ds.frame(i))
        idx, w = lerp.weights([0.5, 0.5])
        assert np.isclose(w.sum(), 1.0) and (w > 0).all() and set(idx) <= set(ds.train_indices)
        d = np.linalg.norm(u[idx] - 0.5, axis=1)
        np.testing.assert_allclose(w, (1 / d) / (1 / d).sum())  # p = 1


def test_one_blob_is_a_normalized_bump_at_the_value():
    u = torch.tensor([[0.0], [0.52], [1.0]])
    b = one_blob(u, 16)
    assert b.shape == (3, 16)
    assert int(b[1].argmax()) == 8  # 0.52 falls in bin 8 of 16
    assert int(b[0].argmax()) == 0 and int(b[2].argmax()) == 15
    assert torch.all(b[1].sum() > 0.99)  # a value inside keeps (almost) all of its Gaussian's mass


def test_hashinr_save_load_and_train(tmp_path):
    data = tiny_series(tmp_path / "s.h5")
    with open_dataset(data) as ds:
        info = FieldInfo.from_dataset(ds)
    cfg = HashINRConfig(HashGridConfig(3, 4, 2, 10, 2, 2.0), n_bins=4, mlp_neurons=16, mlp_hidden_layers=2)
    m = HashINR(cfg, info, generator=torch.Generator().manual_seed(0))
    path = tmp_path / "h.h5"
    m.save(path)
    m2 = HashINR.load(path)
    x, u = torch.rand(2, 10, 3), torch.rand(2, 1)
    torch.testing.assert_close(m.query(u, x), m2.query(u, x))
    assert m2.predict_grid([0.5]).shape == (6, 7, 8)
    with pytest.raises(FileFormatError, match="holds a 'hashinr' model"):
        from hyperinr_core.model.coordnet import CoordNet

        CoordNet.load(path)
    out = tmp_path / "trained.h5"
    r = train_hashinr(
        HashINRJob(data, str(out), preset="tiny", steps=3, log2_hashmap_size=10, progress=False)
    )
    assert r.step == 3 and HashINR.load(out).cfg.encoding.log2_hashmap_size == 10
