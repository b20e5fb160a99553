"""TIFF stacks in (``tifffile``): one multi-page ``ZYX`` file per frame, or ``TZYX`` files of several frames.

A file's first series gives the frames: 3-D (``ZYX``, one frame; pages are the Z slices) or 4-D (``TZYX``,
frames along T). Frames are read one at a time (the pages of that frame only). Where the file says when its
frames were taken, that becomes the parameter ``t``: OME-TIFF's ``TimeIncrement`` (times ``j * increment``)
or ImageJ's ``finterval``; otherwise the importer's own rules apply (file names, ``--params``, indices).
Files are taken in natural name order (``f2`` before ``f10``); all frames must have one shape.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence

import numpy as np

from hyperinr_core.data.frame_source import FrameSource, concat_parts, expand_inputs
from hyperinr_core.errors import FileFormatError, HyperINRError

__all__ = ["TIFF_SUFFIXES", "tiff_source"]

TIFF_SUFFIXES = {".tif", ".tiff"}


def _frame_interval(tif) -> float | None:
    """Seconds (or the file's time unit) between frames, from OME or ImageJ metadata; None if not given."""
    if getattr(tif, "is_ome", False) and tif.ome_metadata:
        m = re.search(r'TimeIncrement="([0-9.eE+-]+)"', tif.ome_metadata)
        if m:
            return float(m.group(1))
    meta = getattr(tif, "imagej_metadata", None) or {}
    if "finterval" in meta:
        return float(meta["finterval"])
    return None


def tiff_source(inputs: Sequence[str | os.PathLike], is_image: bool) -> FrameSource:
    """The frames of TIFF files (see the module docstring)."""
    try:
        import tifffile
    except ImportError:  # pragma: no cover - tifffile comes with scikit-image and imageio
        raise HyperINRError("reading TIFF needs tifffile: pip install tifffile") from None
    if is_image:
        raise HyperINRError("TIFF import reads volume stacks (task tsr or dgs); images import as .npy")
    quiet = logging.getLogger("tifffile")  # it logs what it cannot read; the error below says it once
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    try:
        return _source(tifffile, inputs)
    finally:
        quiet.setLevel(level)


def _source(tifffile, inputs) -> FrameSource:
    parts, files, times = [], [], []
    for f in expand_inputs(inputs, TIFF_SUFFIXES):
        try:
            tif = tifffile.TiffFile(f)
            if not tif.series:
                raise FileFormatError(f, "not a readable TIFF file: it holds no image (damaged?)")
            series = tif.series[0]
            shape, axes = tuple(int(s) for s in series.shape), series.axes
        except FileFormatError:
            raise
        except Exception as exc:  # tifffile raises many kinds on damaged input
            raise FileFormatError(f, f"not a readable TIFF file ({type(exc).__name__}: {exc})") from None
        files.append(tif)
        kept = [(s, a) for s, a in zip(shape, axes) if not (s == 1 and a not in "ZYX")]  # drop C=1, Q=1...
        shape, axes = tuple(s for s, _ in kept), "".join(a for _, a in kept)
        if len(shape) == 3:
            count, frame = 1, shape
        elif len(shape) == 4:
            count, frame = shape[0], shape[1:]
        else:
            raise FileFormatError(f, f"series of shape {shape} ({axes}) is neither a ZYX stack nor TZYX frames")
        pages = int(np.prod(frame[:-2]))

        def read(j, tif=tif, pages=pages, frame=frame, single=count == 1):
            data = tif.asarray(series=0) if single else tif.asarray(series=0, key=range(j * pages, (j + 1) * pages))
            return np.asarray(data).reshape(frame)

        parts.append((str(f), f.name, count, frame, read))
        dt = _frame_interval(tif)
        times.append(None if dt is None else dt * np.arange(count, dtype=np.float64))
    n, shape, read, where = concat_parts(parts)

    def close() -> None:
        for tif in files:
            tif.close()

    params = None
    if times and all(t is not None for t in times) and len(times) == 1:
        params = times[0][:, None]
    return FrameSource(n, shape, read, where, params=params, param_names=["t"] if params is not None else None,
                       close=close)
