"""INR -> texture decoding: agrees with the reference grid sampler, bounded-memory slabs, resolution ladder."""

import pytest
import torch

from hyperinr_core import INR, HashGridConfig, MLPConfig
from hyperinr_renderer.decode import Decoder, DecoderConfig, native_shape, resolution_ladder


@pytest.fixture(scope="module")
def inr():
    # Random weights scaled so the values span most of [0, 1] (ReLU MLP: output scales with the 5th power of
    # a common weight factor), so errors relative to the value range mean something; no training needed.
    g = torch.Generator().manual_seed(0)
    enc = HashGridConfig(3, 4, 2, 12, 4, 2.0)
    mlp = MLPConfig(enc.n_output_dims, 1)
    return INR(enc.init_params(g) * 1e4, mlp.init_params(g) * 8 ** 0.2, enc, mlp)


def value_range(grid: torch.Tensor) -> float:
    return float(grid.max() - grid.min())


def test_decode_matches_reference_sampler(inr):
    ref = inr.sample_grid((9, 12, 10)).clamp(0, 1)
    out = Decoder(DecoderConfig(dtype="float32", compile=False)).decode(inr, (9, 12, 10))
    assert out.shape == (9, 12, 10) and out.dtype == torch.float32
    assert value_range(ref) > 0.5
    assert torch.allclose(out, ref, atol=1e-5)


def test_compiled_half_texture_error_below_1e3_of_range(inr):
    """The default path (compiled evaluator, float32 MLP, float16 texture) stays within 1e-3 of the range."""
    ref = inr.sample_grid(16).clamp(0, 1)
    dec = Decoder()
    assert dec.cfg.mlp_dtype == "auto" and dec.cfg.dtype == "float16"
    out = dec.decode(inr, 16)
    assert dec.evaluator(inr).mlp_dtype == torch.float32  # the torch backend's own on a CPU
    assert out.dtype == torch.float16
    err = float((out.float() - ref).abs().max())
    assert err < 1e-3 * value_range(ref)


def test_slab_decoding_equals_full_grid(inr):
    full = Decoder(DecoderConfig(dtype="float32", compile=False)).decode(inr, (7, 11, 13))
    slabs = Decoder(DecoderConfig(dtype="float32", compile=False, coord_cache_points=10, slab_points=50))
    assert slabs.coordinates((7, 11, 13), torch.device("cpu")) is None  # above the cache: slab path
    assert torch.allclose(slabs.decode(inr, (7, 11, 13)), full, atol=1e-6)  # matmul rounding varies by batch


def test_coordinates_are_cached_per_resolution():
    dec = Decoder(DecoderConfig(compile=False))
    a = dec.coordinates((4, 4, 4), torch.device("cpu"))
    assert a is dec.coordinates((4, 4, 4), torch.device("cpu"))
    assert a is not dec.coordinates((5, 5, 5), torch.device("cpu"))


def test_shadow_decode_and_preallocated_output(inr):
    dec = Decoder(DecoderConfig(dtype="float32", compile=False))
    out = torch.empty(6, 6, 6)
    got = dec.decode_shadow(inr, 6, out=out)
    assert got is out and float(out.min()) >= 0.0 and float(out.max()) <= 1.0


def test_resolution_ladder():
    assert resolution_ladder(128) == [(32, 32, 32), (64, 64, 64), (128, 128, 128)]
    assert resolution_ladder(32) == [(32, 32, 32)]
    lad = resolution_ladder((100, 240, 320), start=32)
    assert lad[0] == (10, 24, 32) and lad[-1] == (100, 240, 320)
    assert all(max(a) < max(b) for a, b in zip(lad, lad[1:]))


def test_native_shape_from_metadata():
    class Cfg:
        metadata = {"grid_shape": [48, 64, 80]}

    class Model:
        cfg = Cfg()

    assert native_shape(Model()) == (48, 64, 80)
    assert native_shape(object(), default=96) == (96, 96, 96)


def test_rejects_2d_inr():
    enc = HashGridConfig(2, 2, 2, 8, 4, 2.0)
    mlp = MLPConfig(enc.n_output_dims, 1)
    with pytest.raises(ValueError, match="3-D"):
        Decoder(DecoderConfig(compile=False)).decode(INR(enc.init_params(), mlp.init_params(), enc, mlp), 4)


def test_decode_points_matches_grid_decode(inr):
    """Any part of the grid (here one z-plane and a y-row) decodes alone to the values of the full grid."""
    from hyperinr_core.model.inr import grid_coordinates

    dec = Decoder(DecoderConfig(dtype="float32", compile=False))
    full = dec.decode(inr, (9, 12, 10))
    plane = grid_coordinates((12, 10))  # (x, y) of every node of one z-plane
    z = torch.full((plane.shape[0], 1), 4 / 8)
    vals = dec.decode_points(inr, torch.cat([plane, z], 1))
    assert vals.shape == (120,) and vals.dtype == torch.float32
    assert torch.allclose(vals.view(12, 10), full[4], atol=1e-6)
    assert float(vals.min()) >= 0.0 and float(vals.max()) <= 1.0
    with pytest.raises(ValueError, match="2-D"):
        dec.decode_points(inr, plane)
