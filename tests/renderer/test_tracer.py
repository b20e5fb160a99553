"""Acceptance tests of the torch path tracer on analytic scenes (tiny images, CPU)."""

import math

import numpy as np
import pytest
import torch

from hyperinr_renderer import AnalyticField, Camera, GridField, Light, TransferFunction, scenes
from hyperinr_renderer.macrocells import MacroCells, cell_value_ranges
from hyperinr_renderer.sampling import hash_uniform
from hyperinr_renderer.shadows import shadow_volume
from hyperinr_renderer.tracer import Marcher, PathTracer, RenderSettings, intersect_box


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = float(((a - b) ** 2).mean())
    return math.inf if mse == 0 else -10 * math.log10(mse)


def render(field, tf, spp=1, seed=0, shadow_field=None, camera=None, light=None, **kw):
    s = RenderSettings(**{"width": 32, "height": 24, **kw})
    pt = PathTracer(field, tf, camera or Camera(), light or Light(), s, shadow_field=shadow_field, seed=seed)
    img = pt.render(spp)
    return img, pt


@pytest.mark.parametrize("macro", [False, True])
@pytest.mark.parametrize("polar", [0.0, 40.0])
def test_homogeneous_slab_transmittance_is_exp_minus_sigma_L(macro, polar):
    a = 0.02  # opacity per reference step
    tf = TransferFunction("grayscale", [(0.0, 0.0), (1.0, a)])
    field = AnalyticField(scenes.slab(0.4, 0.6))
    cells = None
    if macro:
        cells = MacroCells(field)
        cells.refresh(tf)
    m = Marcher(field, tf, cells, termination=1e-6)
    n = 2000
    g = torch.Generator().manual_seed(0)
    o = torch.cat([0.05 + 0.25 * torch.rand(n, 2, generator=g), torch.zeros(n, 1)], 1)
    d = torch.tensor([math.sin(math.radians(polar)), 0.0, math.cos(math.radians(polar))])
    u = hash_uniform(0, 9, torch.arange(n))
    T = m.transmittance(o, d, u, step=1 / 256)
    sigma = -math.log(1 - a) / tf.ref_step
    expected = math.exp(-sigma * 0.2 / math.cos(math.radians(polar)))
    assert abs(float(T.mean()) / expected - 1) < 0.01


@pytest.mark.parametrize("macro", [False, True])
def test_empty_volume_is_background_exactly(macro):
    bg = (0.2, 0.3, 0.4)
    empty = AnalyticField(lambda x: torch.zeros(x.shape[0]))
    img, pt = render(empty, TransferFunction.preset("viridis"), spp=3, macro_cells=macro, background=bg)
    assert torch.equal(img, torch.tensor(bg).expand(24, 32, 3))
    # a transparent transfer function over a busy field is empty too
    tf0 = TransferFunction("magma", [(0.0, 0.0), (1.0, 0.0)])
    img, pt = render(AnalyticField(scenes.blobs()), tf0, macro_cells=macro, background=bg, shadow="rays")
    assert torch.equal(img, torch.tensor(bg).expand(24, 32, 3))
    if macro:
        assert pt.stats.field_samples == 0


def test_sphere_blocker_darkens_in_rays_mode_only():
    # a translucent body (value 0.6) under an opaque blocker (value 1)
    tf = TransferFunction("grayscale", [(0.0, 0.0), (0.6, 0.015), (0.65, 0.6), (1.0, 0.6)])
    light = Light(azimuth=0.0, polar=0.0, intensity=1.0, ambient=0.1)  # straight above
    cam = Camera(elevation=0.0, distance=2.5)  # side view: the blocker is never in front of the body
    lower = slice(11, 24)  # rows that see the body and not the blocker
    out = {}
    for mode in ("none", "rays"):
        for blocked in (False, True):
            f = AnalyticField(scenes.sphere_and_blocker(blocked))
            img, _ = render(f, tf, camera=cam, light=light, shadow=mode)
            out[mode, blocked] = float((img[lower] - torch.tensor(RenderSettings().background)).mean())
    assert out["none", True] == pytest.approx(out["none", False], rel=1e-5)
    assert out["rays", True] < 0.8 * out["rays", False]
    assert out["rays", False] < out["none", False]  # self-shadowing exists but the blocker adds to it


def test_field_mode_with_shadow_volume_matches_rays():
    tf = TransferFunction("ember", [(0.0, 0.0), (0.3, 0.0), (1.0, 0.25)])
    f = AnalyticField(scenes.blobs(width=0.1))
    light = Light(azimuth=60.0, polar=35.0)
    sv = shadow_volume(f, tf, light.direction(), 64, step=1 / 128)
    assert sv.shape == (64, 64, 64) and float(sv.min()) < 0.5 and float(sv.max()) == 1.0
    kw = dict(spp=2, light=light, width=40, height=30, shadow_step=1 / 128)
    ref, _ = render(f, tf, shadow="rays", **kw)
    img, pt = render(f, tf, shadow="field", shadow_field=GridField(sv), **kw)
    nosh, _ = render(f, tf, shadow="none", **kw)
    assert pt.stats.shadow_samples > 0 and bool(torch.isfinite(img).all())
    assert psnr(img, ref) >= 30.0
    assert psnr(img, ref) > psnr(nosh, ref) + 3  # the shadows are really there


def test_shadow_volume_of_slab():
    a = 0.02
    tf = TransferFunction("grayscale", [(0.0, 0.0), (1.0, a)])
    sv = shadow_volume(AnalyticField(scenes.slab(0.4, 0.6)), tf, (0, 0, 1), 11)  # nodes at z = k / 10
    sigma = -math.log(1 - a) / tf.ref_step
    # midpoint samples of a sharp slab: off by at most one step's opacity (2 %)
    np.testing.assert_allclose(sv[:4].numpy(), math.exp(-sigma * 0.2), rtol=0.025)
    assert torch.equal(sv[7:], torch.ones_like(sv[7:]))


def test_macro_cells_agree_and_save_samples_on_sparse_volume():
    tf = TransferFunction.preset("ember")
    f = AnalyticField(scenes.blobs())
    img0, pt0 = render(f, tf, spp=2, macro_cells=False, shadow="rays")
    img1, pt1 = render(f, tf, spp=2, macro_cells=True, shadow="rays")
    assert psnr(img1, img0) >= 40.0
    assert pt1.stats.field_samples * 2 <= pt0.stats.field_samples
    assert pt1.stats.shadow_samples * 2 <= pt0.stats.shadow_samples
    # grids: exact ranges, same images
    grid = GridField(
        torch.from_numpy(
            np.asarray(f(__import__("hyperinr_core").grid_coordinates((33, 33, 33))).view(33, 33, 33))
        )
    )
    g0, _ = render(grid, tf, macro_cells=False)
    g1, pg = render(grid, tf, macro_cells=True, voxels_per_cell=8)
    assert psnr(g1, g0) >= 60.0


def test_cell_value_ranges_match_brute_force():
    g = torch.rand(9, 13, 17)
    lo, hi = cell_value_ranges(g, 4)
    assert lo.shape == (2, 3, 4)
    k, j, i = 1, 2, 3  # cell (z, y, x): nodes 4..8, 8..12, 12..16 (shared boundary nodes)
    block = g[4:9, 8:13, 12:17]
    assert lo[k, j, i] == block.min() and hi[k, j, i] == block.max()


def test_progressive_error_falls_as_one_over_sqrt_spp():
    tf = TransferFunction("magma", [(0.0, 0.0), (0.2, 0.0), (1.0, 0.5)])
    f = AnalyticField(scenes.blobs(width=0.12))
    kw = dict(width=32, height=32, step=1 / 32, shadow="none")

    def err(n):  # two independent estimates differ by sqrt(2) times the error of one
        a, _ = render(f, tf, spp=n, seed=1, **kw)
        b, _ = render(f, tf, spp=n, seed=2, **kw)
        return float((a - b).norm())

    spp = np.array([1, 2, 4, 8, 16, 32])
    slope = np.polyfit(np.log(spp), np.log([err(n) for n in spp]), 1)[0]
    assert -0.62 < slope < -0.4  # 1/sqrt(spp): -0.5


def test_same_seed_same_image_and_progressive_equals_batched():
    tf = TransferFunction.preset("viridis")
    f = AnalyticField(scenes.blobs(width=0.12))
    kw = dict(spp=2, shadow="rays", step=1 / 128, shadow_step=1 / 64)
    a, _ = render(f, tf, seed=5, **kw)
    b, _ = render(f, tf, seed=5, **kw)
    c, _ = render(f, tf, seed=6, **kw)
    assert torch.equal(a, b) and not torch.equal(a, c)
    # 3 calls of 1 spp == one call of 3 spp (same per-frame samples), independent of the batch size
    pt = PathTracer(f, tf, settings=RenderSettings(width=32, height=24, batch=1 << 10), seed=5)
    for _ in range(3):
        prog = pt.render(1)
    assert pt.frames == 3
    once, _ = render(f, tf, spp=3, seed=5)
    torch.testing.assert_close(prog, once, atol=1e-6, rtol=0)
    # changing the scene restarts the accumulation
    pt.camera.orbit(10, 0)
    pt.render(1)
    assert pt.frames == 1


def test_intersect_box_handles_axis_aligned_and_missing_rays():
    o = torch.tensor([[0.5, 0.5, -1.0], [2.0, 2.0, 2.0], [0.5, 0.5, 0.5]])
    d = torch.tensor([[0.0, 0.0, 1.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    tn, tf = intersect_box(o, d)
    assert float(tn[0]) == 1.0 and float(tn[2]) == 0.0 and float(tf[0]) == 2.0 and float(tf[2]) == 0.5
    assert tf[1] <= tn[1]  # miss


def test_invalidate_field_rebuilds_macro_cells_after_in_place_change():
    grid = torch.zeros(17, 17, 17)
    f = GridField(grid)
    pt = PathTracer(f, TransferFunction.preset("grayscale"), settings=RenderSettings(width=16, height=12))
    bg = torch.tensor(pt.settings.background)
    assert torch.equal(pt.render(1), bg.expand(12, 16, 3))
    f.grid[4:13, 4:13, 4:13] = 1.0  # same object, new contents
    pt.invalidate_field()
    img = pt.render(1)
    assert pt.frames == 1 and float((img - bg).abs().max()) > 0.05


def test_shadow_field_from_a_dgs_model():
    from hyperinr_core import HashGridConfig, HyperINR, HyperINRConfig, MLPConfig
    from hyperinr_core.errors import HyperINRError
    from hyperinr_renderer.scene import Scene
    from hyperinr_renderer.shadows import (
        LIGHT_PARAM_HI,
        LIGHT_PARAM_LO,
        LIGHT_PARAM_NAMES,
    )

    enc = HashGridConfig(3, 2, 2, 8, 4, 2.0)
    mlp = MLPConfig(enc.n_output_dims, 1)
    cfg = HyperINRConfig(
        encoding=enc,
        mlp=mlp,
        param_names=LIGHT_PARAM_NAMES[::-1],
        param_lo=LIGHT_PARAM_LO[::-1],
        param_hi=LIGHT_PARAM_HI[::-1],
        task="dgs",
    )
    model = HyperINR(cfg, np.random.default_rng(0).random((5, 2)))
    sf = Scene.at(model, shadow_model=model, light=Light(azimuth=400.0, polar=30.0)).shadow_field()
    v = sf(torch.rand(10, 3))
    assert v.shape == (10,) and bool(((v >= 0) & (v <= 1)).all())
    cfg_t = HyperINRConfig(encoding=enc, mlp=mlp)
    with pytest.raises(HyperINRError, match="azimuth"):
        scalar = HyperINR(cfg_t, np.array([[0.0], [1.0]]))
        Scene.at(scalar, shadow_model=scalar).shadow_inr()
