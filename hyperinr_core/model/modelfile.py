"""Model files: HDF5 with the config as JSON attributes and tensors as datasets. Never pickle.

Layout: root attrs ``format="hyperinr-model"``, ``version``, ``kind`` (e.g. ``"hyperinr"``, ``"coordnet"``),
``config`` (a JSON string); one dataset per tensor. Writes are atomic.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import h5py
import numpy as np

from hyperinr_core.errors import FileFormatError
from hyperinr_core.fileio import atomic_path
from hyperinr_core.h5safe import check_dataset_type, read_attr

__all__ = [
    "FORMAT", "VERSION", "ModelFile", "write_model_file", "read_model_file", "read_model_config", "peek_kind",
]

FORMAT = "hyperinr-model"
VERSION = 1


@dataclass
class ModelFile:
    kind: str
    config: dict
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    path: str = ""

    def require(self, *names: str) -> None:
        missing = [n for n in names if n not in self.arrays]
        if missing:
            raise FileFormatError(self.path, f"missing dataset(s) {', '.join(missing)} for a {self.kind} model")

    def array(self, name: str, shape: tuple | None = None, finite: bool = True) -> np.ndarray:
        """A dataset by name, checked for shape (None entries match any size) and finiteness."""
        self.require(name)
        a = self.arrays[name]
        if shape is not None and (
            len(a.shape) != len(shape) or any(s is not None and s != t for s, t in zip(shape, a.shape))
        ):
            raise FileFormatError(self.path, f"dataset '{name}' has shape {a.shape}, expected {shape}")
        if a.dtype.kind not in "fiu":
            raise FileFormatError(self.path, f"dataset '{name}' has dtype {a.dtype}, expected numbers")
        if finite and a.dtype.kind == "f" and not np.isfinite(a).all():
            raise FileFormatError(self.path, f"dataset '{name}' contains NaN or infinite values")
        return a


def write_model_file(path: str | os.PathLike, kind: str, config: dict, arrays: dict[str, np.ndarray]) -> None:
    """Write a model file atomically (temporary file + rename)."""
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            f.attrs["format"] = FORMAT
            f.attrs["version"] = VERSION
            f.attrs["kind"] = kind
            f.attrs["config"] = json.dumps(config)
            for name, a in arrays.items():
                f.create_dataset(name, data=np.asarray(a))


def _open(path: str | os.PathLike) -> h5py.File:
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileFormatError(path, "no such file")
    try:
        return h5py.File(path, "r")
    except Exception as exc:  # noqa: BLE001 - OSError mostly; damaged superblocks raise others too
        raise FileFormatError(path, f"not a readable HDF5 file (truncated or corrupt?): {exc}") from None


def _check_header(f: h5py.File, path: str) -> str:
    try:
        fmt, version, kind = (read_attr(f, k, None) for k in ("format", "version", "kind"))
    except FileFormatError:
        raise
    except Exception as exc:  # noqa: BLE001 - h5py raises many types for a damaged header
        raise FileFormatError(path, f"unreadable header attributes (corrupt file?): {exc}") from None
    fmt = fmt.decode("utf-8", "replace") if isinstance(fmt, bytes) else fmt
    if fmt != FORMAT:
        if fmt == "hyperinr-dataset":
            raise FileFormatError(path, "this is a dataset file, not a model file")
        raise FileFormatError(path, f"not a HyperINR model file (format attribute is {_short(fmt)})")
    try:
        version = int(version)
    except (TypeError, ValueError):
        raise FileFormatError(path, f"unsupported model file version {_short(version)}") from None
    if version > VERSION or version < 1:
        raise FileFormatError(
            path, f"unsupported model file version {version} (this program reads {VERSION})"
        )
    if not isinstance(kind, str):
        raise FileFormatError(path, "missing attribute 'kind'")
    return kind


def _short(v, width: int = 60) -> str:
    text = repr(v)
    return text if len(text) <= width else text[: width - 3] + "..."


def _config(f: h5py.File, path: str) -> dict:
    try:
        config = json.loads(read_attr(f, "config"))
    except FileFormatError:
        raise
    except Exception as exc:  # noqa: BLE001 - missing, undecodable or malformed JSON alike
        problem = f"missing or malformed 'config' attribute ({type(exc).__name__})"
        raise FileFormatError(path, problem) from None
    if not isinstance(config, dict):
        raise FileFormatError(path, "malformed 'config' attribute (not a JSON object)")
    return config


def peek_kind(path: str | os.PathLike) -> str:
    """The ``kind`` of a model file, validating only its header."""
    with _open(path) as f:
        return _check_header(f, os.fspath(path))


def read_model_config(path: str | os.PathLike) -> dict:
    """The config of a model file (header validated), without reading its tensors."""
    path = os.fspath(path)
    with _open(path) as f:
        _check_header(f, path)
        return _config(f, path)


def read_model_file(path: str | os.PathLike, kind: str | None = None) -> ModelFile:
    """Read and validate a model file; raises :class:`FileFormatError` naming the file and the problem."""
    path = os.fspath(path)
    with _open(path) as f:
        found = _check_header(f, path)
        if kind is not None and found != kind:
            raise FileFormatError(path, f"holds a '{found}' model, expected a '{kind}' model")
        config = _config(f, path)
        arrays = {}
        try:
            for name, ds in f.items():
                if isinstance(ds, h5py.Dataset):
                    arrays[name] = check_dataset_type(ds, name)[()]
        except FileFormatError:
            raise
        except Exception as exc:  # noqa: BLE001 - h5py raises OSError, KeyError, ValueError, ... for damage
            raise FileFormatError(path, f"cannot read dataset (truncated or corrupt file?): {exc}") from None
    return ModelFile(found, config, arrays, path)
