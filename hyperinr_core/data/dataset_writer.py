"""Write dataset files (the layout of :mod:`hyperinr_core.data.dataset`): atomically, one chunk per frame,
streaming frames one at a time."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

import h5py
import numpy as np

from hyperinr_core.data.dataset import FORMAT, IMAGE_TASKS, RESERVED_ATTRS, TASKS, VERSION
from hyperinr_core.errors import HyperINRError
from hyperinr_core.fileio import atomic_path

__all__ = ["write_dataset"]


def _check_frame(a: np.ndarray, i: int, shape: tuple[int, ...] | None, is_image: bool) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype.kind not in "fiub":
        raise HyperINRError(f"frame {i}: dtype {a.dtype} is not numeric")
    if is_image and a.ndim == 2:
        a = a[..., None]  # grey images without a channel axis
    if a.ndim != 3:
        kind = "(H, W, C) image" if is_image else "(Z, Y, X) volume"
        raise HyperINRError(f"frame {i}: shape {a.shape}, expected a {kind}")
    if is_image and not 1 <= a.shape[2] <= 4:
        raise HyperINRError(f"frame {i}: shape {a.shape}, images need 1 to 4 channels (last axis)")
    if shape is not None and a.shape != shape:
        raise HyperINRError(f"frame {i}: shape {a.shape} differs from frame 0's {shape}")
    a = a.astype(np.float32, copy=False)
    if not np.isfinite(a).all():
        raise HyperINRError(f"frame {i}: contains NaN or infinite values")
    return a


def write_dataset(
    path: str | os.PathLike,
    task: str,
    param_names: Sequence[str],
    param_lo: Sequence[float] | np.ndarray,
    param_hi: Sequence[float] | np.ndarray,
    params: np.ndarray,
    frames: np.ndarray | Iterable[np.ndarray],
    train_mask: np.ndarray | None = None,
    attrs: dict[str, Any] | None = None,
    compression: str | None = None,
) -> None:
    """Write a dataset file atomically, one chunk per frame, streaming frames one at a time.

    Args:
        path: output file; replaced only once the new file is complete.
        task: "tsr", "dgs" or "nvs".
        param_names: D names.
        param_lo, param_hi: (D,) bounds, user units.
        params: (N, D) (or (N,) for D = 1) parameters of the frames, user units.
        frames: (N, Z, Y, X) / (N, H, W, C) array, or an iterable yielding N per-frame arrays (so a series
            larger than memory streams through). Stored as float32.
        train_mask: optional (N,) bool.
        attrs: extra root attributes (str, numbers, lists).
        compression: optional h5py compression filter ("gzip", "lzf"); off by default for fast lazy reads.

    Raises:
        HyperINRError: inconsistent arguments, non-finite values, parameters outside the bounds.
    """
    if task not in TASKS:
        raise HyperINRError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    names = [str(n) for n in param_names]
    d = len(names)
    lo = np.asarray(param_lo, dtype=np.float64).reshape(-1)
    hi = np.asarray(param_hi, dtype=np.float64).reshape(-1)
    p = np.asarray(params, dtype=np.float64)
    if p.ndim == 1 and d == 1:
        p = p[:, None]
    if d < 1 or lo.shape != (d,) or hi.shape != (d,):
        raise HyperINRError(
            f"need one name and one bound per parameter (names {d}, lo {lo.size}, hi {hi.size})"
        )
    if p.ndim != 2 or p.shape[1] != d or p.shape[0] < 1:
        raise HyperINRError(f"params has shape {p.shape}, expected (N, {d})")
    if not (np.isfinite(p).all() and np.isfinite(lo).all() and np.isfinite(hi).all()):
        raise HyperINRError("params or bounds contain NaN or infinite values")
    if not (hi > lo).all():
        raise HyperINRError(f"param_hi {hi.tolist()} must exceed param_lo {lo.tolist()}")
    if ((p < lo) | (p > hi)).any():
        raise HyperINRError(f"params outside [param_lo, param_hi] = [{lo.tolist()}, {hi.tolist()}]")
    n = p.shape[0]
    if train_mask is not None:
        train_mask = np.asarray(train_mask).astype(bool).reshape(-1)
        if train_mask.shape != (n,):
            raise HyperINRError(f"train_mask has {train_mask.size} entries, expected {n}")
        if not train_mask.any():
            raise HyperINRError("train_mask marks no frame for training")
    if attrs:
        clash = RESERVED_ATTRS & set(attrs)
        if clash:
            raise HyperINRError(f"attrs may not set reserved attribute(s) {sorted(clash)}")
    is_image = task in IMAGE_TASKS

    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            f.attrs["format"] = FORMAT
            f.attrs["version"] = VERSION
            f.attrs["task"] = task
            f.attrs["param_names"] = names
            f.attrs["param_lo"] = lo
            f.attrs["param_hi"] = hi
            for k, v in (attrs or {}).items():
                f.attrs[k] = v
            f.create_dataset("params", data=p)
            if train_mask is not None:
                f.create_dataset("train", data=train_mask)
            vmin, vmax = np.inf, -np.inf
            ds = None
            count = 0
            for i, fr in enumerate(frames):
                if i >= n:
                    raise HyperINRError(f"more frames than the {n} rows of params")
                a = _check_frame(fr, i, None if ds is None else ds.shape[1:], is_image)
                if ds is None:
                    ds = f.create_dataset(
                        "frames",
                        shape=(n,) + a.shape,
                        dtype=np.float32,
                        chunks=(1,) + a.shape,
                        compression=compression,
                    )
                ds[i] = a
                vmin, vmax = min(vmin, float(a.min())), max(vmax, float(a.max()))
                count += 1
            if count != n:
                raise HyperINRError(f"got {count} frames for {n} rows of params")
            f.attrs["value_min"] = vmin
            f.attrs["value_max"] = vmax
