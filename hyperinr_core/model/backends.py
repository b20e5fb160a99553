"""Optional tiny-cuda-nn backend: used when ``tinycudann`` imports and the device is CUDA.

The parameter vectors of :mod:`.encoding` and :mod:`.mlp` are tcnn's own layout, so they are fed to
``tcnn.Encoding`` / ``tcnn.Network`` unchanged. Nothing requires this module: every caller falls back to the
torch reference when :func:`tcnn_available` is false.
"""

from __future__ import annotations

import torch

from hyperinr_core.model.encoding import HashGridConfig
from hyperinr_core.model.mlp import MLPConfig

__all__ = ["tcnn_available", "tcnn_inr_module"]


def tcnn_available(device: str | torch.device | None = None) -> bool:
    if device is not None and torch.device(device).type != "cuda":
        return False
    if not torch.cuda.is_available():
        return False
    try:
        import tinycudann  # noqa: F401
    except Exception:  # ImportError, or a broken build raising at import
        return False
    return True


def tcnn_inr_module(enc_cfg: HashGridConfig, mlp_cfg: MLPConfig, device):
    """A callable ``(inr, x, out) -> out`` running tcnn kernels, or None when tcnn is unavailable."""
    if not tcnn_available(device):
        return None
    import tinycudann as tcnn

    encoding = tcnn.Encoding(enc_cfg.n_input_dims, enc_cfg.to_tcnn(), dtype=torch.float32).to(device)
    network = tcnn.Network(mlp_cfg.n_input_dims, mlp_cfg.n_output_dims, mlp_cfg.to_tcnn()).to(device)

    @torch.no_grad()
    def run(inr, x, out):
        encoding.params.copy_(inr.enc_params)
        network.params.copy_(inr.mlp_params.to(network.params.dtype))
        out.copy_(network(encoding(x.contiguous())).float())
        return out

    return run
