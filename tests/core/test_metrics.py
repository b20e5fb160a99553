"""PSNR and SSIM against values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from hyperinr_core.eval.metrics import psnr, ssim


def test_psnr_hand_values():
    ref = np.zeros((2, 2, 2))
    assert psnr(ref + 0.1, ref, 1.0) == pytest.approx(20.0)
    pred = np.array([1.0, -1.0, 0.0, 0.0])  # MSE 0.5, range 2: 10 log10(4 / 0.5)
    assert psnr(pred, np.zeros(4), 2.0) == pytest.approx(10 * math.log10(8.0))
    assert psnr(ref, ref, 1.0) == math.inf
    # torch tensors (any device) are accepted
    assert psnr(torch.full((3, 3), 0.5), torch.zeros(3, 3), 5.0) == pytest.approx(10 * math.log10(25 / 0.25))
    with pytest.raises(ValueError):
        psnr(np.zeros(3), np.zeros(4), 1.0)


def _global_ssim(x, y, L):
    """Wang et al.'s SSIM over one window covering the whole array, sample (N-1) covariances."""
    c1, c2 = (0.01 * L) ** 2, (0.03 * L) ** 2
    mx, my = x.mean(), y.mean()
    vx, vy = x.var(ddof=1), y.var(ddof=1)
    cxy = ((x - mx) * (y - my)).sum() / (x.size - 1)
    return ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))


def test_ssim_single_window_matches_formula():
    # With a 7-wide window on a 7-wide array, only the centre window survives the border crop, and it covers
    # the whole array: SSIM is the textbook formula over all values.
    rng = np.random.default_rng(0)
    x = rng.random((7, 7))
    y = 0.8 * x + 0.1 + 0.05 * rng.random((7, 7))
    assert ssim(y, x, 1.0) == pytest.approx(_global_ssim(y, x, 1.0), rel=1e-12)
    v = rng.random((7, 7, 7))
    w = v[::-1] * 0.5 + 0.2  # a 3-D volume: one 7^3 window
    assert ssim(w, v, 2.0) == pytest.approx(_global_ssim(w, v, 2.0), rel=1e-12)
    # multi-channel image: mean over channels
    a, b = rng.random((7, 7, 3)), rng.random((7, 7, 3))
    want = np.mean([_global_ssim(b[..., c], a[..., c], 1.0) for c in range(3)])
    assert ssim(b, a, 1.0, channel_axis=-1) == pytest.approx(want, rel=1e-12)


def test_ssim_properties():
    rng = np.random.default_rng(1)
    v = rng.random((12, 12, 12))
    assert ssim(v, v, 1.0) == pytest.approx(1.0)
    assert ssim(v, v, 1.0, gaussian=True) == pytest.approx(1.0)
    small, big = v + 0.02 * rng.standard_normal(v.shape), v + 0.2 * rng.standard_normal(v.shape)
    assert 1.0 > ssim(small, v, 1.0) > ssim(big, v, 1.0)
    # a constant shift keeps structure and contrast: only the luminance term drops, by a computable factor
    x = np.full((7, 7), 0.5)
    x[3, 3] = 0.6
    c1 = 1e-4
    want = (2 * x.mean() * (x.mean() + 0.1) + c1) / (x.mean() ** 2 + (x.mean() + 0.1) ** 2 + c1)
    assert ssim(x + 0.1, x, 1.0) == pytest.approx(want, rel=1e-9)
    with pytest.raises(ValueError):
        ssim(np.zeros((2, 2, 2)), np.zeros((2, 2, 2)), 1.0)
