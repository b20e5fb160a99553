"""Taylor–Green vortex solver: viscous decay, energy balance, divergence, axis order."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hyperinr_core.data.tgv import TGVConfig, TGVSolver, simulate_tgv


@pytest.mark.parametrize(
    "n, re, t_max, tol", [(16, 1.0, 0.5, 5e-3), (16, 10.0, 0.3, 2e-3), (32, 5.0, 0.3, 2e-3)]
)
def test_low_re_energy_decays_like_the_k1_mode(n, re, t_max, tol):
    """At low Re the vortex stays a single |k|^2 = 3 mode: E(t) = E0 exp(-6 nu t)."""
    s = TGVSolver(TGVConfig(resolution=n, reynolds=re))
    e0 = s.kinetic_energy()
    assert e0 == pytest.approx(1 / 8)
    for t in np.linspace(0.05, t_max, 4):
        s.advance_to(float(t))
        want = e0 * math.exp(-6 * t / re)
        assert s.kinetic_energy() == pytest.approx(want, rel=tol)
        assert s.max_divergence() < 1e-10


def test_energy_balance_and_divergence_at_moderate_re():
    """dE/dt = -nu <|w|^2>: the nonlinear term moves energy between scales, creating none."""
    s = TGVSolver(TGVConfig(resolution=16, reynolds=100.0))
    s.advance_to(2.0)
    e1, z1 = s.kinetic_energy(), s.enstrophy()
    s.advance_to(2.05)
    e2, z2 = s.kinetic_energy(), s.enstrophy()
    rate = (e2 - e1) / 0.05
    assert rate == pytest.approx(-2 * s.nu * 0.5 * (z1 + z2), rel=1e-2)
    assert z2 > 0.375  # vortex stretching has already raised the enstrophy above its initial 3/8
    assert s.max_divergence() < 1e-10


def test_series_frames_shape_order_and_initial_vorticity():
    cfg = TGVConfig(resolution=8, reynolds=50.0, t_end=0.2, n_frames=3)
    out = list(simulate_tgv(cfg, progress=False))
    assert [t for t, _ in out] == pytest.approx([0.0, 0.1, 0.2])
    f0 = out[0][1]
    assert f0.shape == (8, 8, 8) and f0.dtype == np.float32
    # axes are (z, y, x): compare with the analytic vorticity of the initial condition
    g = np.arange(8) * 2 * np.pi / 8
    z, y, x = np.meshgrid(g, g, g, indexing="ij")
    w = np.stack(
        [
            -np.cos(x) * np.sin(y) * np.sin(z),
            -np.sin(x) * np.cos(y) * np.sin(z),
            2 * np.sin(x) * np.sin(y) * np.cos(z),
        ]
    )
    np.testing.assert_allclose(f0, np.linalg.norm(w, axis=0), atol=1e-5)
    assert np.abs(out[2][1]).max() < np.abs(f0).max()  # viscous decay at this Re and time
