"""hash_encode against a deliberately naive, per-point transcription of tiny-cuda-nn's GridEncoding."""

import math

import numpy as np
import pytest
import torch

from hyperinr_core.model.encoding import HashGridConfig, hash_encode
from hyperinr_core.model.hash_grid import HashGrid

PRIMES = [1, 2654435761, 805459861, 3674653429]


def naive_layout(cfg):
    """Per level (scale, resolution, size), written out from the tcnn source, independent of the package."""
    out = []
    for level in range(cfg.n_levels):
        scale = np.float32(2.0 ** (level * math.log2(cfg.per_level_scale))) * np.float32(cfg.base_resolution)
        scale = np.float32(scale - np.float32(1.0))
        res = int(math.ceil(float(scale))) + 1
        size = min(res**cfg.n_input_dims, 2**cfg.log2_hashmap_size)
        size = (size + 7) // 8 * 8
        out.append((scale, res, size))
    return out


def naive_encode(x: np.ndarray, params: np.ndarray, cfg) -> np.ndarray:
    d, F = cfg.n_input_dims, cfg.n_features_per_level
    layout = naive_layout(cfg)
    result = np.zeros((len(x), cfg.n_levels * F), np.float64)
    for n, point in enumerate(x):
        offset = 0
        for level, (scale, res, size) in enumerate(layout):
            table = params[offset * F : (offset + size) * F].reshape(size, F)
            pos = [np.float32(np.float32(point[i]) * scale + np.float32(0.5)) for i in range(d)]
            cell = [int(math.floor(p)) for p in pos]
            frac = [float(p) - c for p, c in zip(pos, cell)]
            for corner in range(2**d):
                w, c = 1.0, []
                for i in range(d):
                    bit = (corner >> i) & 1
                    w *= frac[i] if bit else 1.0 - frac[i]
                    c.append(cell[i] + bit)
                if res**d <= size:
                    idx = sum(c[i] * res**i for i in range(d))
                else:
                    idx = 0
                    for i in range(d):
                        idx ^= (c[i] * PRIMES[i]) & 0xFFFFFFFF
                idx %= size
                result[n, level * F : (level + 1) * F] += w * table[idx]
            offset += size
    return result


CONFIGS = [
    HashGridConfig(d, levels, feats, log2, base, scale)
    for d, levels, feats, log2, base, scale in [
        (2, 4, 2, 8, 4, 2.0),
        (2, 5, 4, 10, 16, 1.5),
        (3, 4, 2, 10, 4, 2.0),
        (3, 4, 4, 12, 16, 1.5),
        (3, 6, 1, 9, 4, 1.5),
        (3, 3, 8, 11, 16, 2.0),
    ]
]


def test_configs_cover_dense_and_hashed_levels():
    kinds = set()
    for cfg in CONFIGS:
        for scale, res, size in naive_layout(cfg):
            kinds.add(res**cfg.n_input_dims <= size)
    assert kinds == {True, False}


@pytest.mark.parametrize("cfg", CONFIGS, ids=str)
def test_n_params_matches_tcnn_formula(cfg):
    expected = sum(size for _, _, size in naive_layout(cfg)) * cfg.n_features_per_level
    assert cfg.n_params == expected
    assert cfg.n_output_dims == cfg.n_levels * cfg.n_features_per_level


@pytest.mark.parametrize("cfg", CONFIGS, ids=str)
def test_hash_encode_matches_naive_tcnn(cfg):
    g = torch.Generator().manual_seed(1)
    params = torch.empty(cfg.n_params).uniform_(-1, 1, generator=g)
    d = cfg.n_input_dims
    x = torch.rand(40, d, generator=g)
    # Faces and corners of the cube, the upper face x = 1 included.
    x[:8] = torch.tensor([[(c >> i) & 1 for i in range(d)] for c in range(8)], dtype=torch.float32)
    x[8:12, 0] = 1.0
    x[12:14] = 0.5
    got = hash_encode(x, params, cfg).double().numpy()
    ref = naive_encode(x.numpy(), params.numpy(), cfg)
    np.testing.assert_allclose(got, ref, atol=2e-5, rtol=1e-5)


def test_batched_params_equal_per_row_calls():
    cfg = HashGridConfig(3, 4, 2, 10, 4, 2.0)
    g = torch.Generator().manual_seed(2)
    params = torch.randn(3, cfg.n_params, generator=g)
    x = torch.rand(3, 50, 3, generator=g)
    batched = hash_encode(x, params, cfg)
    for b in range(3):
        torch.testing.assert_close(batched[b], hash_encode(x[b], params[b], cfg))


def test_chunking_does_not_change_results():
    cfg = HashGridConfig(3, 4, 2, 10, 4, 2.0)
    p = torch.randn(cfg.n_params)
    x = torch.rand(1000, 3)
    torch.testing.assert_close(hash_encode(x, p, cfg, chunk=97), hash_encode(x, p, cfg))


def test_gradient_reaches_exactly_the_touched_entries():
    cfg = HashGridConfig(2, 2, 2, 6, 4, 2.0)
    p = torch.zeros(cfg.n_params, requires_grad=True)
    x = torch.tensor([[0.3, 0.6]])
    hash_encode(x, p, cfg).sum().backward()
    # Each level touches at most 4 corners of F features; weights of a level sum to 1 per feature.
    nonzero = (p.grad != 0).sum().item()
    assert 0 < nonzero <= cfg.n_levels * 4 * cfg.n_features_per_level
    assert p.grad.sum().item() == pytest.approx(cfg.n_levels * cfg.n_features_per_level, rel=1e-5)


def test_module_and_init_range():
    cfg = HashGridConfig()
    grid = HashGrid(cfg, torch.Generator().manual_seed(0))
    assert grid.params.abs().max() <= 1e-4
    assert grid(torch.rand(5, 3)).shape == (5, 32)
    assert cfg.n_params == 674048  # the paper's encoder: 64 + 512 + 4096 + 5 * 32768 entries, 4 features


def test_bad_config_and_input_raise():
    with pytest.raises(ValueError):
        HashGridConfig(n_features_per_level=3)
    cfg = HashGridConfig(2, 2, 2, 6, 4, 2.0)
    with pytest.raises(ValueError, match="dims"):
        hash_encode(torch.rand(3, 3), torch.zeros(cfg.n_params), cfg)
    with pytest.raises(ValueError, match="params"):
        hash_encode(torch.rand(3, 2), torch.zeros(7), cfg)
