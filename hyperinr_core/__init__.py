"""HyperINR core: tcnn-compatible hash grid, shared MLP, INRs and the HyperINR hypernetwork.

Imports torch, numpy, scipy and h5py only; never Qt or vispy, so it runs headless on any torch device.
The names below load on first use: ``import hyperinr_core.errors`` (what the CLI needs to report a bad
argument) does not pull in torch.
"""

from __future__ import annotations

import importlib

__all__ = [
    "HashGrid",
    "HashGridConfig",
    "hash_encode",
    "MLPConfig",
    "SharedMLP",
    "mlp_forward",
    "INR",
    "evaluate_inr",
    "grid_coordinates",
    "HyperINR",
    "HyperINRConfig",
    "FileFormatError",
    "HyperINRError",
]

__version__ = "0.1.0"

_HOME = {
    "HashGrid": "model.hash_grid",
    "HashGridConfig": "model.encoding",
    "hash_encode": "model.encoding",
    "MLPConfig": "model.mlp",
    "SharedMLP": "model.mlp",
    "mlp_forward": "model.mlp",
    "INR": "model.inr",
    "evaluate_inr": "model.inr",
    "grid_coordinates": "model.inr",
    "HyperINR": "model.hyperinr",
    "HyperINRConfig": "model.hyperinr",
    "FileFormatError": "errors",
    "HyperINRError": "errors",
}


def __getattr__(name: str):
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
