"""Acceptance: the GL path tracer and the torch path tracer render the same image.

Same grid, camera, transfer function, light and shadow mode; both at many samples per pixel. The GL shaders
draw the same counter-based random numbers as the torch tracer, so with the same seed the images agree sample
by sample; a second test uses different seeds, so it checks agreement in expectation (the optical model), not
the random streams.
"""

import math

import numpy as np
import pytest

from hyperinr_renderer import AnalyticField, Camera, GridField, Light, TransferFunction, scenes
from hyperinr_renderer.fields import sample_field_grid
from hyperinr_renderer.shadows import shadow_volume
from hyperinr_renderer.tracer import PathTracer, RenderSettings

pytestmark = pytest.mark.gl

SIZE = 64
STEPS = 96


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(((np.clip(a, 0, 1) - np.clip(b, 0, 1)) ** 2).mean())
    return math.inf if mse == 0 else -10 * math.log10(mse)


@pytest.fixture(scope="module")
def scene():
    grid = sample_field_grid(AnalyticField(scenes.sphere_and_blocker()), 24)
    tf = TransferFunction("viridis", [(0.0, 0.0), (0.3, 0.0), (1.0, 0.4)])
    cam = Camera(azimuth=35.0, elevation=12.0, distance=2.0)
    light = Light(azimuth=200.0, polar=35.0, intensity=1.2, ambient=0.15)
    shadow = shadow_volume(GridField(grid), tf, light.direction(), 24)
    return grid, tf, cam, light, shadow


def torch_image(scene, mode, spp, seed=0):
    grid, tf, cam, light, shadow = scene
    s = RenderSettings(width=SIZE, height=SIZE, step=1.0 / STEPS, shadow=mode)
    pt = PathTracer(GridField(grid), tf, cam, light, s, shadow_field=GridField(shadow), seed=seed)
    return pt.render(spp).numpy()


def gl_image(scene, mode, spp, seed=0):
    from hyperinr_renderer.gl import TraceSettings, render_offscreen

    grid, tf, cam, light, shadow = scene
    return render_offscreen(grid.numpy(), tf, cam, light, mode, shadow_volume=shadow.numpy(), size=(SIZE, SIZE),
                            spp=spp, steps=STEPS, settings=TraceSettings(seed=seed), as_float=True)


@pytest.mark.parametrize("mode,spp", [("none", 16), ("field", 16), ("rays", 6)])
def test_gl_matches_torch_same_random_streams(gl_context, scene, mode, spp):
    ref = torch_image(scene, mode, spp)
    img = gl_image(scene, mode, spp)
    assert img.shape == ref.shape == (SIZE, SIZE, 3)
    assert ref.max() > 0.2  # the volume is in view, not just background
    assert psnr(img, ref) >= 30.0


def test_gl_matches_torch_in_expectation(gl_context, scene):
    """Different seeds: only the optics can make the converged images agree."""
    ref = torch_image(scene, "field", 8, seed=0)
    img = gl_image(scene, "field", 96, seed=12345)
    assert psnr(img, ref) >= 30.0


def test_shadow_modes_differ_from_none(gl_context, scene):
    """Shadows darken the lit body: modes 'rays' and 'field' agree with each other, not with 'none'."""
    none, rays, field = (gl_image(scene, m, 8) for m in ("none", "rays", "field"))
    assert rays.mean() < none.mean() - 0.005
    assert psnr(rays, field) > psnr(rays, none)


def test_axis_parallel_shadow_rays_match(gl_context, scene):
    """A light straight above: secondary rays with zero x and y components take the slab test's special case."""
    grid, tf, cam, _, _ = scene
    overhead = (grid, tf, cam, Light(azimuth=0.0, polar=0.0, intensity=1.2, ambient=0.15), grid)
    assert psnr(gl_image(overhead, "rays", 3), torch_image(overhead, "rays", 3)) >= 30.0
