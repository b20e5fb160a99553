"""The napari plugin's lazy array and layer data, without napari: indexing as NumPy does, plane vs volume
decoding, the cache, n-D shapes, values equal to the core API's generate + sample_grid."""

from pathlib import Path

import numpy as np
import pytest
import torch

from hyperinr_app.napari.lazy import ParameterVolumes, default_steps, make_decoder, training_shape
from hyperinr_core import HashGridConfig, HyperINR, HyperINRConfig, MLPConfig

ASSETS = Path(__file__).resolve().parents[2] / "assets"


@pytest.fixture(scope="module")
def decoder():
    return make_decoder(compile=False)  # eager: no compiler thread competing for the two cores


@pytest.fixture(scope="module")
def demo():
    return HyperINR.load(ASSETS / "demo_tgv.hinr")


def tiny_model(dims=1, n=3, seed=0, positions=None):
    g = torch.Generator().manual_seed(seed)
    enc = HashGridConfig(3, 3, 2, 10, 4, 2.0)
    cfg = HyperINRConfig(enc, MLPConfig(6, 1, 16, 2), [f"p{i}" for i in range(dims)], [0.0] * dims,
                         [10.0 * (i + 1) for i in range(dims)], k_neighbours=4, value_range=(-2.0, 3.0))
    if positions is None:
        rng = np.random.default_rng(seed)
        positions = np.linspace(0, 1, n)[:, None] if dims == 1 else rng.uniform(0, 1, (n, dims))
    model = HyperINR(cfg, positions, generator=g)
    with torch.no_grad():
        model.encoder_params.normal_(0.0, 1.5, generator=g)
        model.mlp.params.mul_(2.5)
    return model


def core_volume(model, theta, resolution):
    """The reference, through the core API only: generate, sample the grid, clamp (the renderer's decode
    convention), data units."""
    inr = model.generate(theta)
    return inr.to_data_units(inr.sample_grid(resolution).clamp(0.0, 1.0)).numpy()


def test_demo_defaults_shape_and_values(demo, decoder):
    a = ParameterVolumes(demo, decoder=decoder)
    assert training_shape(demo) == (64, 64, 64)
    assert a.steps == [4 * demo.n_encoders] == [80]  # 4x the training frames
    assert a.shape == (80, 64, 64, 64) and a.ndim == 4 and a.dtype == np.float32 and len(a) == 80
    assert a.value_range == pytest.approx(demo.cfg.value_range)
    t = float(a.values(0)[37])
    assert t == pytest.approx(37 * 10.0 / 79)
    plane = a[37, 20]  # napari's 2-D view: one plane, decoded alone
    assert plane.shape == (64, 64) and plane.dtype == np.float32
    assert a.stats == {"volume_decodes": 0, "point_decodes": 1, "cache_hits": 0}
    vol = a[37]  # napari's 3-D view: the whole volume
    assert vol.shape == (64, 64, 64)
    assert a.stats["volume_decodes"] == 1
    ref = core_volume(demo, [t], 64)
    tol = 1e-5 * (demo.cfg.value_range[1] - demo.cfg.value_range[0])
    np.testing.assert_allclose(vol, ref, atol=tol)
    np.testing.assert_allclose(plane, ref[20], atol=tol)
    assert np.ptp(vol) > 1.0  # not a blank volume


def test_cache_serves_parts_of_cached_volumes_and_evicts(decoder):
    model = tiny_model()
    a = ParameterVolumes(model, steps=5, resolution=(6, 7, 8), decoder=decoder, cache_size=2)
    v1 = a[1]
    assert a.stats["volume_decodes"] == 1
    np.testing.assert_array_equal(a[1, 3], v1[3])  # from the cached volume
    np.testing.assert_array_equal(a[1, :, 2, ::2], v1[:, 2, ::2])
    assert a.stats == {"volume_decodes": 1, "point_decodes": 0, "cache_hits": 2}
    a[2, 0]  # a plane of another step: decoded alone and cached
    a[2, 0]
    assert a.stats["point_decodes"] == 1 and a.stats["cache_hits"] == 3
    a[3, 0]  # evicts step 1's volume (two entries at most)
    a[1, 3]
    assert a.stats["point_decodes"] == 3
    p = a[3, 0]
    p[:] = 99.0  # the caller's copy: the cache is untouched
    assert not np.any(a[3, 0] == 99.0)
    a.clear_cache()
    a[1]
    assert a.stats["volume_decodes"] == 2


def test_hold_returns_zeros_without_decoding(decoder):
    a = ParameterVolumes(tiny_model(), steps=3, resolution=4, decoder=decoder)
    with a.hold():
        assert a[1, 2].shape == (4, 4) and not a[1].any()
    assert a.stats == {"volume_decodes": 0, "point_decodes": 0, "cache_hits": 0}
    assert a[1].any() and a.stats["volume_decodes"] == 1


def test_indexing_matches_numpy(decoder):
    model = tiny_model()
    a = ParameterVolumes(model, steps=3, resolution=(4, 5, 6), decoder=decoder)
    full = np.asarray(a)
    assert full.shape == (3, 4, 5, 6) and full.dtype == np.float32
    for i in range(3):
        np.testing.assert_allclose(full[i], core_volume(model, [a.values(0)[i]], (4, 5, 6)), atol=5e-4)
    b = ParameterVolumes(model, steps=3, resolution=(4, 5, 6), decoder=decoder, cache_size=0)
    keys = [0, -1, (1, 2), (2, slice(None), 3), (slice(None), 1, 2, 3), (slice(0, 3, 2), slice(1, 3)),
            (Ellipsis, 4), (1, Ellipsis, slice(None, None, -2)), (np.int64(2), np.int32(-1)), (), Ellipsis,
            (1, 0, 0, 0)]
    for key in keys:
        got = b[key]
        np.testing.assert_allclose(got, full[key], atol=1e-6, err_msg=str(key))
        assert got.shape == full[key].shape, key
    assert np.asarray(a, dtype=np.float64).dtype == np.float64
    for bad in ((3,), (0, 4), (0, 0, 0, 0, 0), ([0, 1],), (None,), (..., ...), (1.5,), (True,)):
        with pytest.raises(IndexError):
            b[bad]


def test_n_dimensional_shape_and_values(decoder):
    model = tiny_model(dims=2, n=9, positions=np.array([[x, y] for x in (0, 0.5, 1) for y in (0, 0.5, 1)]))
    assert default_steps(model) == [12, 12]  # a 3 x 3 grid of encoders: 4x the distinct values per axis
    a = ParameterVolumes(model, steps=(4, 3), resolution=5, decoder=decoder)
    assert a.shape == (4, 3, 5, 5, 5)
    theta = a.theta((2, 1))
    assert theta == pytest.approx([20 / 3, 10.0])
    np.testing.assert_allclose(a[2, 1, 3], core_volume(model, theta, 5)[3], atol=5e-4)
    scattered = tiny_model(dims=3, n=30)
    assert default_steps(scattered) == [4 * 3] * 3  # 30 ** (1/3) ~ 3 per axis


def test_shadow_model_has_one_axis_per_parameter(decoder):
    shadow = HyperINR.load(ASSETS / "demo_tgv_shadow.hinr")
    a = ParameterVolumes(shadow, decoder=decoder)
    assert len(a.axes) == 3 and a.shape == (24, 24, 24, 48, 48, 48)  # 207 scattered encoders: ~6 per axis
    plane = a[5, 10, 20, 24]
    np.testing.assert_allclose(plane, core_volume(shadow, a.theta((5, 10, 20)), 48)[24], atol=1e-5)


def test_fixed_parameters(decoder):
    model = tiny_model(dims=3, n=12)
    a = ParameterVolumes(model, steps=[3], resolution=4, axes=["p0"], fixed={"p2": 7.0}, decoder=decoder)
    assert a.shape == (3, 4, 4, 4)
    assert a.fixed == {"p1": 10.0, "p2": 7.0}  # the others sit mid-range
    np.testing.assert_allclose(a.theta((1,)), [5.0, 10.0, 7.0])
    v = a[1]
    a.set_fixed({"p1": 3.0})  # forgets what was decoded at the old value
    np.testing.assert_allclose(a[1], core_volume(model, [5.0, 3.0, 7.0], 4), atol=5e-4)
    assert not np.allclose(a[1], v)
    with pytest.raises(ValueError, match="fixed parameter"):
        a.set_fixed({"p0": 1.0})
    with pytest.raises(ValueError, match="subset"):
        ParameterVolumes(model, axes=["nope"], decoder=decoder)


def test_layer_data_of_the_demo_bundle(decoder):
    from hyperinr_app.napari.reader import get_reader, layer_data

    assert get_reader(str(ASSETS / "demo.json")) is not None
    assert get_reader(str(ASSETS / "demo_tgv.hinr")) is not None
    assert get_reader(str(ASSETS / "demo_tf.json")) is None  # a transfer function, not a bundle
    assert get_reader("image.png") is None and get_reader([]) is None
    (main, kw, kind), (shadow, skw, skind) = layer_data(ASSETS / "demo.json", resolution=32, decoder=decoder)
    assert kind == skind == "image"
    assert main.shape == (80, 32, 32, 32) and shadow.shape == (80, 32, 32, 32)
    assert shadow.axes == ["t"] and shadow.fixed == {"azimuth": 45.0, "polar": 45.0}
    assert kw["contrast_limits"] == pytest.approx(main.value_range) and skw["contrast_limits"] == [0.0, 1.0]
    assert kw["scale"] == pytest.approx([10 / 79, 63 / 31, 63 / 31, 63 / 31])  # world: t, training voxels
    assert kw["translate"] == [0.0, 0.0, 0.0, 0.0] and kw["axis_labels"] == ["t", "z", "y", "x"]
    assert kw["rgb"] is False and skw["visible"] is False
    assert kw["metadata"]["hyperinr"]["role"] == "scalar" and skw["metadata"]["hyperinr"]["role"] == "shadow"
    s = shadow[10, 16]
    assert s.shape == (32, 32) and 0.0 <= s.min() and s.max() <= 1.0


def test_bench_napari_reader_reports_plane_and_volume():
    from bench.napari_reader import run

    out = run(repeats=1, compile=False, warmup=0)
    plane, volume = out["cases"]["plane_256"], out["cases"]["volume_64"]
    assert plane["shape"] == [256, 256] and volume["shape"] == [64, 64, 64]
    assert plane["decodes"]["volume_decodes"] == 0 and plane["decodes"]["point_decodes"] >= 1
    assert volume["decodes"]["point_decodes"] == 0 and volume["decodes"]["volume_decodes"] >= 1
    assert plane["median_ms"] > 0 and "machine" in out and out["compiled"] is False
