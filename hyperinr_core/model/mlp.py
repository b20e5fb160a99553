"""The shared MLP, laid out like tiny-cuda-nn's FullyFusedMLP.

ReLU hidden activations, no biases, no output activation. Input and output widths are padded to multiples
of 16; the parameter vector holds the weight matrices back to back, each row-major ``(out, in)``:
``W0: (width, in_pad)``, ``W1..W{h-1}: (width, width)``, ``Wh: (out_pad, width)``, where ``h`` is
``n_hidden_layers``. Padded input columns see zeros and padded output rows are dropped, so a parameter
vector is interchangeable with ``tcnn.Network``'s.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

__all__ = ["MLPConfig", "mlp_forward", "SharedMLP"]


def _pad16(n: int) -> int:
    return (n + 15) // 16 * 16


@dataclass(frozen=True)
class MLPConfig:
    """Shape of the shared MLP (the paper: 4 hidden layers of width 64)."""

    n_input_dims: int = 32
    n_output_dims: int = 1
    n_neurons: int = 64
    n_hidden_layers: int = 4

    def __post_init__(self) -> None:
        if self.n_neurons not in (16, 32, 64, 128):
            raise ValueError(f"n_neurons must be 16, 32, 64 or 128 (FullyFusedMLP), got {self.n_neurons}")
        if self.n_hidden_layers < 1 or self.n_input_dims < 1 or self.n_output_dims < 1:
            raise ValueError(f"invalid MLP config {self}")

    @property
    def padded_input_dims(self) -> int:
        return _pad16(self.n_input_dims)

    @property
    def padded_output_dims(self) -> int:
        return _pad16(self.n_output_dims)

    @property
    def shapes(self) -> list[tuple[int, int]]:
        """(out, in) of each weight matrix, in storage order."""
        w = self.n_neurons
        return (
            [(w, self.padded_input_dims)]
            + [(w, w)] * (self.n_hidden_layers - 1)
            + [(self.padded_output_dims, w)]
        )

    @property
    def n_params(self) -> int:
        return sum(o * i for o, i in self.shapes)

    def split(self, params: Tensor) -> list[Tensor]:
        """Views of the flat ``params`` as the weight matrices (no copy)."""
        if params.shape != (self.n_params,):
            raise ValueError(f"MLP params must have shape ({self.n_params},), got {tuple(params.shape)}")
        mats, start = [], 0
        for o, i in self.shapes:
            mats.append(params[start : start + o * i].view(o, i))
            start += o * i
        return mats

    def init_params(self, generator: torch.Generator | None = None, device=None) -> Tensor:
        """Xavier-uniform per matrix (what tcnn does), computed on the unpadded fan-in/out."""
        parts = []
        for k, (o, i) in enumerate(self.shapes):
            fan_in = self.n_input_dims if k == 0 else i
            fan_out = self.n_output_dims if k == len(self.shapes) - 1 else o
            bound = (6.0 / (fan_in + fan_out)) ** 0.5
            m = torch.empty(o, i, device=device).uniform_(-bound, bound, generator=generator)
            if k == 0:
                m[:, self.n_input_dims :] = 0
            if k == len(self.shapes) - 1:
                m[self.n_output_dims :] = 0
            parts.append(m.reshape(-1))
        return torch.cat(parts)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> MLPConfig:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__})

    def to_tcnn(self) -> dict:
        """The ``network_config`` dict for ``tinycudann.Network``."""
        return {
            "otype": "FullyFusedMLP",
            "activation": "ReLU",
            "output_activation": "None",
            "n_neurons": self.n_neurons,
            "n_hidden_layers": self.n_hidden_layers,
        }


def mlp_forward(h: Tensor, params: Tensor, cfg: MLPConfig) -> Tensor:
    """Run the shared MLP with weights passed in (functional form).

    Args:
        h: ``(..., n_input_dims)`` features (unpadded).
        params: ``(cfg.n_params,)`` flat weights in tcnn layout.

    Returns:
        ``(..., n_output_dims)``.
    """
    mats = cfg.split(params.to(h.dtype))
    # Padded input columns only ever multiply zeros: use the unpadded slice instead of padding h.
    h = F.relu(F.linear(h, mats[0][:, : cfg.n_input_dims]))
    for m in mats[1:-1]:
        h = F.relu(F.linear(h, m))
    return F.linear(h, mats[-1][: cfg.n_output_dims])


class SharedMLP(nn.Module):
    """The MLP shared by every generated INR; its weights are one flat tcnn-layout parameter."""

    def __init__(self, cfg: MLPConfig, generator: torch.Generator | None = None):
        super().__init__()
        self.cfg = cfg
        self.params = nn.Parameter(cfg.init_params(generator))

    def forward(self, h: Tensor) -> Tensor:
        return mlp_forward(h, self.params, self.cfg)
