"""Readers of user data for the importers: NumPy stacks (.npy, .npz), raw binaries with a JSON sidecar, HDF5
of another layout. Each returns a :class:`~hyperinr_core.data.frame_source.FrameSource`; the formats are
described in :mod:`hyperinr_core.data.importers`."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from hyperinr_core.data.frame_source import (
    HDF5_SUFFIXES,
    RAW_SUFFIXES,
    FrameSource,
    ImportOptions,
    concat_parts,
    expand_inputs,
    frames_in,
    natural_key,
    params_array,
)
from hyperinr_core.errors import FileFormatError, HyperINRError


def npy_source(inputs: Sequence[str | os.PathLike], is_image: bool) -> FrameSource:
    parts = []
    for f in expand_inputs(inputs, {".npy"}):
        try:
            arr = np.load(f, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise FileFormatError(f, f"not a readable .npy file (truncated or corrupt?): {exc}") from None
        got = frames_in(arr.shape, is_image)
        if got is None:
            raise FileFormatError(f, f"array of shape {arr.shape} is neither a frame nor a stack of frames")
        count, shape = got
        single = count == 1 and len(shape) == arr.ndim
        parts.append((str(f), f.name, count, shape, (lambda j, a=arr, s=single: a if s else a[j])))
    n, shape, read, where = concat_parts(parts)
    return FrameSource(n, shape, read, where)


# -- npz ----------------------------------------------------------------------------------------------------
def npz_source(path: str | os.PathLike, opts: ImportOptions, is_image: bool) -> FrameSource:
    path = str(path)
    if not os.path.exists(path):
        raise FileFormatError(path, "no such file")
    try:
        z = np.load(path, allow_pickle=False)
        keys = list(z.files)
    except (ValueError, OSError, EOFError) as exc:
        raise FileFormatError(path, f"not a readable .npz file (truncated or corrupt?): {exc}") from None
    cache: dict[str, np.ndarray] = {}

    def load(key: str) -> np.ndarray:
        if key not in cache:  # keep one array: a stacked key is read once, per-frame keys one at a time
            cache.clear()
            try:
                cache[key] = z[key]
            except (ValueError, OSError, EOFError, KeyError) as exc:
                raise FileFormatError(
                    path, f"array '{key}': unreadable (truncated or corrupt?): {exc}"
                ) from None
        return cache[key]

    def shape_of(key: str) -> tuple[int, ...]:
        # The .npy header inside the zip gives the shape without reading the data.
        try:
            with z.zip.open(key + ".npy") as fh:
                version = np.lib.format.read_magic(fh)
                reader = (
                    np.lib.format.read_array_header_1_0
                    if version == (1, 0)
                    else np.lib.format.read_array_header_2_0
                )
                shape, _, _ = reader(fh)
            return tuple(shape)
        except Exception:  # noqa: BLE001 - fall back to loading the array
            return load(key).shape

    extra = {opts.params_key, "train", "param_names", "param_lo", "param_hi"}
    frame_keys = (
        [opts.frames_key]
        if opts.frames_key in keys
        else sorted((k for k in keys if k not in extra), key=natural_key)
    )
    if not frame_keys:
        raise FileFormatError(path, "no frame arrays in the archive")
    parts = []
    for key in frame_keys:
        got = frames_in(shape_of(key), is_image)
        if got is None:
            raise FileFormatError(
                path, f"array '{key}' of shape {shape_of(key)} is neither a frame nor a stack"
            )
        count, shape = got
        single = count == 1 and len(shape) == len(shape_of(key))
        parts.append(
            (path, f"'{key}'", count, shape, (lambda j, k=key, s=single: load(k) if s else load(k)[j]))
        )
    n, shape, read, where = concat_parts(parts)
    src = FrameSource(n, shape, read, where, close=z.close)
    if opts.params_key in keys:
        src.params = params_array(load(opts.params_key), n, path, f"array '{opts.params_key}'")
    if "train" in keys:
        t = np.asarray(load("train")).reshape(-1)
        if t.shape != (n,):
            raise FileFormatError(path, f"array 'train': {t.size} entries for {n} frames")
        src.train_mask = t.astype(bool)
    if "param_names" in keys:
        src.param_names = [str(s) for s in np.asarray(load("param_names")).reshape(-1)]
    return src


# -- raw + JSON sidecar -------------------------------------------------------------------------------------
def _find_sidecar(f: Path, explicit: str | None) -> Path:
    if explicit:
        return Path(explicit)
    for cand in (f.with_name(f.name + ".json"), f.with_suffix(".json")):
        if cand.exists():
            return cand
    raise FileFormatError(f, f"no JSON sidecar found ({f.name}.json or {f.stem}.json); name one ({{sidecar}})", sidecar="sidecar=PATH")


def _read_sidecar(path: Path, is_image: bool) -> dict:
    if not path.exists():
        raise FileFormatError(path, "no such file")
    try:
        meta = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise FileFormatError(path, f"not valid JSON: {exc}") from None
    if not isinstance(meta, dict):
        raise FileFormatError(path, "expected a JSON object")
    if ("dims" in meta) == ("shape" in meta):
        raise FileFormatError(
            path, "give exactly one of 'dims' ([X, Y, Z], fastest first) or 'shape' (C order)"
        )
    key = "dims" if "dims" in meta else "shape"
    try:
        dims = [int(d) for d in meta[key]]
    except (TypeError, ValueError):
        raise FileFormatError(path, f"{key}: expected a list of integers, got {meta[key]!r}") from None
    shape = tuple(dims[::-1] if key == "dims" else dims)
    if any(d < 1 for d in shape) or frames_in(shape, is_image) != (1, shape):
        raise FileFormatError(
            path, f"{key}: {dims} is not the shape of one {'image' if is_image else 'volume'}"
        )
    endian = meta.get("endianness", "little")
    if endian not in ("little", "big"):
        raise FileFormatError(path, f"endianness: expected 'little' or 'big', got {endian!r}")
    try:
        dtype = np.dtype(meta.get("dtype", "float32")).newbyteorder("<" if endian == "little" else ">")
    except TypeError:
        raise FileFormatError(path, f"dtype: unknown type {meta.get('dtype')!r}") from None
    if dtype.kind not in "fiu":
        raise FileFormatError(path, f"dtype: {meta.get('dtype')!r} is not a number type")
    offset = meta.get("offset", 0)
    if not isinstance(offset, int) or offset < 0:
        raise FileFormatError(path, f"offset: expected a byte count >= 0, got {offset!r}")
    frames = meta.get("frames")
    if frames is not None and (not isinstance(frames, int) or frames < 1):
        raise FileFormatError(path, f"frames: expected a positive integer, got {frames!r}")
    return {"shape": shape, "dtype": dtype, "offset": offset, "frames": frames, "meta": meta}


def raw_source(inputs: Sequence[str | os.PathLike], opts: ImportOptions, is_image: bool) -> FrameSource:
    parts = []
    params, names = [], None
    for f in expand_inputs(inputs, RAW_SUFFIXES):
        side = _find_sidecar(f, opts.sidecar)
        info = _read_sidecar(side, is_image)
        frame_bytes = int(np.prod(info["shape"])) * info["dtype"].itemsize
        avail = f.stat().st_size - info["offset"]
        count = info["frames"] if info["frames"] is not None else max(avail // frame_bytes, 0)
        if (
            count < 1
            or avail < count * frame_bytes
            or (info["frames"] is None and avail != count * frame_bytes)
        ):
            raise FileFormatError(
                f,
                f"size {f.stat().st_size} bytes does not hold {count or 'whole'} frame(s) of {info['shape']} "
                f"{info['dtype'].name} after a {info['offset']}-byte offset "
                f"(truncated, or sidecar {side.name} wrong?)",
            )
        mm = np.memmap(
            f, dtype=info["dtype"], mode="r", offset=info["offset"], shape=(count,) + info["shape"]
        )
        parts.append((str(f), f.name, count, info["shape"], (lambda j, m=mm: m[j])))
        meta = info["meta"]
        if "params" in meta:
            params.append(params_array(meta["params"], count, str(side), "params"))
        if "param_names" in meta:
            names = [str(s) for s in meta["param_names"]]
    n, shape, read, where = concat_parts(parts)
    src = FrameSource(n, shape, read, where, param_names=names)
    if params:
        if len(params) != len(parts):
            raise HyperINRError("some sidecars give 'params' and others do not; give them in all or none")
        src.params = np.concatenate(params)
    return src


# -- HDF5 of another layout ---------------------------------------------------------------------------------
def hdf5_source(inputs: Sequence[str | os.PathLike], opts: ImportOptions, is_image: bool) -> FrameSource:
    import h5py

    files = expand_inputs(inputs, HDF5_SUFFIXES)
    names_found = None
    if not opts.dataset:
        found = netcdf_variable(files[0]) if files else None
        if found is None:
            raise HyperINRError(
                "importing HDF5 needs the dataset path inside the file ({dataset})", dataset="dataset=PATH"
            )
        var, coord = found
        opts = replace(opts, dataset=var, params_dataset=opts.params_dataset or coord)
        names_found = [coord.lstrip("/")] if coord and opts.params_dataset == coord else None
    handles: list[h5py.File] = []
    parts, params = [], []

    def close() -> None:
        for h in handles:
            h.close()

    def attr_params(obj: Any, count: int, file: str, where_: str) -> np.ndarray | None:
        if opts.param_attr is None:
            return None
        if opts.param_attr not in obj.attrs:
            raise FileFormatError(file, f"{where_}: missing parameter attribute '{opts.param_attr}'")
        return params_array(
            obj.attrs[opts.param_attr], count, file, f"{where_} attribute '{opts.param_attr}'"
        )

    try:
        for f in files:
            try:
                h = h5py.File(f, "r")
            except OSError as exc:
                raise FileFormatError(f, f"not a readable HDF5 file (truncated or corrupt?): {exc}") from None
            handles.append(h)
            if opts.dataset not in h:
                raise FileFormatError(f, f"no dataset or group '{opts.dataset}'")
            obj = h[opts.dataset]
            if isinstance(obj, h5py.Group):
                members = sorted((k for k, v in obj.items() if isinstance(v, h5py.Dataset)), key=natural_key)
                if not members:
                    raise FileFormatError(f, f"group '{opts.dataset}' holds no datasets")
                for k in members:
                    ds = obj[k]
                    if frames_in(ds.shape, is_image) != (1, ds.shape):
                        raise FileFormatError(f, f"'{ds.name}': shape {ds.shape} is not one frame")
                    parts.append((str(f), f"'{ds.name}'", 1, ds.shape, (lambda j, d=ds: d[()])))
                    p = attr_params(ds, 1, str(f), f"'{ds.name}'")
                    if p is not None:
                        params.append(p)
                continue
            got = frames_in(obj.shape, is_image)
            if got is None or obj.dtype.kind not in "fiu":
                raise FileFormatError(
                    f, f"'{obj.name}': {obj.dtype} array of shape {obj.shape} is not frame data"
                )
            count, shape = got
            single = count == 1 and len(shape) == obj.ndim
            parts.append(
                (str(f), f"'{obj.name}'", count, shape, (lambda j, d=obj, s=single: d[()] if s else d[j]))
            )
            if opts.params_dataset is not None:
                if opts.params_dataset not in h:
                    raise FileFormatError(f, f"no parameter dataset '{opts.params_dataset}'")
                params.append(
                    params_array(h[opts.params_dataset][()], count, str(f), f"'{opts.params_dataset}'")
                )
            elif opts.param_attr is not None:
                holder = obj if opts.param_attr in obj.attrs else h
                params.append(attr_params(holder, count, str(f), f"'{holder.name}'"))
        n, shape, read, where = concat_parts(parts)
    except BaseException:
        close()
        raise

    def read_checked(k: int) -> np.ndarray:
        try:
            return read(k)
        except OSError as exc:
            file, label = where(k)
            raise FileFormatError(file, f"{label}: cannot read data (truncated or corrupt?): {exc}") from None

    src = FrameSource(n, shape, read_checked, where, close=close)
    if params:
        src.params = np.concatenate(params)
        src.param_names = names_found
    return src


def netcdf_variable(path: str | os.PathLike) -> tuple[str, str | None] | None:
    """A NetCDF-4 (or any HDF5) file's one data variable and, when its first dimension has one, that
    dimension's coordinate variable (CF: time as the parameter): ``(variable, coordinate or None)``. None
    when the file is no such file; one line when it holds several data variables (choose with --dataset)."""
    import h5py

    try:
        with h5py.File(path, "r") as h:
            cands, coords = [], {}

            def visit(name, obj):
                if not isinstance(obj, h5py.Dataset) or obj.dtype.kind not in "fiu":
                    return
                if obj.attrs.get("CLASS") == b"DIMENSION_SCALE":
                    coords[obj.name] = obj
                elif obj.ndim >= 3:
                    cands.append(obj)

            h.visititems(visit)
            if not cands:
                return None
            if len(cands) > 1:
                names = ", ".join(c.name.lstrip("/") for c in cands)
                raise FileFormatError(
                    path, f"holds several data variables ({names}); choose one with {{dataset}}", dataset="dataset=NAME"
                )
            var = cands[0]
            coord = None
            if var.ndim >= 4 and len(var.dims[0]):
                scale = var.dims[0][0]
                if scale.ndim == 1 and scale.shape[0] == var.shape[0] and scale.name in coords:
                    coord = scale.name
            return var.name, coord
    except OSError:
        return None
