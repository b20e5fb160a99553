"""Analytic test scenes and a quickly fitted demo INR (until a bundled demo model exists).

Each scene is a function ``(N, 3) -> (N,)`` in [0, 1]; wrap it in :class:`renderer.fields.AnalyticField`.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["blobs", "sphere", "slab", "sphere_and_blocker", "fit_inr", "demo_inr", "inr_as_hyperinr"]


def sphere(center=(0.5, 0.5, 0.5), radius: float = 0.25, value: float = 1.0, soft: float = 0.02):
    """A ball of constant ``value`` with a smooth rim of width ``soft``."""
    c = torch.tensor(center, dtype=torch.float32)

    def fn(x: Tensor) -> Tensor:
        r = (x - c.to(x.device)).norm(dim=1)
        return value * torch.clamp((radius - r) / soft + 0.5, 0.0, 1.0)

    return fn


def slab(z0: float = 0.4, z1: float = 0.6, value: float = 1.0):
    """``value`` for z in [z0, z1], else 0 (a sharp-edged homogeneous layer)."""

    def fn(x: Tensor) -> Tensor:
        z = x[:, 2]
        return torch.where((z >= z0) & (z <= z1), torch.full_like(z, value), torch.zeros_like(z))

    return fn


def sphere_and_blocker(blocker: bool = True):
    """A ball at the centre and, optionally, a smaller dense ball above it (toward +z)."""
    body = sphere((0.5, 0.5, 0.4), 0.18, 0.6)
    block = sphere((0.5, 0.5, 0.8), 0.12, 1.0)

    def fn(x: Tensor) -> Tensor:
        v = body(x)
        return torch.maximum(v, block(x)) if blocker else v

    return fn


def blobs(n: int = 6, seed: int = 3, width: float = 0.07):
    """A sparse field: ``n`` Gaussian blobs with values in (0.5, 1], zero almost everywhere else."""
    g = torch.Generator().manual_seed(seed)
    centers = 0.2 + 0.6 * torch.rand(n, 3, generator=g)
    heights = 0.5 + 0.5 * torch.rand(n, generator=g)
    widths = width * (0.6 + 0.8 * torch.rand(n, generator=g))

    def fn(x: Tensor) -> Tensor:
        c, h, w = centers.to(x.device), heights.to(x.device), widths.to(x.device)
        d2 = ((x[:, None, :] - c) ** 2).sum(-1)
        v = (h * torch.exp(-d2 / (2 * w**2))).amax(1)
        return torch.where(v > 0.02, v, torch.zeros_like(v))

    return fn


def fit_inr(fn, steps: int = 300, batch: int = 1 << 14, device="cpu", seed: int = 0, enc_cfg=None):
    """Fit a small INR (hash grid + shared MLP) to ``fn`` with Adam; a few seconds on a CPU.

    Returns an :class:`hyperinr_core.model.inr.INR` on ``device``.
    """
    from hyperinr_core import INR, HashGridConfig, MLPConfig, evaluate_inr

    g = torch.Generator().manual_seed(seed)
    enc = enc_cfg or HashGridConfig(3, 8, 2, 16, 8, 1.5)
    mlp = MLPConfig(enc.n_output_dims, 1)
    ep = enc.init_params(g).to(device).requires_grad_(True)
    mp = mlp.init_params(g).to(device).requires_grad_(True)
    opt = torch.optim.Adam([ep, mp], lr=1e-2, betas=(0.9, 0.99), eps=1e-10)
    for _ in range(steps):
        x = torch.rand(batch, 3, generator=g).to(device)
        loss = (evaluate_inr(x, ep, mp, enc, mlp)[:, 0] - fn(x)).abs().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return INR(ep.detach(), mp.detach(), enc, mlp)


def demo_inr(device="cpu", steps: int = 150):
    """The benchmark's demo INR: :func:`blobs` fitted by :func:`fit_inr` with the paper's encoder
    (``HashGridConfig(3, 8, 4, 15, 4, 2.0)``), so its evaluation cost is that of a real model."""
    from hyperinr_core import HashGridConfig

    return fit_inr(
        blobs(), steps=steps, batch=1 << 13, device=device, enc_cfg=HashGridConfig(3, 8, 4, 15, 4, 2.0)
    )


def inr_as_hyperinr(inr, param_name: str = "t"):
    """Wrap one INR as a 1-parameter HyperINR (two identical encoders) so it can be saved as a model file
    and handed to ``hyperinr render --model``."""
    import numpy as np

    from hyperinr_core import HyperINR, HyperINRConfig

    cfg = HyperINRConfig(
        encoding=inr.enc_cfg, mlp=inr.mlp_cfg, param_names=[param_name], value_range=inr.value_range
    )
    model = HyperINR(cfg, np.array([[0.0], [1.0]]), device=inr.device)
    with torch.no_grad():
        model.encoder_params.copy_(inr.enc_params.expand(2, -1))
        model.mlp.params.copy_(inr.mlp_params)
    return model
