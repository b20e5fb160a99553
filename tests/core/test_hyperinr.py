"""Shared MLP layout, INR sampling, HyperINR generation/interpolation, model files."""

import h5py
import numpy as np
import pytest
import torch

from hyperinr_core import (
    INR,
    FileFormatError,
    HashGridConfig,
    HyperINR,
    HyperINRConfig,
    MLPConfig,
    grid_coordinates,
    mlp_forward,
)

ENC = HashGridConfig(3, 4, 2, 10, 4, 2.0)
MLP = MLPConfig(ENC.n_output_dims, 1, 16, 2)


def make_model(positions, names=("t",), lo=(0.0,), hi=(99.0,), k=4, seed=0):
    cfg = HyperINRConfig(ENC, MLP, list(names), list(lo), list(hi), k_neighbours=k, value_range=(-2.0, 5.0))
    m = HyperINR(cfg, positions, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():  # make encoders clearly distinct
        m.encoder_params.normal_(generator=torch.Generator().manual_seed(seed + 1))
    return m


def test_mlp_matches_padded_row_major_matmuls():
    cfg = MLPConfig(n_input_dims=20, n_output_dims=3, n_neurons=16, n_hidden_layers=3)
    assert cfg.shapes == [(16, 32), (16, 16), (16, 16), (16, 16)]
    params = torch.randn(cfg.n_params, generator=torch.Generator().manual_seed(0))
    h = torch.randn(7, 20)
    # Reference: pad input to 32 columns, multiply by each row-major matrix, ReLU between, drop padded outputs.
    a = torch.cat([h, torch.zeros(7, 12)], 1)
    start = 0
    for k, (o, i) in enumerate(cfg.shapes):
        w = params[start : start + o * i].reshape(o, i)
        start += o * i
        a = a @ w.T
        if k < len(cfg.shapes) - 1:
            a = torch.clamp(a, min=0)
    torch.testing.assert_close(mlp_forward(h, params, cfg), a[:, :3])


def test_mlp_init_zeroes_padding():
    cfg = MLPConfig(n_input_dims=20, n_output_dims=3)
    w = cfg.split(cfg.init_params(torch.Generator().manual_seed(0)))
    assert torch.all(w[0][:, 20:] == 0) and torch.all(w[-1][3:] == 0)
    assert w[1].abs().max() > 0


def test_sample_grid_is_node_centred_and_chunked():
    g = torch.Generator().manual_seed(3)
    inr = INR(torch.randn(ENC.n_params, generator=g), MLP.init_params(g), ENC, MLP)
    grid = inr.sample_grid((5, 6, 7), chunk=23)
    assert grid.shape == (5, 6, 7)
    ref = inr(grid_coordinates((5, 6, 7))).view(5, 6, 7)
    torch.testing.assert_close(grid, ref)
    # Index (z, y, x) holds coordinate (x, y, z): check one voxel explicitly.
    x = torch.tensor([[3 / 6, 2 / 5, 4 / 4]])
    torch.testing.assert_close(grid[4, 2, 3], inr(x)[0, 0])


def test_generate_1d_is_linear_interpolation_of_bracketing_encoders():
    pos = np.array([[0.0], [0.25], [0.5], [1.0]])
    m = make_model(pos)
    e = m.encoder_params.detach()
    # t = 37.125 user units -> u = 0.375, halfway between 0.25 and 0.5.
    inr = m.generate(37.125)
    torch.testing.assert_close(inr.enc_params, 0.5 * e[1] + 0.5 * e[2])
    inr = m.generate([0.8 * 99.0])  # between 0.5 and 1.0 at 60%
    torch.testing.assert_close(inr.enc_params, 0.4 * e[2] + 0.6 * e[3])
    assert inr.value_range == (-2.0, 5.0)


def test_generate_1d_clamps_and_hits_exactly():
    m = make_model(np.array([[0.0], [0.5], [1.0]]))
    e = m.encoder_params.detach()
    assert torch.equal(m.generate(-50.0).enc_params, e[0])
    assert torch.equal(m.generate(1e6).enc_params, e[2])
    assert torch.equal(m.generate(49.5).enc_params, e[1])


def test_generate_1d_periodic_wraps_from_the_last_encoder_to_the_first():
    """An azimuth over a full turn with encoders at 0, 90, 180, 270 degrees: 315 blends 270 and 0 (360)
    halfway; 360 is 0 (and, in normalized units, -0.125 is 0.875). The device path (neighbour_tensors on a tensor) agrees with numpy."""
    pos = np.array([[0.0], [0.25], [0.5], [0.75]])
    cfg = HyperINRConfig(ENC, MLP, ["azimuth"], [0.0], [360.0], periodic=[True])
    m = HyperINR(cfg, pos, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        m.encoder_params.normal_(generator=torch.Generator().manual_seed(1))
    e = m.encoder_params.detach()
    torch.testing.assert_close(m.generate(315.0).enc_params, 0.5 * e[3] + 0.5 * e[0])
    torch.testing.assert_close(m.generate(337.5).enc_params, 0.25 * e[3] + 0.75 * e[0])
    assert torch.equal(m.generate(360.0).enc_params, e[0])
    torch.testing.assert_close(m.generate(135.0).enc_params, 0.5 * e[1] + 0.5 * e[2])  # inside: as before
    u = np.array([[0.9], [0.1], [0.875], [1.0], [-0.125], [0.6]])
    idx, w = m.neighbours(u)
    tidx, tw = m._neighbours_1d(torch.from_numpy(u[:, 0]))
    np.testing.assert_array_equal(tidx.numpy(), idx)
    np.testing.assert_allclose(tw.numpy(), w, atol=1e-6)
    assert idx[0].tolist() == [3, 0] and w[0] == pytest.approx([0.4, 0.6])
    # the same model without the flag clamps at the last encoder (what a non-periodic parameter does)
    clamped = HyperINR(HyperINRConfig(ENC, MLP, ["azimuth"], [0.0], [360.0]), pos)
    assert clamped.neighbours(np.array([[0.9]]))[1][0].tolist() == [0.0, 1.0]


def test_generate_reuses_one_buffer():
    m = make_model(np.linspace(0, 1, 5)[:, None])
    a = m.generate(10.0).enc_params.data_ptr()
    b = m.generate(70.0).enc_params.data_ptr()
    assert a == b
    kept = m.generate(10.0).clone()
    m.generate(90.0)
    assert not torch.equal(kept.enc_params, m.generate(90.0).enc_params)


def test_generate_nd_is_inverse_distance_weighting():
    rng = np.random.default_rng(0)
    pos = rng.uniform(0, 1, (30, 2))
    m = make_model(pos, names=("theta", "phi"), lo=(0.0, -1.0), hi=(2.0, 1.0), k=5)
    e = m.encoder_params.detach().double()
    theta_user = np.array([0.9, 0.1])
    u = (theta_user - [0.0, -1.0]) / [2.0, 2.0]
    # Shepard's method with p = 1 over the 5 nearest encoders, written out.
    dist = np.linalg.norm(pos - u, axis=1)
    near = np.argsort(dist)[:5]
    w = (1 / dist[near]) / (1 / dist[near]).sum()
    expected = sum(wi * e[j] for wi, j in zip(w, near))
    torch.testing.assert_close(m.generate(theta_user).enc_params.double(), expected, rtol=1e-5, atol=1e-6)


def test_generate_nd_exact_hit_returns_that_encoder():
    pos = np.array([[0.1, 0.1], [0.5, 0.5], [0.9, 0.2], [0.3, 0.8]])
    m = make_model(pos, names=("a", "b"), lo=(0.0, 0.0), hi=(1.0, 1.0), k=3)
    assert torch.equal(m.generate([0.5, 0.5]).enc_params, m.encoder_params.detach()[1])


@pytest.mark.parametrize("bad", [[float("nan")], [1.0, 2.0], [float("inf")], []])
def test_bad_theta_raises_value_error(bad):
    m = make_model(np.linspace(0, 1, 3)[:, None])
    with pytest.raises(ValueError, match="theta"):
        m.generate(bad)


def test_differentiable_path_matches_generate_and_has_gradients():
    rng = np.random.default_rng(1)
    m = make_model(rng.uniform(0, 1, (12, 2)), names=("a", "b"), lo=(0, 0), hi=(1, 1), k=4)
    u = np.array([[0.3, 0.4], [0.7, 0.9]])
    x = torch.rand(2, 64, 3)
    y = m(x, u)
    assert y.shape == (2, 64, 1)
    ref = m.generate(u[1]).clone()
    torch.testing.assert_close(y[1], ref(x[1]), rtol=1e-4, atol=1e-6)
    y.abs().mean().backward()
    used = set(m.neighbours(u)[0].ravel().tolist())
    rows_with_grad = set(torch.nonzero(m.encoder_params.grad.abs().sum(1)).ravel().tolist())
    assert rows_with_grad and rows_with_grad <= used
    assert m.mlp.params.grad.abs().sum() > 0


def test_model_file_round_trip(tmp_path):
    m = make_model(np.array([[0.9], [0.1], [0.5]]))
    f = tmp_path / "m.h5"
    m.save(f)
    m2 = HyperINR.load(f)
    assert m2.cfg.to_dict() == m.cfg.to_dict()
    for t in (0.0, 33.3, 77.0, 99.0):
        torch.testing.assert_close(m2.generate(t).enc_params, m.generate(t).clone().enc_params)
    torch.testing.assert_close(m2.mlp.params, m.mlp.params)


def _write_bad(path, mutate):
    m = make_model(np.linspace(0, 1, 3)[:, None])
    m.save(path)
    with h5py.File(path, "a") as f:
        mutate(f)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda f: f.attrs.__setitem__("version", 99), "unsupported model file version"),
        (lambda f: f.attrs.__setitem__("format", "other"), "not a HyperINR model file"),
        (lambda f: f.__delitem__("mlp_params"), "missing dataset"),
        (lambda f: f["encoder_params"].__setitem__((0, 0), np.nan), "NaN"),
        (lambda f: f.attrs.__setitem__("config", "{not json"), "config"),
    ],
)
def test_malformed_model_files_name_file_and_problem(tmp_path, mutate, message):
    path = tmp_path / "bad.h5"
    _write_bad(path, mutate)
    with pytest.raises(FileFormatError, match=message) as info:
        HyperINR.load(path)
    assert str(path) in str(info.value)


def test_truncated_and_missing_files(tmp_path):
    path = tmp_path / "m.h5"
    make_model(np.linspace(0, 1, 3)[:, None]).save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(FileFormatError, match=str(path)):
        HyperINR.load(path)
    with pytest.raises(FileFormatError, match="no such file"):
        HyperINR.load(tmp_path / "absent.h5")


def test_failed_save_keeps_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "m.h5"
    m = make_model(np.linspace(0, 1, 3)[:, None])
    m.save(path)
    before = path.read_bytes()
    import hyperinr_core.model.modelfile as mf

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(mf.h5py.Group, "create_dataset", boom)
    with pytest.raises(OSError):
        m.save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.h5"]


def test_float16_encoder_storage_halves_the_file_and_loads_as_float32(tmp_path):
    m = make_model(np.linspace(0, 1, 6)[:, None])
    m.save(tmp_path / "a.h5")
    m.save(tmp_path / "b.h5", encoder_dtype="float16")
    a, b = (tmp_path / "a.h5").stat().st_size, (tmp_path / "b.h5").stat().st_size
    assert b < 0.6 * a
    m2 = HyperINR.load(tmp_path / "b.h5")
    assert m2.encoder_params.dtype == torch.float32
    torch.testing.assert_close(m2.encoder_params, m.encoder_params, rtol=1e-3, atol=1e-4)
