"""Multiresolution hash encoding with tiny-cuda-nn's exact semantics and parameter layout.

Per level ``l`` (formulas of tcnn's ``GridEncoding``, float32 like tcnn)::

    scale = 2**(l * log2(per_level_scale)) * base_resolution - 1
    res   = ceil(scale) + 1
    size  = next_multiple_of_8(min(res**d, 2**log2_hashmap_size))
    p     = x * scale + 0.5;  cell = floor(p);  w = p - cell
    index = sum(cell[i] * res**i)          if res**d <= size   (dense, dimension 0 fastest)
          = xor(cell[i] * prime[i]) (u32)  otherwise           (coherent prime hash)
    index = index % size

Parameters are the levels back to back, ``size * F`` floats each, entry-major (the ``F`` features of one
entry are contiguous). Output column ``level * F + f``. A parameter vector trained here can be fed to
``tcnn.Encoding`` unchanged and vice versa.

The gather + trilinear weighting is one ``embedding_bag`` call over all levels and corners, so the work is
vectorized over points, corners and levels, and backward is a fused scatter-add into the parameters.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F

__all__ = ["HashGridConfig", "hash_encode", "PRIMES", "DEFAULT_CHUNK"]

#: tcnn's coherent prime hash factors (first is 1 so the lowest dimension stays coherent in memory).
PRIMES = (1, 2654435761, 805459861, 3674653429, 2097192037, 1434869437, 2165219737)

#: Points per chunk in :func:`hash_encode`: bounds the temporaries, and keeps them in cache (measured
#: fastest on a 2-core CPU: 16k points ran 3x faster than 256k).
DEFAULT_CHUNK = 1 << 14


@dataclass(frozen=True)
class HashGridConfig:
    """Hyperparameters of a hash grid; field names mirror tcnn's ``HashGrid`` encoding config.

    The paper's encoder (TSR/DGS): ``HashGridConfig(3, 8, 4, 15, 4, 2.0)``; NVS uses 2-D input and base 8.
    """

    n_input_dims: int = 3
    n_levels: int = 8
    n_features_per_level: int = 4
    log2_hashmap_size: int = 15
    base_resolution: int = 4
    per_level_scale: float = 2.0

    def __post_init__(self) -> None:
        if self.n_input_dims not in (1, 2, 3, 4):
            raise ValueError(f"n_input_dims must be 1..4, got {self.n_input_dims}")
        if self.n_features_per_level not in (1, 2, 4, 8):
            raise ValueError(f"n_features_per_level must be 1, 2, 4 or 8, got {self.n_features_per_level}")
        if self.n_levels < 1 or self.log2_hashmap_size < 1 or self.base_resolution < 1:
            raise ValueError(f"invalid hash grid config {self}")
        if self.per_level_scale < 1.0:
            raise ValueError(f"per_level_scale must be >= 1, got {self.per_level_scale}")

    # -- derived layout ---------------------------------------------------------------------------------
    @property
    def level_scales(self) -> np.ndarray:
        """(L,) float32 ``scale`` per level, computed in float32 as tcnn does."""
        return _layout(self)[0]

    @property
    def level_resolutions(self) -> np.ndarray:
        """(L,) int64 grid resolution per level."""
        return _layout(self)[1]

    @property
    def level_sizes(self) -> np.ndarray:
        """(L,) int64 number of table entries per level."""
        return _layout(self)[2]

    @property
    def level_offsets(self) -> np.ndarray:
        """(L,) int64 first table entry of each level (in entries, not floats)."""
        sizes = self.level_sizes
        return np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)

    @property
    def n_entries(self) -> int:
        return int(self.level_sizes.sum())

    @property
    def n_params(self) -> int:
        """Number of float parameters (tcnn's ``n_params`` for this encoding)."""
        return self.n_entries * self.n_features_per_level

    @property
    def n_output_dims(self) -> int:
        return self.n_levels * self.n_features_per_level

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> HashGridConfig:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__})

    def to_tcnn(self) -> dict:
        """The ``encoding_config`` dict for ``tinycudann.Encoding``."""
        return {
            "otype": "HashGrid",
            "n_levels": self.n_levels,
            "n_features_per_level": self.n_features_per_level,
            "log2_hashmap_size": self.log2_hashmap_size,
            "base_resolution": self.base_resolution,
            "per_level_scale": self.per_level_scale,
            "interpolation": "Linear",
        }

    def init_params(self, generator: torch.Generator | None = None, device=None) -> Tensor:
        """Fresh parameters drawn from U(-1e-4, 1e-4), tcnn's initialisation."""
        p = torch.empty(self.n_params, device=device)
        return p.uniform_(-1e-4, 1e-4, generator=generator)


@lru_cache(maxsize=64)
def _layout(cfg: HashGridConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    d = cfg.n_input_dims
    log2_scale = np.float32(math.log2(cfg.per_level_scale))
    scales = np.empty(cfg.n_levels, np.float32)
    res = np.empty(cfg.n_levels, np.int64)
    sizes = np.empty(cfg.n_levels, np.int64)
    max_size = 1 << cfg.log2_hashmap_size
    for level in range(cfg.n_levels):
        s = np.float32(np.exp2(np.float32(level) * log2_scale)) * np.float32(cfg.base_resolution)
        s = np.float32(s - np.float32(1.0))
        scales[level] = s
        r = int(math.ceil(float(s))) + 1
        res[level] = r
        size = min(r**d, max_size)
        sizes[level] = (size + 7) // 8 * 8
    for a in (scales, res, sizes):
        a.setflags(write=False)
    return scales, res, sizes


class DeviceTables:
    """Per-(config, device) constant tensors used by :func:`hash_encode`, built once."""

    _cache: dict = {}

    @classmethod
    def get(cls, cfg: HashGridConfig, device: torch.device) -> dict:
        key = (cfg, str(device))
        hit = cls._cache.get(key)
        if hit is not None:
            return hit
        d = cfg.n_input_dims
        scales, res, sizes = _layout(cfg)
        dense = [int(r) ** d <= int(s) for r, s in zip(res, sizes)]
        n_dense = sum(dense)
        # Resolutions never shrink with the level, so dense levels always form a prefix.
        assert all(dense[:n_dense]) and not any(dense[n_dense:])
        # Corner c takes offset bit i of c along dimension i.
        bits = torch.tensor([[(c >> i) & 1 for c in range(1 << d)] for i in range(d)], dtype=torch.int64)
        strides = torch.tensor(
            [[int(r) ** i for i in range(d)] for r in res[:n_dense]], dtype=torch.int64
        ).reshape(n_dense, d)
        offsets = torch.from_numpy(cfg.level_offsets)
        sizes_t = torch.from_numpy(sizes.copy())
        hashed_sizes = sizes[n_dense:]
        t = {
            "scales": torch.from_numpy(scales.copy()).to(device),
            "bits": bits.to(device),
            "n_dense": n_dense,
            "dense_strides": strides.to(device),  # (Ld, d)
            "dense_corner_offset": (strides @ bits).to(device),  # (Ld, C)
            "dense_sizes": sizes_t[:n_dense].view(1, -1, 1).to(device),
            "dense_offsets": offsets[:n_dense].view(1, -1, 1).to(device),
            "hash_pow2": bool(np.all((hashed_sizes & (hashed_sizes - 1)) == 0)),
            "hash_sizes": sizes_t[n_dense:].view(1, -1, 1).to(device),
            "hash_offsets": offsets[n_dense:].view(1, -1, 1).to(device),
            "primes": [int(p) for p in PRIMES[:d]],
        }
        cls._cache[key] = t
        return t


def corner_indices_and_weights(x: Tensor, cfg: HashGridConfig, t: dict | None = None) -> tuple[Tensor, Tensor]:
    """Table-entry indices (N, L, 2^d) (global, with level offsets) and weights (N, L, 2^d) of ``x``.

    Corners are never materialised as (N, L, 2^d, d) coordinates: both the dense index and the XOR hash
    decompose per dimension, so each dimension contributes a (N, L, 2) pair that is spread over the corners.
    """
    if t is None:
        t = DeviceTables.get(cfg, x.device)
    d, nd = cfg.n_input_dims, t["n_dense"]
    bits = t["bits"]
    pos = x.float().unsqueeze(1) * t["scales"][None, :, None] + 0.5  # (N, L, d)
    cell_f = torch.floor(pos)
    frac = pos - cell_f
    cell = cell_f.to(torch.int64)
    weights = None
    for i in range(d):
        f = frac[..., i]
        wi = torch.stack([1.0 - f, f], dim=-1).index_select(-1, bits[i])
        weights = wi if weights is None else weights * wi
    parts = []
    if nd:
        base = (cell[:, :nd] * t["dense_strides"]).sum(-1, keepdim=True)  # (N, Ld, 1)
        idx = torch.remainder(base + t["dense_corner_offset"], t["dense_sizes"]) + t["dense_offsets"]
        parts.append(idx)
    if nd < cfg.n_levels:
        c = cell[:, nd:]
        h = None
        for i in range(d):
            ci = c[..., i] * t["primes"][i]
            pair = torch.stack([ci, ci + t["primes"][i]], dim=-1).index_select(-1, bits[i])
            h = pair if h is None else h ^ pair
        h = h & 0xFFFFFFFF
        h = (h & (t["hash_sizes"] - 1)) if t["hash_pow2"] else torch.remainder(h, t["hash_sizes"])
        parts.append(h + t["hash_offsets"])
    idx = parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)
    return idx, weights


def hash_encode(x: Tensor, params: Tensor, cfg: HashGridConfig, chunk: int = DEFAULT_CHUNK) -> Tensor:
    """Encode points with a hash grid whose parameters are passed in (functional form).

    Args:
        x: ``(N, d)`` coordinates in [0, 1]^d, or ``(B, M, d)`` with one parameter vector per batch row.
        params: ``(cfg.n_params,)`` float parameters in tcnn layout, or ``(B, cfg.n_params)`` for batched x.
        cfg: the grid's hyperparameters.
        chunk: points per chunk; bounds temporary memory for huge ``N``.

    Returns:
        ``(N, n_levels * F)`` (or ``(B, M, n_levels * F)``) features in ``params``' dtype, differentiable
        with respect to ``params``.
    """
    if x.shape[-1] != cfg.n_input_dims:
        raise ValueError(f"x has {x.shape[-1]} dims, the hash grid expects {cfg.n_input_dims}")
    feats = cfg.n_features_per_level
    if x.dim() == 3:
        b, m, _ = x.shape
        if params.shape != (b, cfg.n_params):
            raise ValueError(f"batched params must be ({b}, {cfg.n_params}), got {tuple(params.shape)}")
        # Treat the B tables as one big table; shift each row's indices into its own table.
        table = params.reshape(b * cfg.n_entries, feats)
        shift = (torch.arange(b, device=x.device) * cfg.n_entries).view(b, 1, 1, 1)
        out = _encode_table(x.reshape(b * m, -1), table, cfg, chunk, shift=shift, rows_per_batch=m)
        return out.view(b, m, -1)
    if params.shape != (cfg.n_params,):
        raise ValueError(f"params must have shape ({cfg.n_params},), got {tuple(params.shape)}")
    return _encode_table(x, params.view(cfg.n_entries, feats), cfg, chunk)


def _encode_table(x: Tensor, table: Tensor, cfg: HashGridConfig, chunk: int, shift=None, rows_per_batch=0):
    n = x.shape[0]
    n_levels, n_corners = cfg.n_levels, 1 << cfg.n_input_dims
    outs = []
    for start in range(0, max(n, 1), chunk):
        xs = x[start : start + chunk]
        idx, w = corner_indices_and_weights(xs, cfg)
        if shift is not None:
            rows = torch.arange(start, start + xs.shape[0], device=x.device) // rows_per_batch
            idx = idx + shift.view(-1)[rows].view(-1, 1, 1)
        bag = F.embedding_bag(
            idx.view(-1, n_corners),
            table,
            per_sample_weights=w.view(-1, n_corners).to(table.dtype),
            mode="sum",
        )
        outs.append(bag.view(xs.shape[0], n_levels * cfg.n_features_per_level))
    return outs[0] if len(outs) == 1 else torch.cat(outs)
