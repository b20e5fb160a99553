"""Dataset files: parameterized volumes (or images) in one HDF5 file, read lazily frame by frame.

Layout (docs/ARCHITECTURE.md, "Files users hand the program"):

- root attrs ``format="hyperinr-dataset"``, ``version=1``, ``task`` in {tsr, dgs, nvs}, ``param_names``
  (D strings), ``param_lo``, ``param_hi`` (D floats), ``value_min``/``value_max`` (written by
  :func:`~hyperinr_core.data.dataset_writer.write_dataset` so that opening never scans the frames); any
  further attrs are free-form metadata (for dgs, the transfer function the shadow volumes were computed with).
  ``param_periodic`` (D ints, optional) says which parameters wrap around (a light's azimuth over 0..360);
  without it a parameter named like an azimuth that spans one full turn wraps
  (:mod:`~hyperinr_core.model.param_space`).
- ``/params`` (N, D) float, user units, inside [param_lo, param_hi].
- ``/frames`` (N, Z, Y, X) volumes (tsr, dgs) or (N, H, W, C) images (nvs), one chunk per frame.
  Coordinates: x in [0,1]^3 maps to index (z, y, x), X fastest.
- optional ``/train`` (N,) bool: the frames training may see (all if absent).

Every problem found while opening or reading is a :class:`FileFormatError` ``"<file>: <field>: <problem>"``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import h5py
import numpy as np

from hyperinr_core.errors import FileFormatError, HyperINRError
from hyperinr_core.h5safe import check_dataset_type, read_attr, read_attrs

__all__ = ["FORMAT", "VERSION", "TASKS", "IMAGE_TASKS", "Dataset", "open_dataset"]

FORMAT = "hyperinr-dataset"
VERSION = 1
TASKS = ("tsr", "dgs", "nvs")
IMAGE_TASKS = ("nvs",)
# Root attributes with a meaning of their own; everything else lands in Dataset.attrs.
RESERVED_ATTRS = {"format", "version", "task", "param_names", "param_lo", "param_hi", "value_min", "value_max"}


def _str(v: Any) -> Any:
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else v


def _plain(v: Any) -> Any:
    """An HDF5 attribute value as plain Python (str, float, list) for Dataset.attrs."""
    v = _str(v)
    if isinstance(v, np.ndarray):
        return [_plain(x) for x in v.tolist()] if v.dtype.kind in "OSU" else v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    return v


class Dataset:
    """An open dataset file. Frames stay on disk until :meth:`frame` / :meth:`frames` read them.

    Attributes:
        path: file path (str).
        task: "tsr", "dgs" or "nvs".
        param_names: D parameter names.
        param_lo, param_hi: (D,) float64 parameter bounds, user units.
        params: (N, D) float64 parameters of the frames, user units.
        train_mask: (N,) bool, True for frames training may use.
        frame_shape: (Z, Y, X) for volumes, (H, W, C) for images.
        n_frames: N.
        is_image: True for image tasks (nvs).
        value_range: (min, max) of all frame values, floats.
        attrs: remaining root attributes as plain Python values.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)
        if not os.path.exists(self.path):
            raise FileFormatError(self.path, "no such file")
        try:
            self._file: h5py.File | None = h5py.File(self.path, "r")
        except Exception as exc:  # noqa: BLE001 - OSError mostly; damaged superblocks raise others too
            raise FileFormatError(
                self.path, f"not a readable HDF5 file (truncated or corrupt?): {exc}"
            ) from None
        try:
            self._validate()
        except HyperINRError:
            self.close()
            raise
        except Exception as exc:  # noqa: BLE001 - h5py meets damaged metadata with many exception types
            self.close()
            raise FileFormatError(self.path, f"corrupt file ({type(exc).__name__}: {exc})") from None
        except BaseException:
            self.close()
            raise

    # -- validation -------------------------------------------------------------------------------------
    def _err(self, field: str, problem: str) -> FileFormatError:
        return FileFormatError(self.path, f"{field}: {problem}")

    def _attr(self, name: str) -> Any:
        if name not in self._file.attrs:
            raise self._err(name, "missing root attribute")
        try:
            return _str(read_attr(self._file, name))
        except (OSError, TypeError, ValueError) as exc:
            raise self._err(name, f"unreadable attribute ({exc})") from None

    def _float_vector(self, name: str, d: int) -> np.ndarray:
        raw = self._attr(name)
        try:
            v = np.asarray(raw, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            raise self._err(name, f"expected {d} numbers, got {raw!r}") from None
        if v.shape != (d,):
            raise self._err(name, f"expected {d} values (one per parameter), got {v.size}")
        if not np.isfinite(v).all():
            raise self._err(name, "contains NaN or infinite values")
        return v

    def _dataset(self, name: str) -> h5py.Dataset:
        try:
            obj = self._file.get(name)
        except (OSError, KeyError) as exc:
            raise self._err(f"/{name}", f"unreadable ({exc})") from None
        if obj is None:
            raise self._err(f"/{name}", "missing dataset")
        if not isinstance(obj, h5py.Dataset):
            raise self._err(f"/{name}", "is a group, expected a dataset")
        return check_dataset_type(obj, f"/{name}")

    def _read(self, ds: h5py.Dataset, field: str, sel: Any = (), dtype=None) -> np.ndarray:
        try:
            return ds[sel] if dtype is None else np.asarray(ds[sel], dtype=dtype)
        except Exception as exc:  # noqa: BLE001 - OSError, ValueError, KeyError, RuntimeError, ... for damage
            raise self._err(field, f"cannot read data (truncated or corrupt file?): {exc}") from None

    def _validate(self) -> None:
        fmt = self._attr("format")
        if fmt != FORMAT:
            if fmt == "hyperinr-model":
                raise self._err("format", "this is a model file, not a dataset file")
            raise self._err("format", f"expected {FORMAT!r}, got {fmt!r}")
        version = self._attr("version")
        try:
            version = int(version)
        except (TypeError, ValueError):
            raise self._err("version", f"expected an integer, got {version!r}") from None
        if version != VERSION:
            raise self._err("version", f"unsupported version {version} (this program reads {VERSION})")
        task = self._attr("task")
        if task not in TASKS:
            raise self._err("task", f"expected one of {', '.join(TASKS)}, got {task!r}")
        self.task: str = task
        self.is_image: bool = task in IMAGE_TASKS

        names = self._attr("param_names")
        names = (
            [names] if isinstance(names, str) else [_str(n) for n in np.asarray(names).reshape(-1).tolist()]
        )
        if not names or not all(isinstance(n, str) and n for n in names):
            raise self._err("param_names", f"expected a list of non-empty strings, got {names!r}")
        self.param_names: list[str] = names
        d = len(names)
        self.param_lo = self._float_vector("param_lo", d)
        self.param_hi = self._float_vector("param_hi", d)
        if not (self.param_hi > self.param_lo).all():
            raise self._err(
                "param_hi", f"must exceed param_lo ({self.param_lo.tolist()} vs {self.param_hi.tolist()})"
            )

        pds = self._dataset("params")
        if pds.ndim != 2 or pds.shape[1] != d or pds.shape[0] < 1:
            raise self._err("/params", f"shape {pds.shape}, expected (N, {d}) with N >= 1")
        if pds.dtype.kind not in "fiu":
            raise self._err("/params", f"dtype {pds.dtype}, expected a number type")
        self.params: np.ndarray = self._read(pds, "/params").astype(np.float64)
        if not np.isfinite(self.params).all():
            bad = int(np.argwhere(~np.isfinite(self.params))[0, 0])
            raise self._err("/params", f"row {bad} contains NaN or infinite values")
        # Tolerate float32 rounding of bounds written in float64.
        tol = 1e-6 * np.maximum(np.abs(self.param_hi - self.param_lo), 1e-12)
        outside = (self.params < self.param_lo - tol) | (self.params > self.param_hi + tol)
        if outside.any():
            i, j = (int(k) for k in np.argwhere(outside)[0])
            raise self._err(
                "/params",
                f"row {i}: {names[j]}={self.params[i, j]:g} outside "
                f"[param_lo, param_hi] = [{self.param_lo[j]:g}, {self.param_hi[j]:g}]",
            )
        n = self.params.shape[0]
        self.n_frames: int = n

        fds = self._dataset("frames")
        want = "(N, H, W, C)" if self.is_image else "(N, Z, Y, X)"
        if fds.ndim != 4:
            raise self._err("/frames", f"shape {fds.shape}, expected {want} for task {task}")
        if fds.shape[0] != n:
            raise self._err("/frames", f"{fds.shape[0]} frames but /params has {n} rows")
        if min(fds.shape[1:]) < 1:
            raise self._err("/frames", f"shape {fds.shape} has an empty axis")
        if self.is_image and not 1 <= fds.shape[3] <= 4:
            raise self._err("/frames", f"shape {fds.shape}: images need 1 to 4 channels (last axis)")
        if fds.dtype.kind not in "fiu":
            raise self._err("/frames", f"dtype {fds.dtype}, expected a number type")
        self._frames = fds
        self.frame_shape: tuple[int, ...] = tuple(int(s) for s in fds.shape[1:])
        # Cheap integrity probe: the first and the last frame (the end of the file is where truncation bites);
        # every other frame is checked when it is read.
        for i in sorted({0, n - 1}):
            self.frame(i)

        if "train" in self._file:
            tds = self._dataset("train")
            if tds.shape != (n,):
                raise self._err("/train", f"shape {tds.shape}, expected ({n},)")
            t = self._read(tds, "/train")
            if t.dtype.kind != "b":
                if t.dtype.kind not in "iu" or not np.isin(t, (0, 1)).all():
                    raise self._err("/train", f"dtype {t.dtype}, expected bool")
            self.train_mask: np.ndarray = t.astype(bool)
            if not self.train_mask.any():
                raise self._err("/train", "no frame is marked for training")
        else:
            self.train_mask = np.ones(n, dtype=bool)

        self._value_range: tuple[float, float] | None = None
        if "value_min" in self._file.attrs or "value_max" in self._file.attrs:
            try:
                lo, hi = float(self._attr("value_min")), float(self._attr("value_max"))
            except (TypeError, ValueError):
                raise self._err("value_min", "value_min/value_max must be numbers") from None
            if not (np.isfinite(lo) and np.isfinite(hi) and lo <= hi):
                raise self._err("value_min", f"invalid value range [{lo}, {hi}]")
            self._value_range = (lo, hi)

        attrs = read_attrs(self._file)
        self.attrs: dict[str, Any] = {k: _plain(v) for k, v in attrs.items() if k not in RESERVED_ATTRS}

    # -- access -----------------------------------------------------------------------------------------
    @property
    def value_range(self) -> tuple[float, float]:
        """(min, max) over all frames; from the file's attrs, or one streaming pass when they are absent."""
        if self._value_range is None:
            lo, hi = np.inf, -np.inf
            for i in range(self.n_frames):
                f = self.frame(i)
                lo, hi = min(lo, float(f.min())), max(hi, float(f.max()))
            self._value_range = (lo, hi)
        return self._value_range

    @property
    def dim(self) -> int:
        """D, the number of parameters."""
        return len(self.param_names)

    @property
    def train_indices(self) -> np.ndarray:
        """(N_train,) int64 indices of the training frames."""
        return np.flatnonzero(self.train_mask)

    @property
    def test_indices(self) -> np.ndarray:
        """(N_test,) int64 indices of the held-out frames."""
        return np.flatnonzero(~self.train_mask)

    def _check_open(self) -> h5py.Dataset:
        if self._file is None:
            raise ValueError(f"dataset {self.path} is closed")
        return self._frames

    def frame(self, i: int) -> np.ndarray:
        """Frame ``i`` as float32, shape ``frame_shape``; reads one chunk and checks it is finite."""
        fds = self._check_open()
        i = int(i)
        if not -self.n_frames <= i < self.n_frames:
            raise IndexError(f"frame index {i} out of range for {self.n_frames} frames")
        i %= self.n_frames
        a = self._read(fds, f"/frames[{i}]", i, dtype=np.float32)
        if not np.isfinite(a).all():
            raise self._err(f"/frames[{i}]", "contains NaN or infinite values")
        return a

    def frames(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """Frames stacked as float32, shape (len(indices),) + frame_shape."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        out = np.empty((idx.size,) + self.frame_shape, dtype=np.float32)
        for k, i in enumerate(idx):  # one chunk per read keeps memory bounded by the output
            out[k] = self.frame(int(i))
        return out

    def normalized_params(self, params: np.ndarray | None = None) -> np.ndarray:
        """Parameters mapped to [0, 1]^D by the file's bounds, (N, D) float64 (or of ``params`` if given)."""
        p = self.params if params is None else np.asarray(params, dtype=np.float64)
        return np.clip((p - self.param_lo) / (self.param_hi - self.param_lo), 0.0, 1.0)

    def close(self) -> None:
        if self._file is not None:
            try:
                self._file.close()
            finally:
                self._file = None

    def __enter__(self) -> Dataset:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __len__(self) -> int:
        return self.n_frames

    def __repr__(self) -> str:
        return (
            f"Dataset({self.path!r}, task={self.task}, frames={self.n_frames}x{self.frame_shape}, "
            f"params={self.param_names}, train={int(self.train_mask.sum())})"
        )


def open_dataset(path: str | os.PathLike) -> Dataset:
    """Open and validate a dataset file. Raises :class:`FileFormatError` naming the file and field."""
    return Dataset(path)
