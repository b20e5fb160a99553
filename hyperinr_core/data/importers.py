"""Importers: user data (NumPy stacks, raw binaries, HDF5/NetCDF, TIFF, VTK ImageData, Zarr) -> a dataset
file.

Every source is first opened as a :class:`FrameSource` (shapes and parameters only, no frame data), then its
frames stream one at a time into :func:`hyperinr_core.data.dataset_writer.write_dataset`, so a series larger
than memory imports in bounded memory (except a stacked ``.npz`` array, which NumPy can only load whole).

Input kinds:

- ``npy``: ``.npy`` files and/or folders of them (natural file-name order: ``f2`` before ``f10``). Each file
  holds one frame or a stack of frames (leading axis).
- ``npz``: one ``.npz``; frames under ``frames_key`` (default ``"frames"``, a stack) or, without that key,
  every array in natural key order; optional ``params`` (N[, D]) and ``train`` (N,) arrays.
- ``raw``: headerless binaries, each described by a JSON sidecar (``sidecar``, else ``FILE.json`` or
  ``STEM.json`` beside it)::

      {"dims": [X, Y, Z]        # fastest axis first, as ParaView/VTK raw readers count; or
       "shape": [Z, Y, X],      # C order (images: [H, W, C]); exactly one of the two
       "dtype": "float32", "endianness": "little" | "big", "offset": 0,   # header bytes to skip
       "frames": N,             # optional; default: as many as the file size holds
       "params": [...], "param_names": [...]}                             # optional

- ``hdf5``: HDF5 files of another layout. ``dataset`` names, in each file, either a stacked dataset
  (N, ...), a single frame, or a group whose datasets are the frames (natural name order). The parameter
  comes from ``param_attr``: an attribute of each frame dataset, of the stacked dataset (N values), or of the
  file root; or from ``params_dataset`` (a dataset path, N[, D] values). A NetCDF-4 file's one data
  variable is found without ``dataset``, and its first dimension's coordinate gives the parameter.
- ``tiff``: multi-page ZYX stacks or TZYX files (:mod:`~hyperinr_core.data.tiff_reader`; OME/ImageJ frame
  times).
- ``vtk``: ``.vti`` / legacy ``.vtk`` ImageData files (a frame each), or one ParaView ``.pvd`` collection
  whose timesteps become ``t`` (:mod:`~hyperinr_core.data.vtk_reader`; the ``[vtk]`` extra).
- ``zarr``: a Zarr store, plain ``(T,) Z, Y, X`` or OME-Zarr with its axes and time transformations
  (:mod:`~hyperinr_core.data.zarr_reader`; the ``[zarr]`` extra).

The readers on optional libraries say which pip extra to install when it is missing, in one line.

Parameters given explicitly (``params``), then those read from the file names (``name_pattern``, a regular
expression whose named groups name them), win over those found in the source (a .pvd's timesteps, OME time
values, HDF5 attributes...); without any, frame k gets parameter k. Bounds default to the parameters' min
and max.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hyperinr_core.data.dataset import IMAGE_TASKS, TASKS
from hyperinr_core.data.dataset_writer import write_dataset
from hyperinr_core.data.frame_source import (
    HDF5_SUFFIXES,
    KINDS,
    RAW_SUFFIXES,
    FrameSource,
    ImportOptions,
    params_array,
    params_from_names,
)
from hyperinr_core.data.readers import hdf5_source, npy_source, npz_source, raw_source
from hyperinr_core.data.tiff_reader import TIFF_SUFFIXES, tiff_source
from hyperinr_core.data.vtk_reader import VTK_SUFFIXES, vtk_source
from hyperinr_core.data.zarr_reader import is_zarr_store, zarr_source
from hyperinr_core.errors import FileFormatError, HyperINRError

__all__ = ["FrameSource", "ImportOptions", "detect_kind", "open_source", "import_dataset", "KINDS"]


def detect_kind(inputs: Sequence[str | os.PathLike]) -> str:
    """Input kind from the file names: a Zarr store (a ``.zarr`` folder, or one holding ``zarr.json``,
    ``.zgroup`` or ``.zarray``) -> zarr; a folder or .npy -> npy, .npz, .h5/.hdf5/.nc -> hdf5, .tif/.tiff
    -> tiff, .vti/.vtk/.pvd -> vtk, else raw (a folder: the kind of the files it holds)."""
    if not inputs:
        raise HyperINRError("no input given")
    kinds = set()
    for item in inputs:
        p = Path(item)
        if is_zarr_store(p):
            kinds.add("zarr")
            continue
        if p.is_dir():
            suffixes = {q.suffix.lower() for q in p.iterdir() if q.is_file()}
            if ".npy" in suffixes:
                kinds.add("npy")
            elif suffixes & HDF5_SUFFIXES:
                kinds.add("hdf5")
            elif suffixes & TIFF_SUFFIXES:
                kinds.add("tiff")
            elif suffixes & VTK_SUFFIXES:
                kinds.add("vtk")
            elif suffixes & RAW_SUFFIXES:
                kinds.add("raw")
            else:
                raise FileFormatError(p, "folder holds no .npy, HDF5, TIFF, VTK or raw files; name their "
                                      "kind ({kind})", kind="kind=KIND")
            continue
        kinds.add(_file_kind(p.suffix.lower()))
    if len(kinds) > 1:
        raise HyperINRError(f"inputs mix kinds ({', '.join(sorted(kinds))}); import one kind at a time")
    return kinds.pop()


def _file_kind(s: str) -> str:
    if s in (".npy", ".npz", ".zarr"):
        return s[1:]
    if s in HDF5_SUFFIXES:
        return "hdf5"
    if s in TIFF_SUFFIXES:
        return "tiff"
    return "vtk" if s in VTK_SUFFIXES else "raw"


def open_source(inputs: Sequence[str | os.PathLike], kind: str, opts: ImportOptions) -> FrameSource:
    """Open ``inputs`` as a :class:`FrameSource` of the given kind (see :data:`KINDS`)."""
    is_image = opts.task in IMAGE_TASKS
    if kind == "npy":
        return npy_source(inputs, is_image)
    if kind == "npz":
        if len(inputs) != 1:
            raise HyperINRError("import one .npz file at a time")
        return npz_source(inputs[0], opts, is_image)
    if kind == "raw":
        return raw_source(inputs, opts, is_image)
    if kind == "hdf5":
        return hdf5_source(inputs, opts, is_image)
    if kind == "tiff":
        return tiff_source(inputs, is_image)
    if kind == "vtk":
        return vtk_source(inputs, opts, is_image)
    if kind == "zarr":
        return zarr_source(inputs, opts, is_image)
    raise HyperINRError(f"unknown input kind {kind!r}; one of {', '.join(KINDS)}")


def non_finite(a: np.ndarray) -> str | None:
    """What is not finite in ``a``: how many NaN and infinite values, and where the first one is; None when
    every value is finite."""
    bad = ~np.isfinite(a)
    if not bad.any():
        return None
    nan = int(np.isnan(a).sum())
    inf = int(bad.sum()) - nan
    counts = " and ".join(f"{n} {what}" for n, what in ((nan, "NaN"), (inf, "infinite")) if n)
    first = np.unravel_index(int(np.argmax(bad.reshape(-1))), a.shape)
    axes = "zyx" if a.ndim == 3 else "yxc"[: a.ndim]
    at = ", ".join(f"{ax}={int(i)}" for ax, i in zip(axes, first, strict=False))
    return f"{counts} value{'s' if nan + inf > 1 else ''} (the first at {at})"


def _checked_frames(src: FrameSource, progress: bool, nan_to: float | None = None,
                    note: Callable[[str], None] | None = None) -> Iterator[np.ndarray]:
    it: Any = range(src.n)
    if progress:
        from tqdm import tqdm

        it = tqdm(it, desc="import", unit="frame")
    replaced = frames = 0
    for k in it:
        a = np.asarray(src.read(k))
        if a.dtype.kind not in "fiub":
            file, label = src.where(k)
            raise FileFormatError(file, f"{label}: dtype {a.dtype} is not a number type")
        a = a.astype(np.float32)
        what = non_finite(a)
        if what is not None and nan_to is None:
            file, label = src.where(k)
            raise FileFormatError(file, f"{label}: {what}; replace them with {{nan_to}}", nan_to="nan_to=0.0")
        if what is not None:
            bad = ~np.isfinite(a)
            replaced, frames = replaced + int(bad.sum()), frames + 1
            a[bad] = nan_to
        yield a
    if replaced:
        text = f"replaced {replaced} NaN or infinite values in {frames} of {src.n} frames with {nan_to:g}"
        (note or logging.getLogger("hyperinr").warning)(text)


def import_dataset(
    inputs: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    kind: str = "auto",
    opts: ImportOptions | None = None,
    overwrite: bool = False,
    progress: bool = True,
    note: Callable[[str], None] | None = None,
) -> Path:
    """Turn ``inputs`` into the dataset file ``out``, atomically; an existing ``out`` needs ``overwrite``.
    ``note`` receives what the user should know of a finished import (values replaced with ``nan_to``;
    default: a warning on the ``hyperinr`` logger).

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
        names_found = None
        if opts.params is not None:
            params = params_array(opts.params, src.n, where, "given parameters")
        elif opts.name_pattern is not None:
            params, names_found = params_from_names(src, opts.name_pattern)
        elif src.params is not None:
            params = src.params
        else:
            params = np.arange(src.n, dtype=np.float64)[:, None]
        d = params.shape[1]
        names = opts.param_names or names_found or src.param_names
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
        if opts.nan_to is not None:
            if not np.isfinite(opts.nan_to):
                raise HyperINRError(f"the value that replaces NaN must be finite, got {opts.nan_to}")
            attrs["nan_to"] = float(opts.nan_to)  # provenance: the data had holes, filled with this
        frames = _checked_frames(src, progress, opts.nan_to, note)
        write_dataset(out, opts.task, names, lo, hi, params, frames, train, attrs)
    finally:
        src.close()
    return out
