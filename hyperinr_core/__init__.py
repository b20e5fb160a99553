"""HyperINR core: tcnn-compatible hash grid, shared MLP, INRs and the HyperINR hypernetwork.

Imports torch, numpy, scipy and h5py only; never Qt or vispy, so it runs headless on any torch device.
"""

from .encoding import HashGrid, HashGridConfig, hash_encode
from .errors import FileFormatError, HyperINRError
from .hyperinr import HyperINR, HyperINRConfig
from .inr import INR, evaluate_inr, grid_coordinates
from .mlp import MLPConfig, SharedMLP, mlp_forward

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
