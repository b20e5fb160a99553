"""Counter-based random numbers: a uniform value is a hash of (seed, stream, frame, pixel, sample index).

The tracer draws every jitter this way instead of from a sequential generator, so an image depends only on
the seed and the scene: not on the batch size, on how rays are compacted, on macro cells, or on the device's
random-number generator. Integer arithmetic is int64 holding uint32 values (wrapping multiplications keep the
low 32 bits exact), so the same bits come out on every torch device.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["hash_uniform", "STREAM_JITTER_X", "STREAM_JITTER_Y", "STREAM_START", "STREAM_SHADOW"]

STREAM_JITTER_X, STREAM_JITTER_Y, STREAM_START, STREAM_SHADOW = 1, 2, 3, 4
_M32 = 0xFFFFFFFF


def _mix(x: Tensor) -> Tensor:
    # "lowbias32" integer finalizer (Chris Wellons): good avalanche with two multiplies.
    x = ((x ^ (x >> 16)) * 0x7FEB352D) & _M32
    x = ((x ^ (x >> 15)) * 0x846CA68B) & _M32
    return x ^ (x >> 16)


def hash_uniform(seed: int, stream: int, *keys: Tensor | int) -> Tensor:
    """Uniform float32 in [0, 1) per element of the broadcast integer ``keys`` (each < 2^32)."""
    tensors = [k for k in keys if isinstance(k, Tensor)]
    h = torch.full((), (seed * 0x9E3779B9 + stream * 0x85EBCA6B) & _M32, dtype=torch.int64,
                   device=tensors[0].device)
    h = _mix(h)
    for k in keys:
        h = _mix(h ^ (k & _M32 if isinstance(k, Tensor) else int(k) & _M32))
    return (h >> 8).to(torch.float32) * (1.0 / (1 << 24))
