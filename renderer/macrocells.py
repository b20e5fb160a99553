"""Macro cells: a coarse grid of per-cell value ranges used to skip empty space.

Each cell covers ``voxels_per_cell``^3 voxels of the field's node grid (its ``.grid`` when it has one, else a
node grid sampled from the field). The value range ``[lo, hi]`` of a cell is computed once per field; the
maximum opacity per cell is recomputed from the transfer-function table whenever the transfer function
changes (:meth:`MacroCells.refresh`). A sample in a cell whose maximum opacity is exactly zero contributes
nothing, so the tracer does not evaluate the field there: skipping is exact, not an approximation.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F

from .fields import Field, sample_field_grid
from .transfer import TransferFunction

__all__ = ["MacroCells", "GridMacroCells", "cell_value_ranges", "cell_value_ranges_np", "max_alpha_np"]


def cell_value_ranges(nodes: Tensor, voxels_per_cell: int) -> tuple[Tensor, Tensor]:
    """Per-cell min and max of a node grid ``(Z, Y, X)``; cells share their boundary nodes.

    Returns ``lo, hi`` of shape ``(Cz, Cy, Cx)`` with ``C = ceil((n - 1) / voxels_per_cell)`` per axis.
    """
    v = int(voxels_per_cell)
    cells = [max(1, math.ceil((n - 1) / v)) for n in nodes.shape]
    pad = []
    for n, c in zip(reversed(nodes.shape), reversed(cells), strict=True):
        pad += [0, c * v + 1 - n]
    x = F.pad(nodes[None, None].float(), pad, mode="replicate")
    hi = F.max_pool3d(x, kernel_size=v + 1, stride=v)[0, 0]
    lo = -F.max_pool3d(-x, kernel_size=v + 1, stride=v)[0, 0]
    return lo, hi


class MacroCells:
    """Empty-space skipping structure of one field.

    Args:
        voxels_per_cell: cell size in voxels of the field's grid (default 16, i.e. 16^3 voxels per cell).
        cells: for fields without a grid (INRs, analytic), the number of cells per axis; such fields are
            sampled at ``cells * samples_per_cell + 1`` nodes per axis and every range is widened by half its
            width plus ``margin`` because the field may exceed its samples between them.
    """

    def __init__(
        self,
        field: Field,
        voxels_per_cell: int = 16,
        cells: int = 16,
        samples_per_cell: int = 4,
        margin: float = 0.02,
    ):
        grid = getattr(field, "grid", None)
        if grid is not None:
            lo, hi = cell_value_ranges(grid, voxels_per_cell)
            nodes_shape, vpc = grid.shape, voxels_per_cell
        else:
            nodes = sample_field_grid(field, cells * samples_per_cell + 1)
            lo, hi = cell_value_ranges(nodes, samples_per_cell)
            half = (hi - lo) * 0.5 + margin
            lo, hi = (lo - half).clamp(0, 1), (hi + half).clamp(0, 1)
            nodes_shape, vpc = nodes.shape, samples_per_cell
        self.lo, self.hi = lo, hi
        self.device = lo.device
        self.shape = tuple(lo.shape)  # (Cz, Cy, Cx)
        # coordinate (x, y, z) * scale -> fractional cell index along (x, y, z)
        self.scale = torch.tensor([(n - 1) / vpc for n in reversed(nodes_shape)], device=self.device)
        self._cmax = torch.tensor([c - 1 for c in reversed(self.shape)], device=self.device)
        self._strides = torch.tensor([1, self.shape[2], self.shape[1] * self.shape[2]], device=self.device)
        self.max_alpha: Tensor | None = None
        self.occupied: Tensor | None = None
        self.fingerprint: str | None = None

    def refresh(self, tf: TransferFunction, table: Tensor | None = None) -> None:
        """Recompute the maximum opacity per cell for ``tf`` (no-op when its fingerprint is unchanged)."""
        fp = tf.fingerprint()
        if fp == self.fingerprint and table is None:
            return
        if table is None:
            table = torch.from_numpy(tf.table()).to(self.device)
        alpha = table[:, 3]
        n = alpha.shape[0]
        # The tracer interpolates the table linearly, so over [lo, hi] it never exceeds the table entries
        # between floor(lo*(n-1)) and ceil(hi*(n-1)).
        i0 = (self.lo.reshape(-1) * (n - 1)).floor().long()
        i1 = (self.hi.reshape(-1) * (n - 1)).ceil().long()
        ar = torch.arange(n, device=self.device)
        out = torch.empty(i0.shape[0], device=self.device)
        step = max(1, (1 << 22) // n)  # bound the (cells, n) mask's memory
        for s in range(0, i0.shape[0], step):
            m = (ar >= i0[s : s + step, None]) & (ar <= i1[s : s + step, None])
            out[s : s + step] = torch.where(m, alpha, torch.zeros((), device=self.device)).amax(1)
        self.max_alpha = out.view(self.shape)
        self.occupied = self.max_alpha > 0
        self.fingerprint = fp

    def lookup(self, x: Tensor) -> Tensor:
        """``(..., 3)`` coordinates -> ``(...)`` bool, True where the sample's cell may be visible."""
        c = (x * self.scale).floor().long()
        c = torch.minimum(c.clamp_min(0), self._cmax)
        return self.occupied.reshape(-1)[(c * self._strides).sum(-1)]

    def bounds(self) -> tuple[Tensor, Tensor] | None:
        """Axis-aligned box ``(lo (3,), hi (3,))`` in (x, y, z) around all occupied cells; None if none is."""
        idx = self.occupied.nonzero()
        if idx.shape[0] == 0:
            return None
        lo = idx.amin(0).flip(0).float() / self.scale
        hi = (idx.amax(0).flip(0).float() + 1) / self.scale
        return lo.clamp(0, 1), hi.clamp(0, 1)


# -- numpy twin for the GL path ---------------------------------------------------------------------------
# The interactive canvas rebuilds macro cells for every new volume on the GUI thread. These numpy versions
# give exactly the torch results above without touching torch's thread pools there (torch ops on the GUI
# thread competed with the generation worker for OpenMP threads and took up to 40 ms for a 64^3 grid).


def _window_max_along(a: np.ndarray, axis: int, v: int) -> np.ndarray:
    """Max over the windows ``[i*v, i*v + v]`` (boundary nodes shared) along ``axis``, with the last node
    replicated past the end as ``F.pad(mode='replicate')`` does."""
    n = a.shape[axis]
    c = max(1, math.ceil((n - 1) / v))
    a = np.moveaxis(a, axis, 0)
    need = c * v + 1
    if need > n:
        a = np.concatenate([a, np.repeat(a[-1:], need - n, axis=0)], axis=0)
    body = a[: c * v].reshape(c, v, *a.shape[1:]).max(axis=1)
    out = np.maximum(body, a[v : c * v + 1 : v])
    return np.moveaxis(out, 0, axis)


def cell_value_ranges_np(nodes: np.ndarray, voxels_per_cell: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`cell_value_ranges` in numpy: per-cell ``(lo, hi)`` float32 arrays of shape ``(Cz, Cy, Cx)``."""
    v = int(voxels_per_cell)
    hi = np.asarray(nodes, dtype=np.float32)
    lo = -hi
    for axis in range(3):
        hi = _window_max_along(hi, axis, v)
        lo = _window_max_along(lo, axis, v)
    return -lo, hi


def max_alpha_np(lo: np.ndarray, hi: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """:meth:`MacroCells.refresh` in numpy: the largest table opacity between ``floor(lo*(n-1))`` and
    ``ceil(hi*(n-1))`` per cell (a sparse table answers each range-max query in O(1))."""
    alpha = np.asarray(alpha, dtype=np.float32)
    n = alpha.shape[0]
    i0 = np.clip(np.floor(lo.astype(np.float32) * np.float32(n - 1)).astype(np.int64), 0, n - 1)
    i1 = np.clip(np.ceil(hi.astype(np.float32) * np.float32(n - 1)).astype(np.int64), 0, n - 1)
    i1 = np.maximum(i1, i0)
    levels = [alpha]
    while (1 << len(levels)) <= n:
        prev, w = levels[-1], 1 << (len(levels) - 1)
        levels.append(np.maximum(prev[:-w], prev[w:]))
    length = i1 - i0 + 1
    k = np.floor(np.log2(length)).astype(np.int64)
    out = np.empty(lo.shape, dtype=np.float32)
    for j in np.unique(k):
        m = k == j
        tab = levels[j]
        out[m] = np.maximum(tab[i0[m]], tab[i1[m] - (1 << j) + 1])
    return out


class GridMacroCells:
    """Macro cells of a ``(Z, Y, X)`` node grid in numpy for the GL tracer (as :class:`MacroCells`)."""

    def __init__(self, nodes: np.ndarray, voxels_per_cell: int = 16):
        nodes = np.asarray(nodes)
        self.lo, self.hi = cell_value_ranges_np(nodes, voxels_per_cell)
        self.shape = tuple(self.lo.shape)
        self.scale = np.array([(n - 1) / voxels_per_cell for n in reversed(nodes.shape)], dtype=np.float32)
        self.max_alpha: np.ndarray | None = None
        self.occupied: np.ndarray | None = None

    def refresh(self, table: np.ndarray) -> None:
        """Recompute occupancy for a transfer-function table ``(n, 4)``."""
        self.max_alpha = max_alpha_np(self.lo, self.hi, np.asarray(table)[:, 3])
        self.occupied = self.max_alpha > 0

    def bounds(self) -> tuple[np.ndarray, np.ndarray] | None:
        """As :meth:`MacroCells.bounds`: the (x, y, z) box around all occupied cells, or None."""
        idx = np.argwhere(self.occupied)
        if idx.shape[0] == 0:
            return None
        lo = idx.min(0)[::-1].astype(np.float32) / self.scale
        hi = (idx.max(0)[::-1].astype(np.float32) + 1) / self.scale
        return np.clip(lo, 0, 1), np.clip(hi, 0, 1)
