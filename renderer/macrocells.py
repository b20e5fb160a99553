"""Macro cells: a coarse grid of per-cell value ranges used to skip empty space.

Each cell covers ``voxels_per_cell``^3 voxels of the field's node grid (its ``.grid`` when it has one, else a
node grid sampled from the field). The value range ``[lo, hi]`` of a cell is computed once per field; the
maximum opacity per cell is recomputed from the transfer-function table whenever the transfer function
changes (:meth:`MacroCells.refresh`). A sample in a cell whose maximum opacity is exactly zero contributes
nothing, so the tracer does not evaluate the field there: skipping is exact, not an approximation.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.nn import functional as F

from .fields import Field, sample_field_grid
from .transfer import TransferFunction

__all__ = ["MacroCells", "cell_value_ranges"]


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
