"""Read HDF5 attributes and datasets of files users hand the program, checking their stored types first.

A damaged datatype message can make the HDF5 library itself crash the process when the value is read (a
variable-length *sequence* where a string was written sends a read through the library's write path). So
before reading, the stored type class must be one a HyperINR file uses: integers, floats, booleans (enums)
or strings. Anything else is a :class:`~hyperinr_core.errors.FileFormatError` naming the file.
"""

from __future__ import annotations

import os
from typing import Any

import h5py
from h5py import h5t

from hyperinr_core.errors import FileFormatError

__all__ = ["read_attr", "read_attrs", "check_dataset_type"]

_ATTR_CLASSES = (h5t.INTEGER, h5t.FLOAT, h5t.STRING, h5t.ENUM, h5t.BITFIELD)
_DATA_CLASSES = (h5t.INTEGER, h5t.FLOAT, h5t.ENUM, h5t.BITFIELD)
_MISSING = object()


def _path(obj: h5py.HLObject) -> str:
    return os.fspath(obj.file.filename)


def read_attr(obj: h5py.HLObject, name: str, default: Any = _MISSING) -> Any:
    """``obj.attrs[name]`` after checking its stored type (``default`` if absent, else KeyError)."""
    try:
        if name not in obj.attrs:
            if default is _MISSING:
                raise KeyError(name)
            return default
        cls = obj.attrs.get_id(name).get_type().get_class()
    except KeyError:
        raise
    except Exception as exc:  # noqa: BLE001 - h5py meets damaged metadata with many exception types
        raise FileFormatError(_path(obj), f"attribute '{name}': unreadable ({exc})") from None
    if cls not in _ATTR_CLASSES:
        raise FileFormatError(_path(obj), f"attribute '{name}': unexpected stored type (corrupt file?)")
    try:
        return obj.attrs[name]
    except Exception as exc:  # noqa: BLE001
        raise FileFormatError(_path(obj), f"attribute '{name}': unreadable ({exc})") from None


def read_attrs(obj: h5py.HLObject) -> dict[str, Any]:
    """Every attribute of ``obj``, each checked as in :func:`read_attr`."""
    try:
        names = list(obj.attrs.keys())
    except Exception as exc:  # noqa: BLE001
        raise FileFormatError(_path(obj), f"unreadable attributes ({exc})") from None
    return {n: read_attr(obj, n) for n in names}


def check_dataset_type(ds: h5py.Dataset, name: str | None = None) -> h5py.Dataset:
    """``ds`` if its stored type is numeric (what every HyperINR dataset holds), else FileFormatError."""
    try:
        cls = ds.id.get_type().get_class()
    except Exception as exc:  # noqa: BLE001
        raise FileFormatError(_path(ds), f"dataset '{name or ds.name}': unreadable type ({exc})") from None
    if cls not in _DATA_CLASSES:
        raise FileFormatError(_path(ds), f"dataset '{name or ds.name}': not numbers (corrupt file?)")
    return ds
