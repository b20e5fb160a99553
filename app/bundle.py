"""What the explorer opens: a bundle (scalar model + optional shadow model + transfer function), a bare model
file, or a dataset (shown as ground truth beside the model's prediction and LERP).

A bundle is a JSON manifest; paths in it are relative to the manifest::

    {"format": "hyperinr-bundle", "version": 1, "title": "...",
     "model": "demo_tgv.hinr", "shadow_model": "demo_tgv_shadow.hinr", "transfer_function": "demo_tf.json"}
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from hyperinr_core.errors import FileFormatError

__all__ = ["Bundle", "load_bundle", "demo_bundle_path", "open_any"]

FORMAT = "hyperinr-bundle"


@dataclass
class Bundle:
    model: Path
    shadow_model: Path | None = None
    transfer_function: Path | None = None
    title: str = ""
    dataset: Path | None = None  # ground truth to compare against, when a dataset was opened


def demo_bundle_path() -> Path | None:
    """The bundled demo's manifest, if this installation carries one."""

    import hyperinr_assets

    p = Path(hyperinr_assets.__file__).resolve().parent / "demo.json"
    return p if p.exists() else None


def load_bundle(path: str | os.PathLike) -> Bundle:
    """Read and check a bundle manifest; every problem names the file."""
    path = Path(path)
    try:
        d = json.loads(path.read_text())
    except FileNotFoundError:
        raise FileFormatError(path, "no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FileFormatError(path, f"not a readable JSON bundle manifest ({exc})") from None
    if not isinstance(d, dict) or d.get("format") != FORMAT:
        raise FileFormatError(path, f"not a HyperINR bundle (format must be {FORMAT!r})")
    if d.get("version") != 1 or isinstance(d.get("version"), bool):
        raise FileFormatError(path, f"unsupported bundle version {d.get('version')!r}")
    if "model" not in d:
        raise FileFormatError(path, "missing 'model'")

    def rel(key):
        v = d.get(key)
        if v is None:
            return None
        if not isinstance(v, str) or not v:
            raise FileFormatError(path, f"'{key}' must name a file (a path relative to the manifest), got {v!r}")
        p = (path.parent / v).resolve()
        if not p.exists():
            raise FileFormatError(path, f"'{key}' names {v}, which does not exist")
        return p

    return Bundle(rel("model"), rel("shadow_model"), rel("transfer_function"), str(d.get("title", "")))


def open_any(path: str | os.PathLike) -> tuple[str, object]:
    """Classify a file the user opened: ``("bundle" | "model", Bundle)`` or ``("dataset", path)``."""
    path = Path(path)
    if not path.exists():
        raise FileFormatError(path, "no such file")
    if path.suffix.lower() == ".json":
        return "bundle", load_bundle(path)
    import h5py

    from hyperinr_core.h5safe import read_attr

    try:
        with h5py.File(path, "r") as f:
            fmt = read_attr(f, "format", None)
    except FileFormatError:
        raise
    except Exception as exc:  # noqa: BLE001 - h5py raises OSError, KeyError, ... for a damaged file
        raise FileFormatError(path, f"not a readable HDF5 file (truncated or corrupt?): {exc}") from None
    if fmt == "hyperinr-model":
        return "model", Bundle(path)
    if fmt == "hyperinr-dataset":
        return "dataset", path
    raise FileFormatError(path, "neither a HyperINR model, a bundle manifest nor a dataset file")
