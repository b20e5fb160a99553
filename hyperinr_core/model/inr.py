"""A compact INR: hash-grid parameters + shared MLP weights + the value range it was trained on.

The network predicts normalized values (nominally in [0, 1]); ``value_range`` maps them back to data units.
Grid sampling is node-centred: along an axis with ``n`` samples the coordinates are ``linspace(0, 1, n)``,
and index ``(z, y, x)`` is coordinate ``(x, y, z)`` (X fastest), as in the dataset file.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from hyperinr_core.model.encoding import HashGridConfig, hash_encode
from hyperinr_core.model.mlp import MLPConfig, mlp_forward

__all__ = ["INR", "evaluate_inr", "grid_coordinates"]


def evaluate_inr(
    x: Tensor, enc_params: Tensor, mlp_params: Tensor, enc_cfg: HashGridConfig, mlp_cfg: MLPConfig
) -> Tensor:
    """The stateless INR evaluator: every weight is an argument, nothing is module state.

    Args:
        x: ``(N, d)`` points with ``enc_params (P,)``, or ``(B, M, d)`` with ``enc_params (B, P)``.
    Returns:
        ``(N, C)`` or ``(B, M, C)`` normalized values.
    """
    return mlp_forward(hash_encode(x, enc_params, enc_cfg), mlp_params, mlp_cfg)


def grid_coordinates(shape: Sequence[int], device=None) -> Tensor:
    """Node-centred coordinates of a grid: ``shape`` is (Z, Y, X) or (H, W); returns (prod, d) as (x, y[, z])."""
    axes = [torch.linspace(0.0, 1.0, int(n), device=device) for n in shape]
    mesh = torch.meshgrid(*axes, indexing="ij")
    return torch.stack([m.reshape(-1) for m in reversed(mesh)], dim=-1)


class INR:
    """One implicit neural representation Φ(x) = S(E(x)).

    Holds references, not copies: an INR returned by :meth:`HyperINR.generate` views the model's
    generation buffer and changes when the model generates again; call :meth:`clone` to keep it.
    """

    def __init__(
        self,
        enc_params: Tensor,
        mlp_params: Tensor,
        enc_cfg: HashGridConfig,
        mlp_cfg: MLPConfig,
        value_range: tuple[float, float] = (0.0, 1.0),
    ):
        self.enc_params = enc_params
        self.mlp_params = mlp_params
        self.enc_cfg = enc_cfg
        self.mlp_cfg = mlp_cfg
        self.value_range = (float(value_range[0]), float(value_range[1]))

    @property
    def device(self) -> torch.device:
        return self.enc_params.device

    @property
    def n_input_dims(self) -> int:
        return self.enc_cfg.n_input_dims

    @property
    def n_output_dims(self) -> int:
        return self.mlp_cfg.n_output_dims

    def __call__(self, x: Tensor, chunk: int = 1 << 18) -> Tensor:
        """Normalized values ``(N, C)`` at points ``x`` ``(N, d)`` in [0, 1]^d, evaluated in chunks."""
        x = x.to(self.device)
        if x.shape[0] <= chunk:
            return evaluate_inr(x, self.enc_params, self.mlp_params, self.enc_cfg, self.mlp_cfg)
        return torch.cat(
            [
                evaluate_inr(x[i : i + chunk], self.enc_params, self.mlp_params, self.enc_cfg, self.mlp_cfg)
                for i in range(0, x.shape[0], chunk)
            ]
        )

    @torch.no_grad()
    def sample_grid(
        self, resolution: int | Sequence[int], chunk: int = 1 << 18, out: Tensor | None = None
    ) -> Tensor:
        """Evaluate on a node-centred grid in bounded memory.

        Args:
            resolution: ``n`` for an n^d grid, or the shape ``(Z, Y, X)`` / ``(H, W)``.
            out: optional preallocated float tensor of the result's shape.
        Returns:
            ``(Z, Y, X)`` for a scalar 3-D INR, ``(..., C)`` when ``C > 1``; normalized values.
        """
        d = self.n_input_dims
        shape = (int(resolution),) * d if isinstance(resolution, int) else tuple(int(r) for r in resolution)
        if len(shape) != d:
            raise ValueError(f"resolution {shape} does not match the INR's {d}-D input")
        c = self.n_output_dims
        full = shape if c == 1 else (*shape, c)
        if out is None:
            out = torch.empty(full, device=self.device)
        flat = out.view(-1, c)
        # Generate coordinates per chunk of the flattened grid so memory stays bounded.
        total = flat.shape[0]
        strides = [1]
        for n in reversed(shape[1:]):
            strides.insert(0, strides[0] * n)
        for start in range(0, total, chunk):
            lin = torch.arange(start, min(start + chunk, total), device=self.device)
            coords = []
            for n, s in zip(reversed(shape), reversed(strides)):
                i = (lin // s) % n
                coords.append(i.float() / max(n - 1, 1))
            x = torch.stack(coords, dim=-1)
            flat[start : start + x.shape[0]] = evaluate_inr(
                x, self.enc_params, self.mlp_params, self.enc_cfg, self.mlp_cfg
            ).to(out.dtype)
        return out

    def to_data_units(self, v: Tensor) -> Tensor:
        lo, hi = self.value_range
        return v * (hi - lo) + lo

    def clone(self) -> INR:
        return INR(self.enc_params.clone(), self.mlp_params, self.enc_cfg, self.mlp_cfg, self.value_range)
