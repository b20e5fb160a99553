"""Reconstruction quality: PSNR and SSIM for 3-D volumes and 2-D (multi-channel) images.

PSNR uses the data range the caller passes (the dataset's value range, so that every method is scored on
the same scale). SSIM is scikit-image's ``structural_similarity`` (Wang et al. 2004), which handles n-D
arrays: a (Z, Y, X) volume is scored with a 7^3 window, an (H, W, C) image with a 7x7 window per channel,
averaged over channels. The defaults are scikit-image's (uniform window, sample covariance), the setting
most volume-INR papers report; ``gaussian=True`` gives Wang et al.'s Gaussian window (sigma 1.5).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["psnr", "ssim", "mse"]


def _np(a: Any) -> np.ndarray:
    """float64 NumPy copy of an array or a torch tensor (any device)."""
    if hasattr(a, "detach"):
        a = a.detach().to("cpu").double().numpy()
    return np.asarray(a, dtype=np.float64)


def _pair(pred: Any, ref: Any) -> tuple[np.ndarray, np.ndarray]:
    p, r = _np(pred), _np(ref)
    if p.shape != r.shape:
        raise ValueError(f"pred has shape {p.shape}, ref has shape {r.shape}")
    return p, r


def mse(pred: Any, ref: Any) -> float:
    """Mean squared error over all values."""
    p, r = _pair(pred, ref)
    return float(np.mean((p - r) ** 2))


def psnr(pred: Any, ref: Any, data_range: float) -> float:
    """Peak signal-to-noise ratio in dB: 10 log10(data_range² / MSE); +inf for identical inputs.

    Args:
        pred, ref: arrays of equal shape (volume (Z, Y, X), image (H, W[, C]), or any batch of them).
        data_range: max - min of the reference data (the dataset's value range), > 0.
    """
    if not data_range > 0:
        raise ValueError(f"data_range must be positive, got {data_range}")
    err = mse(pred, ref)
    if err == 0.0:
        return math.inf
    return 10.0 * math.log10(data_range**2 / err)


def ssim(
    pred: Any,
    ref: Any,
    data_range: float,
    channel_axis: int | None = None,
    gaussian: bool = False,
    win_size: int | None = None,
) -> float:
    """Mean structural similarity of ``pred`` against ``ref``.

    Args:
        pred, ref: (Z, Y, X) volumes, (H, W) images, or (H, W, C) images with ``channel_axis=-1``.
        data_range: max - min of the reference data (the dataset's value range), > 0.
        channel_axis: axis holding colour channels (None for scalar data).
        gaussian: Wang et al.'s Gaussian window (sigma 1.5, population covariance) instead of scikit-image's
            default uniform 7-wide window with sample covariance.
        win_size: odd window width; by default 7 (uniform) or 11 (Gaussian), shrunk to the smallest spatial
            extent for tiny inputs.

    Returns:
        SSIM in [-1, 1], 1 for identical inputs.
    """
    from skimage.metrics import structural_similarity

    if not data_range > 0:
        raise ValueError(f"data_range must be positive, got {data_range}")
    p, r = _pair(pred, ref)
    spatial = [s for k, s in enumerate(p.shape) if channel_axis is None or k != channel_axis % p.ndim]
    if win_size is None:
        win_size = 11 if gaussian else 7
    smallest = min(spatial)
    if win_size > smallest:
        win_size = smallest if smallest % 2 else smallest - 1
        if win_size < 3:
            raise ValueError(f"inputs of shape {p.shape} are too small for SSIM (need >= 3 per axis)")
    kwargs: dict[str, Any] = {"data_range": float(data_range), "channel_axis": channel_axis}
    if gaussian:
        # ndimage's Gaussian radius is int(truncate*sigma + 0.5); pick truncate so it equals the crop radius.
        sigma = 1.5
        kwargs.update(gaussian_weights=True, sigma=sigma, use_sample_covariance=False)
        kwargs["truncate"] = ((win_size - 1) // 2) / sigma
    kwargs["win_size"] = win_size
    return float(structural_similarity(p, r, **kwargs))
