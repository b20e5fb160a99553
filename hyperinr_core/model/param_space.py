"""The normalized parameter space [0, 1]^D, where some dimensions may wrap around (a light's azimuth).

A parameter is periodic when its range is one full turn (0..360 degrees, 0..2π) and the dataset says so
(the ``param_periodic`` attribute) or, without that attribute, when its name says it is an azimuth or a
longitude. In normalized units its period is 1: u = 0 and u = 1 are the same light, and the distance
from 0.95 to 0.05 is 0.1.

:func:`lerp_weights` is the one rule LERP, IDW and the flow teacher blend training frames by.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.spatial import KDTree

__all__ = ["periodic_dims", "wrap", "offset", "param_tree", "lerp_weights", "AZIMUTH_NAMES", "EXACT"]

#: parameter names taken as periodic when they span one full turn and the dataset does not say otherwise
AZIMUTH_NAMES = ("azimuth", "phi", "longitude", "lon", "light_azimuth")
EXACT = 1e-9


def periodic_dims(
    names: Sequence[str], lo: Sequence[float], hi: Sequence[float], declared: Sequence | None = None
) -> list[bool]:
    """Which of the D parameters wrap around: ``declared`` (a dataset's ``param_periodic``) when given,
    else by name (:data:`AZIMUTH_NAMES`); either way only a parameter spanning one full turn."""
    out = []
    for j, (name, a, b) in enumerate(zip(names, lo, hi, strict=True)):
        span = float(b) - float(a)
        full = any(math.isclose(span, t, rel_tol=1e-6) for t in (360.0, 2.0 * math.pi))
        said = bool(declared[j]) if declared is not None else str(name).lower() in AZIMUTH_NAMES
        out.append(full and said)
    return out


def _mask(periodic: Sequence[bool] | None, d: int) -> np.ndarray:
    return np.zeros(d, bool) if periodic is None else np.asarray(list(periodic), bool)


def wrap(u: np.ndarray, periodic: Sequence[bool] | None) -> np.ndarray:
    """``u (..., D)`` with periodic coordinates taken modulo 1 into [0, 1)."""
    u = np.array(u, np.float64)
    m = _mask(periodic, u.shape[-1])
    if m.any():
        u[..., m] = np.mod(u[..., m], 1.0)
    return u


def offset(a: np.ndarray, b: np.ndarray, periodic: Sequence[bool] | None) -> np.ndarray:
    """The shortest ``a - b`` (..., D): periodic coordinates in [-0.5, 0.5)."""
    d = np.asarray(a, np.float64) - np.asarray(b, np.float64)
    m = _mask(periodic, d.shape[-1])
    if m.any():
        d[..., m] = np.mod(d[..., m] + 0.5, 1.0) - 0.5
    return d


def param_tree(points: np.ndarray, periodic: Sequence[bool] | None = None) -> KDTree:
    """A KD-tree over ``points (N, D)`` whose distances wrap on the periodic dimensions."""
    p = np.asarray(points, np.float64)
    m = _mask(periodic, p.shape[1])
    if not m.any():
        return KDTree(p)
    return KDTree(wrap(p, m), boxsize=np.where(m, 1.0, 0.0))


def lerp_weights(
    params_u: np.ndarray,
    u: np.ndarray,
    k: int = 8,
    tree: KDTree | None = None,
    periodic: Sequence[bool] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Indices into ``params_u (N, D)`` and weights (summing to 1) with which LERP blends frames at ``u``.

    1-D: the bracketing pair, linear; outside the range clamped to the end frames, or, for a periodic
    parameter, the pair across the wrap. n-D: the ``k`` nearest (wrapped distances), inverse-distance
    weights (p = 1). An exact hit returns that frame alone. ``tree``: :func:`param_tree` of ``params_u``.
    """
    p = np.asarray(params_u, np.float64)
    u = np.asarray(u, np.float64).reshape(-1)
    m = _mask(periodic, p.shape[1])
    if p.shape[1] == 1:
        order = np.argsort(p[:, 0], kind="stable")
        pos = p[order, 0]
        if len(pos) == 1:
            return order[:1], np.ones(1)
        x = u[0]
        if m[0]:
            pos, x = np.mod(pos, 1.0), float(np.mod(x, 1.0))
            order = order[np.argsort(pos, kind="stable")]
            pos = np.sort(pos)
            if x < pos[0] or x > pos[-1]:  # across the wrap: from the last frame to the first
                gap = pos[0] + 1.0 - pos[-1]
                w1 = np.mod(x - pos[-1], 1.0) / gap if gap > 0 else 0.0
                return _pair(order[-1], order[0], w1)
        elif x <= pos[0]:
            return order[:1], np.ones(1)
        elif x >= pos[-1]:
            return order[-1:], np.ones(1)
        hi = min(int(np.searchsorted(pos, x, side="right")), len(pos) - 1)
        lo = hi - 1
        w1 = (x - pos[lo]) / (pos[hi] - pos[lo])
        return _pair(order[lo], order[hi], w1)
    tree = tree if tree is not None else param_tree(p, m)
    kk = min(k, len(p))
    dist, idx = tree.query(wrap(u, m), k=kk)
    dist, idx = np.atleast_1d(dist), np.atleast_1d(idx)
    if dist[0] <= EXACT:
        return idx[:1], np.ones(1)
    w = 1.0 / dist
    return idx, w / w.sum()


def _pair(lo: int, hi: int, w1: float) -> tuple[np.ndarray, np.ndarray]:
    if w1 <= EXACT:
        return np.array([lo]), np.ones(1)
    if w1 >= 1.0 - EXACT:
        return np.array([hi]), np.ones(1)
    return np.array([lo, hi]), np.array([1.0 - w1, w1])
