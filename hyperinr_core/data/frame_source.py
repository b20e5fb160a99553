"""Frame sources: the frames of some user input, known by shape before any is read, and the helpers that
stack them (docs/ARCHITECTURE.md, "Files users hand the program")."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hyperinr_core.errors import FileFormatError, HyperINRError

KINDS = ("npy", "npz", "raw", "hdf5", "tiff", "vtk", "zarr")
HDF5_SUFFIXES = {".h5", ".hdf5", ".hdf", ".he5", ".nc", ".nc4"}
RAW_SUFFIXES = {".raw", ".bin", ".dat", ".vol"}


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
    name_pattern: str | None = None  # regular expression; its groups in each file's name give the parameters
    nan_to: float | None = None  # the value that replaces NaN and +-Inf in frames (None: they are an error)
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
def frames_in(shape: tuple[int, ...], is_image: bool) -> tuple[int, tuple[int, ...]] | None:
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


def concat_parts(parts: list[tuple[str, str, int, tuple[int, ...], Callable[[int], np.ndarray]]]) -> tuple:
    """Chain parts (file, label, count, frame shape, read(j)) into one indexable sequence of frames."""
    if not parts:
        raise HyperINRError("no input frames found")
    shape0, file0 = parts[0][3], parts[0][0]
    for file, label, _, shape, _ in parts:
        if shape != shape0:
            where = "" if label in (file, os.path.basename(file)) else f"{label}: "  # the file already leads
            raise FileFormatError(file, f"{where}frame shape {shape} differs from {shape0} in {file0}")
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


def params_array(values: Any, n: int, file: str, what: str) -> np.ndarray:
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




def expand_inputs(inputs: Sequence[str | os.PathLike], suffixes: set[str]) -> list[Path]:
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


def params_from_names(src: FrameSource, pattern: str) -> tuple[np.ndarray, list[str] | None]:
    """Parameters ``(N, D)`` read from the file names of ``src``'s frames by ``pattern``: a regular expression
    whose named groups (``t_(?P<t>[0-9.]+)``) or plain groups hold numbers; one frame per file."""
    try:
        rx = re.compile(pattern)
    except re.error as exc:
        raise HyperINRError(f"{{params_from_name}} {pattern!r}: not a regular expression ({exc})",
                            params_from_name="params_from_name") from None
    if rx.groups == 0:
        raise HyperINRError(f"{{params_from_name}} {pattern!r}: give a group around each number, e.g. "
                            "'t_(?P<t>[0-9.]+)'", params_from_name="params_from_name")
    named = sorted(rx.groupindex.items(), key=lambda kv: kv[1])
    groups = [i for _, i in named] if named else list(range(1, rx.groups + 1))
    rows, seen = [], {}
    for k in range(src.n):
        file, _ = src.where(k)
        name = os.path.basename(file)
        if file in seen:
            raise FileFormatError(file, "holds several frames: parameters from file names need one frame a file")
        seen[file] = k
        m = rx.search(name)
        if m is None:
            raise FileFormatError(file, f"the name does not match {pattern!r}")
        try:
            rows.append([float(m.group(g)) for g in groups])
        except (TypeError, ValueError):
            raise FileFormatError(file, f"{pattern!r} matched {m.group(0)!r}, which holds no number") from None
    return np.asarray(rows, dtype=np.float64), ([n for n, _ in named] if named else None)
