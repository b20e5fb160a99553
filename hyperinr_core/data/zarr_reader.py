"""Zarr and OME-Zarr in (``zarr`` >= 3, the ``[zarr]`` extra; it reads v2 and v3 stores alike).

A store is a folder (``*.zarr``, or one holding ``zarr.json``, ``.zgroup`` or ``.zarray``) with:

- a plain array ``(Z, Y, X)`` (one frame) or ``(T, Z, Y, X)`` (frames along T), or a group holding one such
  array (``dataset``, ``--dataset``, names it among several);
- an OME-Zarr image (NGFF 0.4: ``multiscales`` in the group's attributes; 0.5: under ``ome``): its full
  resolution level (``datasets[0]``) is read with the axes its metadata names. A ``time`` axis gives the
  frames, whose times (the parameter ``t``) follow the ``scale``/``translation`` transformations along it
  (else frame indices); a channel axis of size 1 (or any other axis of size 1) is dropped, more channels
  are an error; three space axes are required.

A store ``hyperinr decode`` wrote also holds its frames' parameters (attribute ``hyperinr``: ``param_names``,
``params``): they are taken over, so a decoded sweep imports back with its parameter names and values.
Frames are read one at a time: only the chunks of that frame.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hyperinr_core.data.frame_source import FrameSource, ImportOptions, concat_parts, params_array
from hyperinr_core.data.optional_libs import require_zarr
from hyperinr_core.errors import FileFormatError, HyperINRError

__all__ = ["ZARR_MARKERS", "is_zarr_store", "zarr_source", "ome_multiscales"]

ZARR_MARKERS = ("zarr.json", ".zgroup", ".zarray")
_TYPES = {"t": "time", "c": "channel", "z": "space", "y": "space", "x": "space"}


def is_zarr_store(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a Zarr store (a folder), not a folder of files to import."""
    p = Path(path)
    return p.is_dir() and (p.suffix.lower() == ".zarr" or any((p / m).is_file() for m in ZARR_MARKERS))


def ome_multiscales(attrs: dict) -> dict | None:
    """The first ``multiscales`` entry of a group's attributes (NGFF 0.4, or 0.5 under ``ome``)."""
    ms = attrs.get("multiscales")
    if ms is None and isinstance(attrs.get("ome"), dict):
        ms = attrs["ome"].get("multiscales")
    return ms[0] if isinstance(ms, list) and ms and isinstance(ms[0], dict) else None


def zarr_source(inputs: Sequence[str | os.PathLike], opts: ImportOptions, is_image: bool) -> FrameSource:
    """The frames of one Zarr store (see the module docstring)."""
    zarr = require_zarr("reading Zarr")
    if len(inputs) != 1:
        raise HyperINRError("import one Zarr store at a time")
    if is_image:
        raise HyperINRError("Zarr import reads volumes (task tsr or dgs); images import as .npy")
    path = Path(inputs[0])
    if not path.exists():
        raise FileFormatError(path, "no such file or folder")
    try:
        node = zarr.open(store=str(path), mode="r")
    except Exception as exc:  # noqa: BLE001 - zarr raises many kinds on what is not a store
        raise FileFormatError(path, f"not a readable Zarr store ({type(exc).__name__}: {exc})") from None
    ms = ome_multiscales(dict(node.attrs)) if isinstance(node, zarr.Group) else None
    if ms is not None:
        arr, label, axes, transforms = _ome_level(path, node, ms, opts.dataset)
    else:
        arr, label = _plain_array(zarr, path, node, opts.dataset)
        axes, transforms = None, []
    shape = tuple(int(s) for s in arr.shape)
    key, t_axis = _layout(path, label, shape, axes)
    count = shape[t_axis] if t_axis is not None else 1
    frame_shape = tuple(s for i, s in enumerate(shape) if key[i] == slice(None))

    def read(j: int) -> np.ndarray:
        k = tuple(j if i == t_axis else key[i] for i in range(len(shape)))
        try:
            return np.asarray(arr[k])
        except Exception as exc:  # noqa: BLE001 - a damaged chunk, whatever the codec raises
            raise FileFormatError(path, f"array '{label}'[{j}]: unreadable ({type(exc).__name__}: {exc})"
                                  ) from None

    n, frame_shape, read, where = concat_parts([(str(path), f"array '{label}'", count, frame_shape, read)])
    src = FrameSource(n, frame_shape, read, where)
    _found_params(src, path, dict(node.attrs), axes, t_axis, transforms)
    return src


def _plain_array(zarr, path: Path, node, wanted: str | None) -> tuple[Any, str]:
    if isinstance(node, zarr.Array):
        return node, path.name
    if wanted is not None:
        try:
            arr = node[wanted]
        except KeyError:
            arr = None
        if not isinstance(arr, zarr.Array):
            names = ", ".join(_arrays(node)) or "none"
            raise FileFormatError(path, f"holds no array {wanted!r} (arrays: {names})")
        return arr, wanted
    names = _arrays(node)
    if not names:
        raise FileFormatError(path, "the Zarr group holds no array")
    if len(names) > 1:
        raise FileFormatError(path, f"holds several arrays ({', '.join(names)}); choose one with {{dataset}}",
                              dataset="dataset=NAME")
    return node[names[0]], names[0]


def _arrays(group) -> list[str]:
    return sorted(group.array_keys())


def _ome_level(path: Path, group, ms: dict, wanted: str | None) -> tuple[Any, str, list[dict], list[list]]:
    """Level 0 (or the level ``wanted`` names), its axes and the transformations that apply to it."""
    datasets = [d for d in ms.get("datasets", []) if isinstance(d, dict) and "path" in d]
    if not datasets:
        raise FileFormatError(path, "OME-Zarr multiscales lists no datasets")
    ds = datasets[0] if wanted is None else next((d for d in datasets if d["path"] == wanted), None)
    if ds is None:
        raise FileFormatError(path, f"no OME-Zarr level {wanted!r} (levels: "
                              f"{', '.join(str(d['path']) for d in datasets)})")
    try:
        arr = group[str(ds["path"])]
    except KeyError:
        raise FileFormatError(path, f"OME-Zarr level {ds['path']!r} is missing") from None
    axes = []
    for a in ms.get("axes") or [{"name": n} for n in "tczyx"[-len(arr.shape):]]:  # 0.3 and before: strings
        a = {"name": a} if isinstance(a, str) else dict(a)
        a.setdefault("type", _TYPES.get(str(a.get("name", "")).lower(), ""))
        axes.append(a)
    if len(axes) != len(arr.shape):
        raise FileFormatError(path, f"OME-Zarr names {len(axes)} axes for level {ds['path']!r} of shape "
                              f"{tuple(arr.shape)}")
    transforms = [ds.get("coordinateTransformations") or [], ms.get("coordinateTransformations") or []]
    return arr, str(ds["path"]), axes, transforms


def _layout(path: Path, label: str, shape: tuple[int, ...], axes: list[dict] | None
            ) -> tuple[list, int | None]:
    """Per axis of the stored array: ``slice(None)`` (a space axis), 0 (an axis of size 1 dropped) or None
    (the time axis, indexed per frame); and the time axis's position."""
    if axes is None:
        if len(shape) == 3:
            return [slice(None)] * 3, None
        if len(shape) == 4:
            return [None] + [slice(None)] * 3, 0
        raise FileFormatError(path, f"array '{label}' of shape {shape} has {len(shape)} dimensions; import "
                              "reads (Z, Y, X) or (T, Z, Y, X) (or OME-Zarr naming its axes)")
    key: list = []
    t_axis = None
    for i, (a, size) in enumerate(zip(axes, shape, strict=True)):
        kind, name = a["type"], a.get("name", i)
        if kind == "space":
            key.append(slice(None))
        elif kind == "time" and t_axis is None:
            key.append(None)
            t_axis = i
        elif size == 1:
            key.append(0)
        elif kind == "channel":
            raise FileFormatError(path, f"{size} channels (axis {name!r}); import reads one: store the "
                                  "channel you want on its own")
        else:
            raise FileFormatError(path, f"axis {name!r} ({kind or 'no type'}) of size {size}: import reads "
                                  "time and three space axes")
    spaces = sum(1 for k in key if k == slice(None))
    if spaces != 3:
        raise FileFormatError(path, f"{spaces} space axes: import reads 3-D volumes (Z, Y, X)")
    return key, t_axis


def _found_params(src: FrameSource, path: Path, attrs: dict, axes, t_axis, transforms) -> None:
    """The frames' parameters: those ``hyperinr decode`` stored, else the OME time axis's values."""
    meta = attrs.get("hyperinr")
    if isinstance(meta, dict) and "params" in meta and "param_names" in meta:
        src.params = params_array(meta["params"], src.n, str(path), "attribute hyperinr.params")
        src.param_names = [str(n) for n in meta["param_names"]]
        if len(src.param_names) != src.params.shape[1]:
            raise FileFormatError(path, f"attribute hyperinr: {len(src.param_names)} names for "
                                  f"{src.params.shape[1]} parameter columns")
        return
    if t_axis is None or axes is None:  # a plain (T, Z, Y, X) array: no times given
        return
    t = np.arange(src.n, dtype=np.float64)
    for group in transforms:
        for tr in group:
            kind = tr.get("type") if isinstance(tr, dict) else None
            vec = tr.get(kind) if kind in ("scale", "translation") else None
            if isinstance(vec, list) and len(vec) == len(axes):
                t = t * float(vec[t_axis]) if kind == "scale" else t + float(vec[t_axis])
    src.params = params_array(t, src.n, str(path), "OME-Zarr time values")
    src.param_names = [str(axes[t_axis].get("name") or "t")]
