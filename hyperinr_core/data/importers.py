"""Importers: user data (NumPy stacks, raw binaries, HDF5 of another layout) -> a dataset file.

Every source is first opened as a :class:`FrameSource` (shapes and parameters only, no frame data), then its
frames stream one at a time into :func:`hyperinr_core.data.dataset.write_dataset`, so a series larger than memory
imports in bounded memory (except a stacked ``.npz`` array, which NumPy can only load whole).

Input kinds:

- ``npy``: ``.npy`` files and/or folders of them (natural file-name order: ``f2`` before ``f10``). Each file
  holds one frame or a stack of frames (leading axis).
- ``npz``: one ``.npz``; frames under ``frames_key`` (default ``"frames"``, a stack) or, without that key,
  every array in natural key order; optional ``params`` (N[, D]) and ``train`` (N,) arrays.
- ``raw``: headerless binaries, each described by a JSON sidecar (``--sidecar``, else ``FILE.json`` or
  ``STEM.json`` beside it)::

      {"dims": [X, Y, Z]        # fastest axis first, as ParaView/VTK raw readers count; or
       "shape": [Z, Y, X],      # C order (images: [H, W, C]); exactly one of the two
       "dtype": "float32", "endianness": "little" | "big", "offset": 0,   # header bytes to skip
       "frames": N,             # optional; default: as many as the file size holds
       "params": [...], "param_names": [...]}                             # optional

- ``hdf5``: HDF5 files of another layout. ``dataset`` names, in each file, either a stacked dataset
  (N, ...), a single frame, or a group whose datasets are the frames (natural name order). The parameter
  comes from ``param_attr``: an attribute of each frame dataset, of the stacked dataset (N values), or of the
  file root; or from ``params_dataset`` (a dataset path, N[, D] values).

Parameters given explicitly (``params``) win over those found in the source; without either, frame k gets
parameter k. Bounds default to the parameters' min and max.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hyperinr_core.data.dataset import IMAGE_TASKS, TASKS, write_dataset
from hyperinr_core.errors import FileFormatError, HyperINRError

__all__ = ["FrameSource", "ImportOptions", "detect_kind", "open_source", "import_dataset", "KINDS"]

KINDS = ("npy", "npz", "raw", "hdf5")
_HDF5_SUFFIXES = {".h5", ".hdf5", ".hdf", ".he5", ".nc", ".nc4"}
_RAW_SUFFIXES = {".raw", ".bin", ".dat", ".vol"}


def natural_key(s: str) -> list:
    """Sort key putting ``f2`` before ``f10``."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", s)]


@dataclass
class FrameSource:
    """Frames of some input, known by shape before any is read.

    Attributes:
        n: number of frames N.
        frame_shape: shape of one frame.
        read: ``read(k)`` -> frame k as an array (any numeric dtype).
        where: ``where(k)`` -> (file, description) of frame k, for error messages.
        params: (N, D) parameters found in the source, or None.
        param_names: names found in the source, or None.
        train_mask: (N,) bool found in the source, or None.
        close: releases open files.
    """

    n: int
    frame_shape: tuple[int, ...]
    read: Callable[[int], np.ndarray]
    where: Callable[[int], tuple[str, str]]
    params: np.ndarray | None = None
    param_names: list[str] | None = None
    train_mask: np.ndarray | None = None
    close: Callable[[], None] = lambda: None


@dataclass
class ImportOptions:
    """How to turn a source into a dataset (see the module docstring for the per-kind options)."""

    task: str = "tsr"
    param_names: list[str] | None = None
    params: np.ndarray | None = None
    param_lo: list[float] | None = None
    param_hi: list[float] | None = None
    train_stride: int | None = None
    train_mask: np.ndarray | None = None
    attrs: dict[str, Any] = field(default_factory=dict)
    # npz
    frames_key: str = "frames"
    params_key: str = "params"
    # raw
    sidecar: str | None = None
    # hdf5
    dataset: str | None = None
    param_attr: str | None = None
    params_dataset: str | None = None


# -- stacking helpers ---------------------------------------------------------------------------------------
def _frames_in(shape: tuple[int, ...], is_image: bool) -> tuple[int, tuple[int, ...]] | None:
    """(count, frame shape) of an array of ``shape`` holding one frame or a stack; None if neither."""
    nd = len(shape)
    if is_image:
        if nd == 2:
            return 1, shape
        if nd == 3 and 1 <= shape[2] <= 4:
            return 1, shape  # one (H, W, C) image
        if nd == 3:
            return shape[0], shape[1:]  # stack of grey images
        if nd == 4 and 1 <= shape[3] <= 4:
            return shape[0], shape[1:]
        return None
    if nd == 3:
        return 1, shape
    if nd == 4:
        return shape[0], shape[1:]
    return None


def _concat(parts: list[tuple[str, str, int, tuple[int, ...], Callable[[int], np.ndarray]]]) -> tuple:
    """Chain parts (file, label, count, frame shape, read(j)) into one indexable sequence of frames."""
    if not parts:
        raise HyperINRError("no input frames found")
    shape0, file0 = parts[0][3], parts[0][0]
    for file, label, _, shape, _ in parts:
        if shape != shape0:
            raise FileFormatError(file, f"{label}: frame shape {shape} differs from {shape0} in {file0}")
    offsets = np.cumsum([0] + [p[2] for p in parts])

    def locate(k: int) -> tuple[int, int]:
        i = int(np.searchsorted(offsets, k, side="right") - 1)
        return i, k - int(offsets[i])

    def read(k: int) -> np.ndarray:
        i, j = locate(k)
        return parts[i][4](j)

    def where(k: int) -> tuple[str, str]:
        i, j = locate(k)
        file, label, count = parts[i][:3]
        return file, (label if count == 1 else f"{label}[{j}]")

    return int(offsets[-1]), shape0, read, where


def _params_array(values: Any, n: int, file: str, what: str) -> np.ndarray:
    try:
        p = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise FileFormatError(file, f"{what}: not numbers") from None
    if p.ndim == 0:
        p = p.reshape(1)
    if p.ndim == 1:
        p = p[:, None]
    if p.ndim != 2 or p.shape[0] != n:
        raise FileFormatError(file, f"{what}: {p.shape[0] if p.ndim else 1} values for {n} frames")
    if not np.isfinite(p).all():
        raise FileFormatError(file, f"{what}: contains NaN or infinite values")
    return p


# -- npy ----------------------------------------------------------------------------------------------------
def _expand(inputs: Sequence[str | os.PathLike], suffixes: set[str]) -> list[Path]:
    files: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found = sorted(
                (q for q in p.iterdir() if q.suffix.lower() in suffixes), key=lambda q: natural_key(q.name)
            )
            if not found:
                raise FileFormatError(p, f"folder holds no {'/'.join(sorted(suffixes))} files")
            files += found
        elif p.exists():
            files.append(p)
        else:
            raise FileFormatError(p, "no such file")
    return files


def _npy_source(inputs: Sequence[str | os.PathLike], is_image: bool) -> FrameSource:
    parts = []
    for f in _expand(inputs, {".npy"}):
        try:
            arr = np.load(f, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise FileFormatError(f, f"not a readable .npy file (truncated or corrupt?): {exc}") from None
        got = _frames_in(arr.shape, is_image)
        if got is None:
            raise FileFormatError(f, f"array of shape {arr.shape} is neither a frame nor a stack of frames")
        count, shape = got
        single = count == 1 and len(shape) == arr.ndim
        parts.append((str(f), f.name, count, shape, (lambda j, a=arr, s=single: a if s else a[j])))
    n, shape, read, where = _concat(parts)
    return FrameSource(n, shape, read, where)


# -- npz ----------------------------------------------------------------------------------------------------
def _npz_source(path: str | os.PathLike, opts: ImportOptions, is_image: bool) -> FrameSource:
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
        got = _frames_in(shape_of(key), is_image)
        if got is None:
            raise FileFormatError(
                path, f"array '{key}' of shape {shape_of(key)} is neither a frame nor a stack"
            )
        count, shape = got
        single = count == 1 and len(shape) == len(shape_of(key))
        parts.append(
            (path, f"'{key}'", count, shape, (lambda j, k=key, s=single: load(k) if s else load(k)[j]))
        )
    n, shape, read, where = _concat(parts)
    src = FrameSource(n, shape, read, where, close=z.close)
    if opts.params_key in keys:
        src.params = _params_array(load(opts.params_key), n, path, f"array '{opts.params_key}'")
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
    if any(d < 1 for d in shape) or _frames_in(shape, is_image) != (1, shape):
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


def _raw_source(inputs: Sequence[str | os.PathLike], opts: ImportOptions, is_image: bool) -> FrameSource:
    parts = []
    params, names = [], None
    for f in _expand(inputs, _RAW_SUFFIXES):
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
            params.append(_params_array(meta["params"], count, str(side), "params"))
        if "param_names" in meta:
            names = [str(s) for s in meta["param_names"]]
    n, shape, read, where = _concat(parts)
    src = FrameSource(n, shape, read, where, param_names=names)
    if params:
        if len(params) != len(parts):
            raise HyperINRError("some sidecars give 'params' and others do not; give them in all or none")
        src.params = np.concatenate(params)
    return src


# -- HDF5 of another layout ---------------------------------------------------------------------------------
def _hdf5_source(inputs: Sequence[str | os.PathLike], opts: ImportOptions, is_image: bool) -> FrameSource:
    import h5py

    if not opts.dataset:
        raise HyperINRError("importing HDF5 needs the dataset path inside the file ({dataset})", dataset="dataset=PATH")
    files = _expand(inputs, _HDF5_SUFFIXES)
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
        return _params_array(
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
                    if _frames_in(ds.shape, is_image) != (1, ds.shape):
                        raise FileFormatError(f, f"'{ds.name}': shape {ds.shape} is not one frame")
                    parts.append((str(f), f"'{ds.name}'", 1, ds.shape, (lambda j, d=ds: d[()])))
                    p = attr_params(ds, 1, str(f), f"'{ds.name}'")
                    if p is not None:
                        params.append(p)
                continue
            got = _frames_in(obj.shape, is_image)
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
                    _params_array(h[opts.params_dataset][()], count, str(f), f"'{opts.params_dataset}'")
                )
            elif opts.param_attr is not None:
                holder = obj if opts.param_attr in obj.attrs else h
                params.append(attr_params(holder, count, str(f), f"'{holder.name}'"))
        n, shape, read, where = _concat(parts)
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
    return src


# -- entry points -------------------------------------------------------------------------------------------
def detect_kind(inputs: Sequence[str | os.PathLike]) -> str:
    """Input kind from the file names: folder or .npy -> npy, .npz, .h5/.hdf5/.nc -> hdf5, else raw."""
    if not inputs:
        raise HyperINRError("no input given")
    kinds = set()
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            suffixes = {q.suffix.lower() for q in p.iterdir() if q.is_file()}
            if ".npy" in suffixes:
                kinds.add("npy")
            elif suffixes & _HDF5_SUFFIXES:
                kinds.add("hdf5")
            elif suffixes & _RAW_SUFFIXES:
                kinds.add("raw")
            else:
                raise FileFormatError(p, "folder holds no .npy, HDF5 or raw files; name their kind ({kind})", kind="kind=KIND")
            continue
        s = p.suffix.lower()
        kinds.add(
            "npy" if s == ".npy" else "npz" if s == ".npz" else "hdf5" if s in _HDF5_SUFFIXES else "raw"
        )
    if len(kinds) > 1:
        raise HyperINRError(f"inputs mix kinds ({', '.join(sorted(kinds))}); import one kind at a time")
    return kinds.pop()


def open_source(inputs: Sequence[str | os.PathLike], kind: str, opts: ImportOptions) -> FrameSource:
    """Open ``inputs`` as a :class:`FrameSource` of the given kind (see :data:`KINDS`)."""
    is_image = opts.task in IMAGE_TASKS
    if kind == "npy":
        return _npy_source(inputs, is_image)
    if kind == "npz":
        if len(inputs) != 1:
            raise HyperINRError("import one .npz file at a time")
        return _npz_source(inputs[0], opts, is_image)
    if kind == "raw":
        return _raw_source(inputs, opts, is_image)
    if kind == "hdf5":
        return _hdf5_source(inputs, opts, is_image)
    raise HyperINRError(f"unknown input kind {kind!r}; one of {', '.join(KINDS)}")


def _checked_frames(src: FrameSource, progress: bool) -> Iterator[np.ndarray]:
    it: Any = range(src.n)
    if progress:
        from tqdm import tqdm

        it = tqdm(it, desc="import", unit="frame")
    for k in it:
        a = np.asarray(src.read(k))
        if a.dtype.kind not in "fiub":
            file, label = src.where(k)
            raise FileFormatError(file, f"{label}: dtype {a.dtype} is not a number type")
        a = a.astype(np.float32)
        if not np.isfinite(a).all():
            file, label = src.where(k)
            raise FileFormatError(file, f"{label}: contains NaN or infinite values")
        yield a


def import_dataset(
    inputs: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    kind: str = "auto",
    opts: ImportOptions | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Turn ``inputs`` into the dataset file ``out``, atomically; an existing ``out`` needs ``overwrite``.

    Returns:
        The output path.
    """
    opts = opts or ImportOptions()
    out = Path(out)
    if opts.task not in TASKS:
        raise HyperINRError(f"task must be one of {', '.join(TASKS)}, got {opts.task!r}")
    if out.exists() and not overwrite:
        raise HyperINRError(f"{out}: output exists; choose another name or overwrite it ({{force}})", force="force=True")
    ins = [Path(i) for i in inputs]
    if any(i.exists() and out.exists() and i.resolve() == out.resolve() for i in ins):
        raise HyperINRError(f"{out}: output would replace an input")
    if kind == "auto":
        kind = detect_kind(ins)
    src = open_source(ins, kind, opts)
    try:
        where = str(ins[0]) if len(ins) == 1 else f"{ins[0]} ..."
        if opts.params is not None:
            params = _params_array(opts.params, src.n, where, "given parameters")
        elif src.params is not None:
            params = src.params
        else:
            params = np.arange(src.n, dtype=np.float64)[:, None]
        d = params.shape[1]
        names = opts.param_names or src.param_names
        if names is None:
            names = (
                ["t"]
                if d == 1
                else (["theta", "phi"] if d == 2 and opts.task != "tsr" else [f"p{i}" for i in range(d)])
            )
        if len(names) != d:
            raise HyperINRError(f"{len(names)} parameter names for {d} parameter column(s)")
        lo = np.asarray(
            opts.param_lo if opts.param_lo is not None else params.min(0), dtype=np.float64
        ).reshape(-1)
        hi = np.asarray(
            opts.param_hi if opts.param_hi is not None else params.max(0), dtype=np.float64
        ).reshape(-1)
        if opts.param_hi is None:
            hi = np.where(hi > lo, hi, lo + 1.0)  # a single distinct value still needs an interval
        if opts.train_mask is not None:
            train = np.asarray(opts.train_mask, dtype=bool)
        elif opts.train_stride is not None:
            if opts.train_stride < 1:
                raise HyperINRError(f"train stride must be >= 1, got {opts.train_stride}")
            train = np.arange(src.n) % opts.train_stride == 0
        else:
            train = src.train_mask
        attrs = {"source_kind": kind, "source": [str(i) for i in ins][:64], **opts.attrs}
        write_dataset(out, opts.task, names, lo, hi, params, _checked_frames(src, progress), train, attrs)
    finally:
        src.close()
    return out
