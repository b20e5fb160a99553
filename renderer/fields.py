"""Fields: what the renderer ray-marches. One protocol, three adapters.

A field is a callable mapping ``(N, 3)`` float32 coordinates ``(x, y, z)`` in [0, 1]^3 to ``(N,)`` float32
values in [0, 1], computed on the field's ``device``. Grids are node-centred: index ``(z, y, x)`` of a
``(Z, Y, X)`` grid sits at ``(x/(X-1), y/(Y-1), z/(Z-1))``, as in :meth:`hyperinr_core.model.inr.INR.sample_grid`.

Fields may offer a dense node grid through ``.grid`` (``(Z, Y, X)`` tensor or None): macro cells then take
exact per-cell value ranges from it instead of sampling the field.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

import torch
from torch import Tensor
from torch.nn import functional as F

__all__ = ["Field", "GridField", "INRField", "AnalyticField", "sample_field_grid"]


@runtime_checkable
class Field(Protocol):
    device: torch.device

    def __call__(self, x: Tensor) -> Tensor:  # (N, 3) -> (N,)
        ...


class GridField:
    """Trilinear interpolation of a node-centred ``(Z, Y, X)`` grid (``grid_sample``, align_corners)."""

    def __init__(self, grid: Tensor, device: str | torch.device | None = None):
        g = torch.as_tensor(grid)
        if g.ndim != 3 or min(g.shape) < 2:
            raise ValueError(
                f"a grid field needs a (Z, Y, X) grid with every side >= 2, got {tuple(g.shape)}"
            )
        self.grid = g.to(device=device if device is not None else g.device, dtype=torch.float32).contiguous()
        self.device = self.grid.device
        self._vol = self.grid[None, None]

    def __call__(self, x: Tensor) -> Tensor:
        n = x.shape[0]
        if n == 0:
            return x.new_zeros(0)
        g = (x.to(self.device, torch.float32) * 2 - 1).view(1, 1, 1, n, 3)
        v = F.grid_sample(self._vol, g, mode="bilinear", padding_mode="border", align_corners=True)
        return v.view(n).clamp_(0.0, 1.0)


_EVALUATORS: dict = {}


def _fast_evaluator(inr, device: torch.device):
    """One FastINREvaluator per (encoding, MLP, device): compiled once, reused for every generated INR."""
    key = (inr.enc_cfg, inr.mlp_cfg, str(device))
    if key not in _EVALUATORS:
        from hyperinr_core.model.fast import FastINREvaluator

        _EVALUATORS[key] = FastINREvaluator(inr.enc_cfg, inr.mlp_cfg, device=device)
    return _EVALUATORS[key]


class INRField:
    """An :class:`hyperinr_core.model.inr.INR` as a field: its first output channel, clamped to [0, 1].

    Args:
        fast: use :class:`hyperinr_core.model.fast.FastINREvaluator` (tcnn on CUDA, ``torch.compile`` elsewhere).
            None: only on CUDA, where it is a clear win; on CPU compilation costs seconds up front.
    """

    grid = None

    def __init__(self, inr, fast: bool | None = None):
        self.inr = inr
        self.device = inr.device
        if fast is None:
            fast = self.device.type == "cuda"
        self._fast = _fast_evaluator(inr, self.device) if fast else None

    @torch.no_grad()
    def __call__(self, x: Tensor) -> Tensor:
        if x.shape[0] == 0:
            return x.new_zeros(0)
        x = x.to(self.device, torch.float32)
        v = self._fast(self.inr, x) if self._fast is not None else self.inr(x)
        return v[:, 0].clamp(0.0, 1.0)


class AnalyticField:
    """A closed-form field for tests and demos: ``fn((N, 3) tensor) -> (N,)``, clamped to [0, 1]."""

    grid = None

    def __init__(self, fn: Callable[[Tensor], Tensor], device: str | torch.device = "cpu"):
        self.fn = fn
        self.device = torch.device(device)

    def __call__(self, x: Tensor) -> Tensor:
        return self.fn(x.to(self.device, torch.float32)).reshape(-1).clamp(0.0, 1.0)


@torch.no_grad()
def sample_field_grid(field: Field, resolution: int, chunk: int = 1 << 18) -> Tensor:
    """Node-centred ``(n, n, n)`` samples of any field (bounded memory, chunked)."""
    from hyperinr_core.model.inr import grid_coordinates

    n = int(resolution)
    if getattr(field, "grid", None) is not None and tuple(field.grid.shape) == (n, n, n):
        return field.grid
    x = grid_coordinates((n, n, n), device=field.device)
    out = torch.empty(n**3, device=field.device)
    for s in range(0, n**3, chunk):
        out[s : s + chunk] = field(x[s : s + chunk])
    return out.view(n, n, n)
