"""Encoder positions (and distillation-set parameters) in the normalized parameter space [0, 1]^D.

uniform (1-D), Bridson Poisson disk (``scipy.stats.qmc.PoissonDisk``) by radius or target count, Gaussian
kernels around chosen centres, and their union.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import qmc

__all__ = ["uniform_positions", "poisson_disk_positions", "gaussian_kernel_positions", "union_positions"]


def uniform_positions(n: int) -> np.ndarray:
    """``n`` evenly spaced positions in [0, 1] including both ends, shape (n, 1)."""
    if n < 1:
        raise ValueError("need at least one encoder position")
    if n == 1:
        return np.zeros((1, 1))
    return np.linspace(0.0, 1.0, n)[:, None]


def poisson_disk_positions(
    dims: int, *, radius: float | None = None, count: int | None = None, seed: int = 0
) -> np.ndarray:
    """Bridson Poisson-disk samples in [0, 1]^dims, by minimum distance ``radius`` or about ``count`` points.

    With ``count`` the radius is found by bisection so that the sample has about that many points; the
    result is then trimmed to exactly ``count`` (when more were drawn) so sizes are predictable.
    """
    if (radius is None) == (count is None):
        raise ValueError("give exactly one of radius or count")
    if radius is not None:
        return qmc.PoissonDisk(dims, radius=radius, seed=seed).fill_space()
    if count < 1:
        raise ValueError("count must be >= 1")
    lo, hi = 1e-3, 1.0
    best = None
    for _ in range(30):
        r = 0.5 * (lo + hi)
        pts = qmc.PoissonDisk(dims, radius=r, seed=seed).fill_space()
        if len(pts) >= count:
            best, lo = pts, r
        else:
            hi = r
        if best is not None and len(best) <= count * 1.02 + 1:
            break
    if best is None:  # pragma: no cover - radius 1e-3 always gives enough for sane counts
        best = qmc.PoissonDisk(dims, radius=lo, seed=seed).fill_space()
    rng = np.random.default_rng(seed)
    if len(best) > count:
        best = best[np.sort(rng.choice(len(best), count, replace=False))]
    return best


def gaussian_kernel_positions(
    centres: np.ndarray, count_per_centre: int, sigma: float, seed: int = 0
) -> np.ndarray:
    """Samples from isotropic Gaussians around ``centres`` (K, D), clipped to [0, 1]^D."""
    centres = np.atleast_2d(np.asarray(centres, dtype=float))
    rng = np.random.default_rng(seed)
    pts = centres[:, None, :] + sigma * rng.standard_normal((len(centres), count_per_centre, centres.shape[1]))
    return np.clip(pts.reshape(-1, centres.shape[1]), 0.0, 1.0)


def union_positions(*sets: np.ndarray, min_distance: float = 1e-6) -> np.ndarray:
    """Concatenate position sets, dropping points closer than ``min_distance`` to an earlier one."""
    from scipy.spatial import cKDTree

    pts = np.concatenate([np.atleast_2d(s) for s in sets if len(s)], axis=0)
    tree = cKDTree(pts)
    keep = np.ones(len(pts), bool)
    for i, j in sorted(tree.query_pairs(min_distance)):
        if keep[i]:
            keep[j] = False
    return pts[keep]
