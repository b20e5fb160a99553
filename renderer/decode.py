"""INR -> 3-D texture: decode an INR on a node-centred grid, at a ladder of resolutions, in bounded memory.

The interactive path (docs/ARCHITECTURE.md, "Data flow of one interactive frame") decodes the generated INR coarse
first (e.g. 32^3 while the slider moves) and finer when it rests (64^3, then 128^3 or the model's native grid).
Decoding goes through :class:`hyperinr_core.model.fast.FastINREvaluator` (tcnn on CUDA, ``torch.compile`` on CPU),
one evaluator per INR shape for the whole process, compiled once and reused for every generated INR. By
default compilation runs on a background thread and decoding is eager until it lands, so the first frame
never waits for the compiler (``DecoderConfig.background_compile``; :meth:`Decoder.warmup` waits for it).
Coordinates are cached per resolution (up to ``coord_cache_points``); larger grids are decoded slab by slab
from a cached (Y, X) plane so memory stays bounded.

bf16: the evaluator can run the MLP in bf16, but its error (~2e-3 of the value range, see
``tests/renderer/test_decode.py``) exceeds the 1e-3 the decoder promises, so it is off unless asked for.

Grid convention: index ``(z, y, x)`` of a ``(Z, Y, X)`` grid is coordinate ``(x/(X-1), y/(Y-1), z/(Z-1))``, as
:meth:`hyperinr_core.model.inr.INR.sample_grid`; values are the INR's first output channel clamped to [0, 1] (the
renderer's normalized range). A shadow INR decodes the same way into a shadow (transmittance) texture.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from hyperinr_core.model.inr import INR

__all__ = ["DecoderConfig", "Decoder", "resolution_ladder", "native_shape"]

Shape = tuple[int, int, int]


def _shape(resolution: int | Sequence[int]) -> Shape:
    if np.isscalar(resolution):
        n = int(resolution)
        return (n, n, n)
    s = tuple(int(r) for r in resolution)
    if len(s) != 3:
        raise ValueError(f"a 3-D grid shape is (Z, Y, X), got {s}")
    return s  # type: ignore[return-value]


def native_shape(model, default: int = 128) -> Shape:
    """The grid a model was trained on, from its metadata (``grid_shape`` / ``shape`` as (Z, Y, X)), else
    ``default``^3."""
    meta = getattr(getattr(model, "cfg", model), "metadata", None) or {}
    for key in ("grid_shape", "volume_shape", "shape"):
        s = meta.get(key)
        if s is not None and len(s) >= 3:
            return _shape(list(s)[-3:])
    return _shape(default)


def resolution_ladder(native: int | Sequence[int], start: int = 32) -> list[Shape]:
    """Grid shapes from coarse to fine: longest side ``start``, doubling, with ``native`` as the top rung.

    Rungs keep the native aspect ratio; every side is at least 2. ``resolution_ladder(128)`` is
    ``[(32,)*3, (64,)*3, (128,)*3]``; ``resolution_ladder((100, 240, 320))`` starts at ``(10, 24, 32)``.
    """
    top = _shape(native)
    longest = max(top)
    rungs: list[Shape] = []
    r = int(start)
    while r < longest:
        rungs.append(tuple(max(2, round(n * r / longest)) for n in top))  # type: ignore[arg-type]
        r *= 2
    rungs.append(top)
    return rungs


@dataclass
class DecoderConfig:
    """How to decode. ``dtype``: texture precision ('float16' halves upload bandwidth; its spacing near 1 is
    4.9e-4, inside the 1e-3 budget). ``mlp_dtype``: 'auto' is the backend's own (float32 for torch, float16
    operands with float32 accumulation for the Triton kernel, error ~7e-4 of the value range); 'bfloat16' only
    where a benchmark shows the gain and the error is acceptable (see module docstring)."""

    dtype: str = "float16"
    compile: bool = True
    background_compile: bool = True
    mlp_dtype: str = "auto"
    chunk: int = 1 << 12  # 4096 points: activations stay in L2 (best of 2k..32k on this CPU: 97 vs 103 ms at 64^3)
    coord_cache_points: int = 1 << 21  # cache full coordinate grids up to 128^3 (24 MiB)
    slab_points: int = 1 << 18

    def __post_init__(self) -> None:
        if self.dtype not in ("float16", "float32"):
            raise ValueError(f"dtype must be 'float16' or 'float32', got {self.dtype!r}")
        if self.mlp_dtype not in ("auto", "float32", "float16", "bfloat16"):
            raise ValueError(
                f"mlp_dtype must be 'auto', 'float32', 'float16' or 'bfloat16', got {self.mlp_dtype!r}")


class Decoder:
    """Decodes INRs (of any shape) to grids on ``device``; thread-safe, so a worker thread can own the work."""

    def __init__(self, cfg: DecoderConfig | None = None, device: str | torch.device | None = None):
        self.cfg = cfg or DecoderConfig()
        self.device = torch.device(device) if device is not None else None
        self._evaluators: dict = {}
        self._coords: dict = {}
        self._lock = threading.Lock()

    # -- caches ------------------------------------------------------------------------------------------
    def evaluator(self, inr: INR):
        """The (process-wide, compiled once) evaluator for this INR's (encoding, MLP, device)."""
        from hyperinr_core.model.fast import shared_evaluator

        dev = self.device or inr.device
        key = (inr.enc_cfg, inr.mlp_cfg, str(dev))
        ev = self._evaluators.get(key)
        if ev is None:
            ev = shared_evaluator(inr.enc_cfg, inr.mlp_cfg, dev, compile=self.cfg.compile,
                                  mlp_dtype=None if self.cfg.mlp_dtype == "auto" else getattr(torch, self.cfg.mlp_dtype), chunk=self.cfg.chunk,
                                  background=self.cfg.background_compile)
            self._evaluators[key] = ev
        return ev

    def coordinates(self, shape: Shape, device: torch.device) -> Tensor | None:
        """Cached ``(Z*Y*X, 3)`` node coordinates of ``shape``; None when above the cache limit."""
        if int(np.prod(shape)) > self.cfg.coord_cache_points:
            return None
        key = (shape, str(device))
        x = self._coords.get(key)
        if x is None:
            from hyperinr_core.model.inr import grid_coordinates

            x = grid_coordinates(shape, device=device)
            self._coords[key] = x
        return x

    def _plane(self, shape: Shape, device: torch.device) -> tuple[Tensor, Tensor]:
        key = ("plane", shape, str(device))
        if key not in self._coords:
            from hyperinr_core.model.inr import grid_coordinates

            self._coords[key] = (grid_coordinates(shape[1:], device=device),
                                 torch.linspace(0.0, 1.0, shape[0], device=device))
        return self._coords[key]

    # -- decoding ----------------------------------------------------------------------------------------
    @torch.no_grad()
    def decode(self, inr: INR, resolution: int | Sequence[int], out: Tensor | None = None) -> Tensor:
        """Values of ``inr`` (first channel, clamped to [0, 1]) on a node-centred grid.

        Args:
            resolution: ``n`` for n^3 or ``(Z, Y, X)``.
            out: optional ``(Z, Y, X)`` tensor of ``cfg.dtype`` to write into.
        Returns:
            ``(Z, Y, X)`` tensor of ``cfg.dtype`` on the decoder's (default: the INR's) device.
        """
        if inr.n_input_dims != 3:
            raise ValueError(f"only 3-D INRs decode to volumes; this one takes {inr.n_input_dims}-D input")
        shape = _shape(resolution)
        dev = self.device or inr.device
        dtype = getattr(torch, self.cfg.dtype)
        if out is None:
            out = torch.empty(shape, dtype=dtype, device=dev)
        flat = out.view(-1)
        with self._lock:
            ev = self.evaluator(inr)
            if ev.decode_grid(inr, out) is not None:  # one launch, coordinates made in the kernel
                return out
            c = inr.n_output_dims
            x = self.coordinates(shape, dev)
            if x is not None:
                vals = ev(inr, x)
                flat.copy_(vals[:, 0] if c > 1 else vals.view(-1)).clamp_(0.0, 1.0)
                return out
            # Slab by slab over z, from the cached (Y, X) plane: memory is O(slab), not O(grid).
            plane, zs = self._plane(shape, dev)
            per = plane.shape[0]
            rows = max(1, self.cfg.slab_points // per)
            buf = torch.empty(rows * per, 3, device=dev)
            vals = torch.empty(rows * per, c, device=dev)
            for z0 in range(0, shape[0], rows):
                nz = min(rows, shape[0] - z0)
                xs = buf[: nz * per].view(nz, per, 3)
                xs[..., :2] = plane
                xs[..., 2] = zs[z0 : z0 + nz, None]
                v = ev(inr, xs.view(-1, 3), out=vals[: nz * per])
                flat[z0 * per : (z0 + nz) * per].copy_(v[:, 0]).clamp_(0.0, 1.0)
        return out

    @torch.no_grad()
    def decode_points(self, inr: INR, x: Tensor) -> Tensor:
        """Values of ``inr`` (first channel, clamped to [0, 1]) at points ``x`` ``(N, 3)`` in [0, 1]^3, as a
        float32 ``(N,)`` tensor: a plane or any other part of a grid, without decoding the rest."""
        if inr.n_input_dims != x.shape[-1]:
            raise ValueError(f"points are {x.shape[-1]}-D, the INR takes {inr.n_input_dims}-D input")
        dev = self.device or inr.device
        with self._lock:
            vals = self.evaluator(inr)(inr, x.to(dev))
        return vals[:, 0].clamp_(0.0, 1.0)

    def decode_numpy(self, inr: INR, resolution: int | Sequence[int]) -> np.ndarray:
        """:meth:`decode` as a host ``(Z, Y, X)`` array (what :meth:`PathTracerCanvas.set_volume` takes)."""
        return self.decode(inr, resolution).cpu().numpy()

    def decode_shadow(self, shadow_inr: INR, resolution: int | Sequence[int], out: Tensor | None = None) -> Tensor:
        """A shadow INR (transmittance toward the light) -> shadow texture; same grid and clamping."""
        return self.decode(shadow_inr, resolution, out)

    def warmup(self, inr: INR) -> None:
        """Compile the evaluator for this INR shape now (seconds on a CPU) and wait for it (before timing)."""
        self.decode(inr, 4)
        self.evaluator(inr).wait_compiled()
