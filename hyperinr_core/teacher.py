"""CoordNet, the teacher: residual blocks of sine layers (SIREN initialisation, omega_0 = 30).

Structure (paper, section 2.1): encoder resblocks widening the input (64 → 128 → 256), ``n_hidden_blocks``
resblocks of the last width, one decoder resblock, then a linear output. Values are mapped to [-1, 1] only at
its boundary: callers pass and receive [0, 1] values.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
from torch import Tensor, nn

__all__ = ["CoordNetConfig", "CoordNet", "SineLayer", "ResSineBlock"]


@dataclass
class CoordNetConfig:
    n_input_dims: int = 4
    n_output_dims: int = 1
    encoder_widths: list[int] = field(default_factory=lambda: [64, 128, 256])
    n_hidden_blocks: int = 10
    omega_0: float = 30.0

    @classmethod
    def preset(cls, name: str, n_input_dims: int = 4, n_output_dims: int = 1) -> CoordNetConfig:
        """``"paper"`` (the paper's size) or ``"cpu"`` (small enough to train on a laptop CPU)."""
        if name == "paper":
            return cls(n_input_dims, n_output_dims)
        if name == "cpu":
            return cls(n_input_dims, n_output_dims, [32, 64, 128], 3)
        raise ValueError(f"unknown CoordNet preset {name!r} (paper, cpu)")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> CoordNetConfig:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


class SineLayer(nn.Module):
    """sin(omega_0 * (W x + b)) with SIREN initialisation."""

    def __init__(self, n_in: int, n_out: int, omega_0: float = 30.0, first: bool = False):
        super().__init__()
        self.omega_0 = omega_0
        self.linear = nn.Linear(n_in, n_out)
        bound = 1.0 / n_in if first else math.sqrt(6.0 / n_in) / omega_0
        with torch.no_grad():
            self.linear.weight.uniform_(-bound, bound)
            self.linear.bias.uniform_(-bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        return torch.sin(self.omega_0 * self.linear(x))


class ResSineBlock(nn.Module):
    """Two sine layers with a skip connection, averaged: 0.5 * (skip(x) + sine2(sine1(x)))."""

    def __init__(self, n_in: int, n_out: int, omega_0: float = 30.0, first: bool = False):
        super().__init__()
        self.l1 = SineLayer(n_in, n_out, omega_0, first=first)
        self.l2 = SineLayer(n_out, n_out, omega_0)
        self.skip = None if n_in == n_out else SineLayer(n_in, n_out, omega_0, first=first)

    def forward(self, x: Tensor) -> Tensor:
        s = x if self.skip is None else self.skip(x)
        return 0.5 * (s + self.l2(self.l1(x)))


class CoordNet(nn.Module):
    """Maps ``(N, n_input_dims)`` points in [0, 1] (parameters then coordinates) to values in [0, 1]."""

    KIND = "coordnet"

    def __init__(self, cfg: CoordNetConfig):
        super().__init__()
        self.cfg = cfg
        blocks, n = [], cfg.n_input_dims
        for i, w in enumerate(cfg.encoder_widths):
            blocks.append(ResSineBlock(n, w, cfg.omega_0, first=i == 0))
            n = w
        blocks += [ResSineBlock(n, n, cfg.omega_0) for _ in range(cfg.n_hidden_blocks)]
        blocks.append(ResSineBlock(n, n, cfg.omega_0))  # decoder block
        self.blocks = nn.Sequential(*blocks)
        self.out = nn.Linear(n, cfg.n_output_dims)
        bound = math.sqrt(6.0 / n) / cfg.omega_0
        with torch.no_grad():
            self.out.weight.uniform_(-bound, bound)
            self.out.bias.zero_()

    def forward(self, x: Tensor) -> Tensor:
        # [0, 1] inputs and outputs; [-1, 1] inside, where SIRENs are at home.
        y = self.out(self.blocks(x * 2.0 - 1.0))
        return (y + 1.0) * 0.5
