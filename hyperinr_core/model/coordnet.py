"""CoordNet, the teacher: residual blocks of sine layers (SIREN initialisation, omega_0 = 30).

Structure (paper, section 2.1): encoder resblocks widening the input (64 → 128 → 256), ``n_hidden_blocks``
resblocks of the last width, one decoder resblock, then a linear output. Values are mapped to [-1, 1] only at
its boundary: callers pass and receive [0, 1] values.

Inputs are the normalized parameters followed by the coordinates, ``(u_1..u_D, x, y[, z])``. A trained
teacher carries its :class:`~hyperinr_core.train.loop.FieldInfo` (parameter names/bounds, value range) and is
saved as a model file of kind ``"coordnet"``.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

from hyperinr_core.errors import FileFormatError
from hyperinr_core.model.field_info import FieldInfo
from hyperinr_core.model.modelfile import read_model_file, write_model_file

__all__ = ["CoordNetConfig", "CoordNet", "SineLayer", "ResSineBlock", "predict_grid"]


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


@contextmanager
def tf32_matmul():
    """CUDA float32 matrix products in TF32 inside the block (restored after)."""
    prev = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("high")
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(prev)


class CoordNet(nn.Module):
    """Maps ``(N, n_input_dims)`` points in [0, 1] (parameters then coordinates) to values in [0, 1]."""

    KIND = "coordnet"

    def __init__(self, cfg: CoordNetConfig, info: FieldInfo | None = None):
        super().__init__()
        self.cfg = cfg
        if info is None:
            info = FieldInfo(
                param_names=[f"p{i}" for i in range(max(cfg.n_input_dims - 3, 1))],
                param_lo=[0.0] * max(cfg.n_input_dims - 3, 1),
                param_hi=[1.0] * max(cfg.n_input_dims - 3, 1),
            )
        if info.n_param_dims + info.n_space_dims != cfg.n_input_dims or info.n_channels != cfg.n_output_dims:
            raise ValueError(
                f"a CoordNet with {cfg.n_input_dims} inputs / {cfg.n_output_dims} outputs cannot model "
                f"{info.n_param_dims} parameter(s) + {info.n_space_dims}-D space -> "
                f"{info.n_channels} value(s)"
            )
        self.info = info
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

    #: On CUDA, float32 matrix products run as TF32 on the tensor cores (set False for the paper's exact
    #: fp32; ``hyperinr bench gpu`` measures both). Other devices are unaffected.
    tf32 = True

    def forward(self, x: Tensor) -> Tensor:
        if x.is_cuda and self.tf32:
            with tf32_matmul():
                return self._forward(x)
        return self._forward(x)

    def _forward(self, x: Tensor) -> Tensor:
        # [0, 1] inputs and outputs; [-1, 1] inside, where SIRENs are at home.
        y = self.out(self.blocks(x * 2.0 - 1.0))
        return (y + 1.0) * 0.5

    # -- queries -----------------------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return self.out.weight.device

    def query(self, u: Tensor, x: Tensor) -> Tensor:
        """Values ``(B, M, C)`` at coordinates ``x (B, M, d)`` and normalized parameters ``u (B, D)``,
        the same call shape as :meth:`HyperINR.forward <hyperinr_core.model.hyperinr.HyperINR.forward>`."""
        b, m, _ = x.shape
        inp = torch.cat([u[:, None, :].to(x.dtype).expand(b, m, u.shape[-1]), x], dim=-1)
        return self(inp.reshape(b * m, -1)).view(b, m, -1)

    @torch.no_grad()
    def predict_grid(
        self, u: Sequence[float] | np.ndarray, shape: Sequence[int] | None = None, chunk: int = 1 << 16
    ) -> np.ndarray:
        """Normalized values on a node-centred grid at normalized parameters ``u (D,)``.

        Returns ``(Z, Y, X)`` for volumes or ``(H, W, C)`` for images (``shape`` without the channel axis;
        the training frame shape by default), float32.
        """
        return predict_grid(lambda uu, xx: self.query(uu, xx), self.info, u, shape, self.device, chunk)

    # -- files -------------------------------------------------------------------------------------------
    def model_file(self) -> tuple[str, dict, dict[str, np.ndarray]]:
        """``(kind, config, arrays)`` for :func:`~hyperinr_core.model.modelfile.write_model_file`."""
        arrays = {k: v.detach().cpu().float().numpy() for k, v in self.state_dict().items()}
        return self.KIND, {"coordnet": self.cfg.to_dict(), "field": self.info.to_dict()}, arrays

    def save(self, path: str | os.PathLike) -> None:
        """Write the teacher atomically as an HDF5 model file (kind ``"coordnet"``)."""
        write_model_file(path, *self.model_file())

    @classmethod
    def load(cls, path: str | os.PathLike, device: str | torch.device | None = None) -> CoordNet:
        """Load a teacher written by :meth:`save` (or a checkpoint); malformed files raise FileFormatError."""
        mf = read_model_file(path, kind=cls.KIND)
        try:
            cfg = CoordNetConfig.from_dict(mf.config["coordnet"])
            info = FieldInfo.from_dict(mf.config["field"])
            model = cls(cfg, info)
        except (KeyError, TypeError, ValueError) as exc:
            raise FileFormatError(mf.path, f"invalid CoordNet config: {exc}") from None
        state = {}
        for name, t in model.state_dict().items():
            state[name] = torch.from_numpy(np.ascontiguousarray(mf.array(name, tuple(t.shape))))
        model.load_state_dict(state)
        return model.to(device) if device is not None else model


def predict_grid(fn, info: FieldInfo, u, shape, device, chunk: int = 1 << 16) -> np.ndarray:
    """Evaluate ``fn(u (1, D), x (1, M, d)) -> (1, M, C)`` on a node-centred grid, in chunks.

    Shared by the teacher and the baselines. ``shape`` is (Z, Y, X) or (H, W) (the info's frame shape by
    default); returns normalized float32 values of shape (Z, Y, X) or (H, W, C).
    """
    from hyperinr_core.model.inr import grid_coordinates

    if shape is None:
        shape = info.frame_shape[:-1] if info.n_space_dims == 2 else info.frame_shape
    shape = tuple(int(s) for s in shape)
    if len(shape) != info.n_space_dims:
        raise ValueError(f"grid shape {shape} does not match {info.n_space_dims}-D space")
    uu = torch.as_tensor(np.asarray(u, dtype=np.float32).reshape(1, -1), device=device)
    x = grid_coordinates(shape, device=device)
    out = torch.empty(x.shape[0], info.n_channels, device=device)
    for s in range(0, x.shape[0], chunk):
        out[s : s + chunk] = fn(uu, x[None, s : s + chunk])[0].float()
    out = out.cpu().numpy()
    return out.reshape(shape) if info.n_channels == 1 and info.n_space_dims == 3 else out.reshape(*shape, -1)
