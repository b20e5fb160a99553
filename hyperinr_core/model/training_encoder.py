"""The hash encoding for training: the values and gradients of
:func:`~hyperinr_core.model.encoding.hash_encode`, faster on a CPU, through the Triton kernels where the
backend is ``triton`` (:mod:`.backends`)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor


class _WeightedGather(torch.autograd.Function):
    """``embedding_bag(idx, table, w, mode="sum")`` whose backward is a scatter-add.

    The stock embedding-bag backward sorts every index first, which on a CPU costs more than the whole
    forward pass; a scatter-add gives the same gradient (up to float summation order). On a CPU the
    scatter-add runs as one weighted ``bincount`` per feature column, a plain loop that is 1.5-2.5x faster
    than ``index_add_`` over rows of a few features; elsewhere (``bincount`` would sync to size its
    output) it is ``index_add_``.
    """

    @staticmethod
    def forward(ctx, table: Tensor, idx: Tensor, w: Tensor) -> Tensor:
        ctx.save_for_backward(idx, w)
        ctx.table_shape = table.shape
        return torch.nn.functional.embedding_bag(idx, table, per_sample_weights=w.to(table.dtype), mode="sum")

    @staticmethod
    def backward(ctx, grad: Tensor):
        idx, w = ctx.saved_tensors
        contrib = (grad[:, None, :] * w[..., None].to(grad.dtype)).reshape(-1, grad.shape[-1])
        rows = ctx.table_shape[0]
        if grad.device.type == "cpu":
            flat = idx.reshape(-1)
            cols = [torch.bincount(flat, contrib[:, f], minlength=rows) for f in range(contrib.shape[1])]
            return torch.stack(cols, 1).to(grad.dtype), None, None
        g = torch.zeros(ctx.table_shape, dtype=grad.dtype, device=grad.device)
        g.index_add_(0, idx.reshape(-1), contrib)
        return g, None, None


class TrainingEncoder:
    """``hash_encode`` for training: same values and gradients, faster on a CPU.

    The table indices and interpolation weights depend on the coordinates only (never on the parameters),
    so they are computed without autograd, under ``torch.compile`` when available (the index arithmetic is
    a long chain of small elementwise ops that compilation fuses); the parameters enter through one
    weighted gather with a scatter-add backward.
    """

    def __init__(self, cfg: Any, device: torch.device | str = "cpu", compile: bool = False):
        from hyperinr_core.model.backends import select_backend
        from hyperinr_core.model.encoding import DeviceTables, corner_indices_and_weights
        from hyperinr_core.model.fast import NO_COMPILE

        self.cfg = cfg
        self.device = torch.device(device)
        self.backend = select_backend(self.device)
        tables = DeviceTables.get(cfg, self.device)

        def idx_w(x: Tensor) -> tuple[Tensor, Tensor]:
            return corner_indices_and_weights(x, cfg, tables)

        self._idx_w = idx_w
        self.compiled = False
        if compile and not NO_COMPILE:
            try:
                self._idx_w = torch.compile(idx_w, dynamic=False)
                self.compiled = True
            except Exception:  # pragma: no cover - depends on the toolchain
                self._idx_w = idx_w

    def indices(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(N, L, 2^d) global table indices and weights of points ``x (N, d)``."""
        with torch.no_grad():
            if self.compiled:
                try:
                    return self._idx_w(x)
                except Exception:  # pragma: no cover - compiler missing at run time: stay eager
                    self.compiled = False
                    self._idx_w = lambda xx: _eager_idx(xx, self.cfg)
            return self._idx_w(x)

    def __call__(self, x: Tensor, params: Tensor) -> Tensor:
        """Features ``(N, L*F)`` of ``x (N, d)`` with ``params (P,)``, or ``(B, M, L*F)`` of ``x (B, M, d)``
        with one parameter vector per row, ``params (B, P)``."""
        if self.backend.name == "triton":
            return self.backend.encode(x, params, self.cfg)
        cfg = self.cfg
        n_corners, feats = 1 << cfg.n_input_dims, cfg.n_features_per_level
        if x.dim() == 3:
            b, m, d = x.shape
            idx, w = self.indices(x.reshape(b * m, d))
            shift = (torch.arange(b, device=x.device) * cfg.n_entries).repeat_interleave(m).view(-1, 1, 1)
            idx = idx + shift
            table = params.reshape(b * cfg.n_entries, feats)
            out = _WeightedGather.apply(table, idx.view(-1, n_corners), w.view(-1, n_corners))
            return out.view(b, m, -1)
        idx, w = self.indices(x)
        table = params.view(cfg.n_entries, feats)
        return _WeightedGather.apply(table, idx.view(-1, n_corners), w.view(-1, n_corners)).view(
            x.shape[0], -1
        )

    def mixture(self, x: Tensor, tables: Tensor, kidx: Tensor, kw: Tensor) -> Tensor:
        """Features ``(B, M, L*F)`` of ``x (B, M, d)``, row ``b`` encoded with ``sum_k kw[b, k] *
        tables[kidx[b, k]]`` (a HyperINR's encoder at θ); differentiable in ``tables``. The Triton backend
        gathers from (and scatters gradients into) the K tables directly; the reference blends first."""
        if self.backend.name == "triton":
            return self.backend.encode_mixture(x, tables, kidx, kw, self.cfg)
        # As a product with the dense (B, E) blend weights: autograd's backward is then one more product
        # (W^T @ grad), not the accumulating scatter of a gather's backward (several times slower on a CPU).
        w = torch.zeros(kidx.shape[0], tables.shape[0], dtype=tables.dtype, device=tables.device)
        w.scatter_add_(1, kidx, kw.to(tables.dtype))
        return self(x, w @ tables)


def _eager_idx(x: Tensor, cfg: Any) -> tuple[Tensor, Tensor]:
    from hyperinr_core.model.encoding import corner_indices_and_weights

    return corner_indices_and_weights(x, cfg)
