"""Encoder positions (and distillation-set parameters) in the normalized parameter space [0, 1]^D.

uniform (1-D), Bridson Poisson disk (``scipy.stats.qmc.PoissonDisk``) by radius or target count, Gaussian
kernels around chosen centres, and their union; a well-spread subset of a point set (farthest-point
selection) and a convex-hull test for "is this an interpolation or an extrapolation".
"""

from __future__ import annotations

import numpy as np
from scipy.stats import qmc

__all__ = [
    "uniform_positions",
    "poisson_disk_positions",
    "gaussian_kernel_positions",
    "union_positions",
    "farthest_point_subset",
    "inside_hull",
]


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


def farthest_point_subset(points: np.ndarray, k: int) -> np.ndarray:
    """Indices of ``k`` well-spread points of ``points`` (N, D): greedy farthest-point selection.

    Starts from the points nearest the corners of the unit cube [0, 1]^D (so the subset spans the whole
    domain and its convex hull covers most of the other points), then repeatedly adds the point farthest
    from those chosen. Deterministic for a given point set.

    Returns:
        (k,) int64 indices into ``points``, in the order chosen.
    """
    p = np.atleast_2d(np.asarray(points, dtype=np.float64))
    n, d = p.shape
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= {n}, got {k}")
    corners = (np.arange(2**d)[:, None] >> np.arange(d)[None, :]) & 1
    chosen: list[int] = []
    for c in corners:
        j = int(np.argmin(((p - c) ** 2).sum(1)))
        if j not in chosen and len(chosen) < k:
            chosen.append(j)
    dist = ((p[:, None, :] - p[chosen][None, :, :]) ** 2).sum(-1).min(1)
    while len(chosen) < k:
        j = int(np.argmax(dist))
        chosen.append(j)
        dist = np.minimum(dist, ((p - p[j]) ** 2).sum(1))
    return np.asarray(chosen, dtype=np.int64)


def inside_hull(points: np.ndarray, hull_points: np.ndarray) -> np.ndarray:
    """(M,) bool: which of ``points`` (M, D) lie in the convex hull of ``hull_points`` (K, D), K > D."""
    from scipy.spatial import Delaunay

    pts = np.atleast_2d(np.asarray(points, dtype=np.float64))
    if len(pts) == 0:
        return np.zeros(0, dtype=bool)
    return Delaunay(np.atleast_2d(hull_points)).find_simplex(pts, tol=1e-9) >= 0


def encoder_positions(
    n_param_dims: int, n: int, train_u: np.ndarray | None = None, seed: int = 0
) -> np.ndarray:
    """Encoder positions ``(N, D)``: uniform in 1-D; in n-D a quarter Poisson disk and three quarters
    Gaussian kernels around the training parameters (the paper's best DGS layout, section 5.4)."""
    from hyperinr_core.model.positions import (
        gaussian_kernel_positions,
        poisson_disk_positions,
        uniform_positions,
        union_positions,
    )

    if n_param_dims == 1:
        return uniform_positions(max(2, n))
    pd = poisson_disk_positions(n_param_dims, count=max(2, n // 4), seed=seed)
    if train_u is None or len(train_u) == 0:
        return poisson_disk_positions(n_param_dims, count=max(2, n), seed=seed)
    per = max(1, (n - len(pd)) // len(train_u))
    sigma = 0.5 * (1.0 / max(n, 1)) ** (1.0 / n_param_dims)
    return union_positions(pd, gaussian_kernel_positions(train_u, per, sigma, seed=seed + 2))
