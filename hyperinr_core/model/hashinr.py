"""HashINR, the paper's baseline (section 5.3): one hash grid over the spatial coordinates plus a OneBlob
encoding of each parameter, concatenated into one MLP. Model kind ``"hashinr"``; trained directly on the
data with the same loop, budgets and CLI as HyperINR (:mod:`hyperinr_core.train.hashinr_train`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import torch
from torch import Tensor, nn

from hyperinr_core.errors import FileFormatError
from hyperinr_core.model.coordnet import predict_grid
from hyperinr_core.model.encoding import HashGridConfig
from hyperinr_core.model.field_info import FieldInfo
from hyperinr_core.model.mlp import MLPConfig, SharedMLP, mlp_forward
from hyperinr_core.model.modelfile import read_model_file, write_model_file
from hyperinr_core.model.training_encoder import TrainingEncoder

__all__ = ["HashINRConfig", "HashINR", "one_blob"]


def one_blob(u: Tensor, n_bins: int) -> Tensor:
    """OneBlob encoding (Müller et al. 2019): each value in [0, 1] becomes ``n_bins`` bin integrals of a
    Gaussian of standard deviation ``1 / n_bins`` centred on it (as tiny-cuda-nn's OneBlob).

    ``u (..., D)`` -> ``(..., D * n_bins)``.
    """
    edges = torch.linspace(0.0, 1.0, n_bins + 1, device=u.device, dtype=u.dtype)
    sigma = 1.0 / n_bins
    z = (edges - u[..., None]) / (sigma * math.sqrt(2.0))
    cdf = 0.5 * (1.0 + torch.erf(z))
    return (cdf[..., 1:] - cdf[..., :-1]).flatten(-2)


@dataclass
class HashINRConfig:
    """A hash grid over space (paper, section 5.3: medium-sized tables, T = 2^17) + OneBlob per parameter."""

    encoding: HashGridConfig = field(default_factory=lambda: HashGridConfig(3, 8, 4, 17, 4, 2.0))
    n_bins: int = 16
    mlp_neurons: int = 64
    mlp_hidden_layers: int = 4

    def mlp(self, info: FieldInfo) -> MLPConfig:
        n_in = self.encoding.n_output_dims + self.n_bins * info.n_param_dims
        return MLPConfig(n_in, info.n_channels, self.mlp_neurons, self.mlp_hidden_layers)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["encoding"] = self.encoding.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> HashINRConfig:
        kw = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        kw["encoding"] = HashGridConfig.from_dict(d["encoding"])
        return cls(**kw)


class HashINR(nn.Module):
    """``Φ(x, θ) = MLP([hash(x), OneBlob(θ)])``: one network for the whole parameter range."""

    KIND = "hashinr"

    def __init__(self, cfg: HashINRConfig, info: FieldInfo, generator: torch.Generator | None = None):
        super().__init__()
        if cfg.encoding.n_input_dims != info.n_space_dims:
            cfg = replace(cfg, encoding=replace(cfg.encoding, n_input_dims=info.n_space_dims))
        self.cfg, self.info = cfg, info
        self.mlp_cfg = cfg.mlp(info)
        self.grid_params = nn.Parameter(cfg.encoding.init_params(generator))
        self.mlp = SharedMLP(self.mlp_cfg, generator=generator)
        self._encoder: TrainingEncoder | None = None

    @property
    def device(self) -> torch.device:
        return self.grid_params.device

    def encoder(self, compile: bool = False) -> TrainingEncoder:
        if self._encoder is None or self._encoder.device != self.device:
            self._encoder = TrainingEncoder(self.cfg.encoding, self.device, compile=compile)
        return self._encoder

    def query(self, u: Tensor, x: Tensor) -> Tensor:
        """Normalized values ``(B, M, C)`` at ``x (B, M, d)`` and normalized parameters ``u (B, D)``."""
        b, m, d = x.shape
        feats = self.encoder()(x.reshape(b * m, d), self.grid_params).view(b, m, -1)
        blob = one_blob(u.to(feats.dtype), self.cfg.n_bins)[:, None, :].expand(b, m, -1)
        return mlp_forward(torch.cat([feats, blob], dim=-1), self.mlp.params, self.mlp_cfg)

    @torch.no_grad()
    def predict_grid(self, u: Sequence[float] | np.ndarray, shape: Sequence[int] | None = None) -> np.ndarray:
        """Normalized values on a node-centred grid at normalized parameters ``u (D,)`` (see CoordNet's)."""
        return predict_grid(self.query, self.info, u, shape, self.device, chunk=1 << 17)

    # -- files -------------------------------------------------------------------------------------------
    def model_file(self) -> tuple[str, dict, dict[str, np.ndarray]]:
        return (
            self.KIND,
            {"hashinr": self.cfg.to_dict(), "field": self.info.to_dict()},
            {
                "grid_params": self.grid_params.detach().cpu().float().numpy(),
                "mlp_params": self.mlp.params.detach().cpu().float().numpy(),
            },
        )

    def save(self, path: str | os.PathLike) -> None:
        write_model_file(path, *self.model_file())

    @classmethod
    def load(cls, path: str | os.PathLike, device: str | torch.device | None = None) -> HashINR:
        mf = read_model_file(path, kind=cls.KIND)
        try:
            model = cls(
                HashINRConfig.from_dict(mf.config["hashinr"]), FieldInfo.from_dict(mf.config["field"])
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise FileFormatError(mf.path, f"invalid HashINR config: {exc}") from None
        grid = mf.array("grid_params", (model.cfg.encoding.n_params,))
        mlp = mf.array("mlp_params", (model.mlp_cfg.n_params,))
        with torch.no_grad():
            model.grid_params.copy_(torch.from_numpy(grid))
            model.mlp.params.copy_(torch.from_numpy(mlp))
        return model.to(device) if device is not None else model
