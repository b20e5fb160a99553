"""A hash grid that owns its parameters, run by the device's backend (:mod:`.backends`)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from hyperinr_core.model.backends import select_backend
from hyperinr_core.model.encoding import HashGridConfig

__all__ = ["HashGrid"]


class HashGrid(nn.Module):
    """A hash grid owning its parameters: ``HashGrid(cfg)(x) == hash_encode(x, grid.params, cfg)``, computed
    by the backend of ``x``'s device (the reference on a CPU, the Triton kernels on CUDA)."""

    def __init__(self, cfg: HashGridConfig, generator: torch.Generator | None = None):
        super().__init__()
        self.cfg = cfg
        self.params = nn.Parameter(cfg.init_params(generator))

    def forward(self, x: Tensor) -> Tensor:
        return select_backend(x.device).encode(x, self.params, self.cfg)

    def extra_repr(self) -> str:
        return f"{self.cfg}, n_params={self.cfg.n_params}"
