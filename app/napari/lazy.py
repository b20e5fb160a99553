"""A HyperINR model as a lazy array: one axis per exposed parameter, then (Z, Y, X); nothing is stored.

``ParameterVolumes(model)[i, k]`` generates the INR at the parameter value of step ``i`` and decodes plane
``k`` only (napari's 2-D view asks for one plane); ``[i]`` decodes the whole volume (napari's 3-D view). The
last few results are kept (an LRU of ``cache_size`` entries; a request inside a cached volume is served from
it). Values are in the model's data units (``value_range``), float32. Parameters that are not axes stay at
fixed values (:meth:`set_fixed`): a shadow model's light direction, for example.

Indexing takes what napari and NumPy basic indexing pass: integers, slices and one ``Ellipsis``; an integer
drops its axis, as in NumPy. ``np.asarray(volumes)`` decodes everything (every step: mind the size).

This module needs torch and NumPy only (no napari, no Qt), so it can be tested and used on its own.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from contextlib import contextmanager

import numpy as np

from hyperinr_renderer.decode import Decoder, DecoderConfig, native_shape
from hyperinr_renderer.scene import Scene

__all__ = ["ParameterVolumes", "default_steps", "make_decoder", "training_shape"]

Shape3 = tuple[int, int, int]


def make_decoder(compile: bool = True) -> Decoder:
    """A decoder that returns float32 (napari shows values, not a texture) and compiles in the background."""
    return Decoder(DecoderConfig(dtype="float32", compile=compile, background_compile=True))


def training_shape(model) -> Shape3:
    """(Z, Y, X) of the frames the model was trained on: ``metadata["frame_shape"]`` (what ``hyperinr train``
    records), else :func:`renderer.decode.native_shape` (other keys, or 128^3)."""
    fs = (getattr(model.cfg, "metadata", None) or {}).get("frame_shape")
    if fs is not None and len(fs) == 3 and min(int(s) for s in fs) >= 2:
        return tuple(int(s) for s in fs)  # type: ignore[return-value]
    return native_shape(model)


def default_steps(model, factor: int = 4) -> list[int]:
    """Steps along each parameter: ``factor`` times the training frames per axis.

    In 1-D the encoders sit at the training parameters, so that is ``factor * n_encoders``. In n-D, when the
    encoders form a grid the per-axis count is its number of distinct values; scattered encoders count as
    ``N ** (1/D)`` per axis. At least 2 steps per axis.
    """
    pos = np.asarray(model.encoder_positions, dtype=np.float64)
    n, d = pos.shape
    distinct = [len(np.unique(np.round(pos[:, j], 9))) for j in range(d)]
    per_axis = distinct if int(np.prod(distinct)) == n else [max(1, round(n ** (1.0 / d)))] * d
    return [max(2, factor * c) for c in per_axis]


def _norm_key(key, ndim: int) -> tuple:
    if not isinstance(key, tuple):
        key = (key,)
    if any(k is None for k in key):
        raise IndexError("ParameterVolumes does not insert new axes (None)")
    n_ell = sum(1 for k in key if k is Ellipsis)
    if n_ell > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    if n_ell:
        i = next(j for j, k in enumerate(key) if k is Ellipsis)
        key = key[:i] + (slice(None),) * (ndim - len(key) + 1) + key[i + 1 :]
    if len(key) > ndim:
        raise IndexError(f"too many indices: {len(key)} for {ndim} dimensions")
    return key + (slice(None),) * (ndim - len(key))


def _axis_index(k, n: int, axis: int) -> tuple[np.ndarray, bool]:
    """(indices, keeps_axis) of one basic index into an axis of length ``n``."""
    if isinstance(k, slice):
        return np.arange(n)[k], True
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)):
        raise IndexError(f"only integers, slices and '...' are valid indices, got {type(k).__name__} {k!r}")
    i = int(k)
    if not -n <= i < n:
        raise IndexError(f"index {i} is out of bounds for axis {axis} with size {n}")
    return np.array([i % n]), False


class ParameterVolumes:
    """Array-like ``(*steps, Z, Y, X)`` float32 view of a HyperINR model, decoded on demand (thread-safe)."""

    def __init__(
        self,
        model,
        steps: Sequence[int] | int | None = None,
        resolution: Sequence[int] | int | None = None,
        *,
        axes: Sequence[str] | None = None,
        fixed: Mapping[str, float] | None = None,
        decoder: Decoder | None = None,
        cache_size: int = 8,
    ):
        cfg = model.cfg
        names = list(cfg.param_names)
        self.model = model
        self.axes = list(names if axes is None else axes)
        unknown = [a for a in self.axes if a not in names]
        if unknown or not self.axes:
            raise ValueError(f"axes must be a non-empty subset of the parameters {names}, got {self.axes}")
        lo, hi = dict(zip(names, cfg.param_lo, strict=True)), dict(zip(names, cfg.param_hi, strict=True))
        self.param_lo = [float(lo[a]) for a in self.axes]
        self.param_hi = [float(hi[a]) for a in self.axes]
        self._fixed = {n: 0.5 * (lo[n] + hi[n]) for n in names if n not in self.axes}
        self.set_fixed(fixed or {})
        if steps is None:
            all_steps = dict(zip(names, default_steps(model), strict=True))
            steps = [all_steps[a] for a in self.axes]
        elif np.isscalar(steps):
            steps = [int(steps)] * len(self.axes)
        self.steps = [int(s) for s in steps]
        if len(self.steps) != len(self.axes) or min(self.steps) < 1:
            raise ValueError(f"need one step count >= 1 per axis {self.axes}, got {self.steps}")
        if resolution is None:
            resolution = training_shape(model)
        res = (int(resolution),) * 3 if np.isscalar(resolution) else tuple(int(r) for r in resolution)
        if len(res) != 3 or min(res) < 2:
            raise ValueError(f"resolution is n or (Z, Y, X) with every side >= 2, got {resolution}")
        self.resolution: Shape3 = res  # type: ignore[assignment]
        self.decoder = decoder if decoder is not None else make_decoder()
        self.cache_size = int(cache_size)
        self._cache: OrderedDict = OrderedDict()
        self._lock = threading.RLock()
        self._held = False
        vr = cfg.value_range
        self._v0, self._v1 = float(vr[0]), float(vr[1]) - float(vr[0])
        self.stats = {"volume_decodes": 0, "point_decodes": 0, "cache_hits": 0}

    # -- the array protocol napari relies on ---------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return (*self.steps, *self.resolution)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(np.float32)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    def __len__(self) -> int:
        return self.shape[0]

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        a = self[...]
        return a if dtype is None else a.astype(dtype, copy=False)

    def __repr__(self) -> str:
        return f"ParameterVolumes(axes={self.axes}, shape={self.shape}, fixed={self._fixed})"

    # -- parameters ----------------------------------------------------------------------------------------
    @property
    def value_range(self) -> tuple[float, float]:
        return (self._v0, self._v0 + self._v1)

    @property
    def fixed(self) -> dict[str, float]:
        return dict(self._fixed)

    def set_fixed(self, values: Mapping[str, float]) -> None:
        """Change parameters that are not axes (e.g. a shadow model's light); forgets cached results."""
        for k, v in values.items():
            if k not in self._fixed:
                raise ValueError(f"{k!r} is not a fixed parameter here (those are {list(self._fixed)})")
            self._fixed[k] = float(v)
        if hasattr(self, "_cache"):
            with self._lock:
                self._cache.clear()

    def values(self, axis: int) -> np.ndarray:
        """Parameter values (model units) of the steps along parameter axis ``axis``."""
        return np.linspace(self.param_lo[axis], self.param_hi[axis], self.steps[axis])

    def step_size(self, axis: int) -> float:
        n = self.steps[axis]
        return (self.param_hi[axis] - self.param_lo[axis]) / (n - 1) if n > 1 else 1.0

    def theta(self, index: Sequence[int]) -> np.ndarray:
        """The model's full parameter vector (model units) at step ``index`` (one int per axis)."""
        at = {a: float(self.values(j)[int(i)]) for j, (a, i) in enumerate(zip(self.axes, index, strict=True))}
        at.update(self._fixed)
        return np.array([at[n] for n in self.model.cfg.param_names])

    def nearest_index(self, axis: int, value: float) -> int:
        """The step along ``axis`` closest to ``value`` (model units, clamped to the range)."""
        u = (float(value) - self.param_lo[axis]) / max(self.param_hi[axis] - self.param_lo[axis], 1e-300)
        return int(np.clip(round(u * (self.steps[axis] - 1)), 0, self.steps[axis] - 1))

    # -- indexing --------------------------------------------------------------------------------------
    @contextmanager
    def hold(self):
        """While held, indexing returns zeros without decoding: for replacing a layer's data, scale and
        translate one after the other (napari slices after each) with one decode at the end, not three."""
        self._held = True
        try:
            yield self
        finally:
            self._held = False

    def __getitem__(self, key) -> np.ndarray:
        key = _norm_key(key, self.ndim)
        d = len(self.axes)
        sel = [_axis_index(k, n, ax) for ax, (k, n) in enumerate(zip(key, self.shape, strict=True))]
        p_idx, s_idx = [s[0] for s in sel[:d]], [s[0] for s in sel[d:]]
        out = np.zeros([len(i) for i in p_idx] + [len(i) for i in s_idx], dtype=np.float32)
        if self._held:
            return out.reshape([len(i) for i, keep in sel if keep])
        for combo in np.ndindex(*out.shape[:d]):
            step = tuple(int(p_idx[j][c]) for j, c in enumerate(combo))
            out[combo] = self._spatial(step, key[d:], s_idx)
        return out.reshape([len(i) for i, keep in sel if keep])

    def _spatial(self, step: tuple[int, ...], key: tuple, idx: list[np.ndarray]) -> np.ndarray:
        """Values at parameter step ``step`` on the sub-grid ``idx`` (index arrays along Z, Y, X)."""
        full = all(len(i) == n for i, n in zip(idx, self.resolution, strict=True))
        ckey = (step, tuple((k.start, k.stop, k.step) if isinstance(k, slice) else int(k) for k in key))
        with self._lock:
            vol = self._get((step, None))  # a cached volume serves any part of it
            if vol is not None:
                return vol if full else vol[np.ix_(*idx)]
            part = None if full else self._get(ckey)
            if part is not None:
                return part
            scene = Scene(self.model, self.theta(step), decoder=self.decoder)
            n_req = int(np.prod([len(i) for i in idx]))
            if full or n_req * 2 > int(np.prod(self.resolution)):  # most of the grid: decode all of it
                vol = self._to_data_units(scene.volume(self.resolution).cpu().numpy())
                self.stats["volume_decodes"] += 1
                self._put((step, None), vol)
                return vol if full else vol[np.ix_(*idx)]
            part = self._to_data_units(scene.nodes(self.resolution, idx).cpu().numpy())
            self.stats["point_decodes"] += 1
            self._put(ckey, part)
            return part

    def _to_data_units(self, v: np.ndarray) -> np.ndarray:
        v = np.asarray(v, dtype=np.float32)
        v *= np.float32(self._v1)
        v += np.float32(self._v0)
        v.flags.writeable = False  # cached results are shared: nobody may change them
        return v

    def _get(self, key) -> np.ndarray | None:
        v = self._cache.get(key)
        if v is not None:
            self._cache.move_to_end(key)
            self.stats["cache_hits"] += 1
        return v

    def _put(self, key, value: np.ndarray) -> None:
        self._cache[key] = value
        self._cache.move_to_end(key)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()
