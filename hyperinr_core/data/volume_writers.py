"""Volumes out, in formats other tools open: ``.npy``, raw + JSON sidecar, VTK's HDF5 format ``.vtkhdf``,
NetCDF-4, VTK XML ImageData (``.vti``, ``.pvd``) and OME-Zarr (``.zarr``).

A writer takes the frames of one volume or of a parameter sweep one at a time (memory stays one frame),
writes them to a temporary file (or folder) beside the target, and moves it into place only once complete
(:meth:`VolumeWriter.close`); :meth:`VolumeWriter.abort` (or an exception inside ``with``) removes the
temporary. Formats on an optional library (VTK, Zarr) are refused with one line naming the pip extra before
anything is created (:func:`check_volume_output`).

Arrays are ``(Z, Y, X)`` float32 in data units, X fastest, node-centred on [0, 1]^3 as everywhere
in the program.

- ``.npy``: one volume ``(Z, Y, X)``, or a sweep ``(S, Z, Y, X)``; the parameter values go to a JSON file
  beside it (``OUT.npy.json``).
- ``.raw``: float32 little-endian, frames back to back, with the sidecar ``OUT.raw.json`` that ``hyperinr
  data import`` reads (``dims`` X-fastest, ``dtype``, ``endianness``, ``frames``, ``param_names``,
  ``params``): a decoded sweep imports back as a dataset.
- ``.vtkhdf``: VTKHDF ImageData (version 2.0), read natively by ParaView >= 5.12 and VTK >= 9.3, written
  with h5py alone. A sweep is one temporal file whose time values are the swept parameter's.
- ``.nc``: NetCDF-4 (``h5netcdf``, on h5py) with CF conventions: dimensions ``(z, y, x)``, or
  ``(NAME, z, y, x)`` for a sweep of parameter NAME, each with its coordinate variable (the spatial ones
  node-centred on [0, 1]); the other parameters' values are attributes of the data variable. xarray opens it
  as a labelled array.
- ``.vti`` (one volume) and ``.pvd`` (a ParaView collection of ``.vti`` frames in ``OUT_data/``, timesteps =
  the swept parameter): :mod:`hyperinr_core.data.vtk_writer`, with the ``vtk`` package.
- ``.zarr``: OME-Zarr (NGFF 0.4) for napari and ``ome_zarr``, axes ``(t,) z, y, x``, the parameters in the
  attribute ``hyperinr``: :mod:`hyperinr_core.data.zarr_writer`, with ``zarr``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hyperinr_core.data.optional_libs import require_vtk, require_zarr
from hyperinr_core.data.volume_writer_base import VolumeWriter, swept_parameter
from hyperinr_core.data.vtk_writer import PvdWriter, VtiWriter
from hyperinr_core.data.zarr_writer import OmeZarrWriter
from hyperinr_core.errors import HyperINRError

__all__ = ["VOLUME_SUFFIXES", "VolumeWriter", "check_volume_output", "open_volume_writer"]

VOLUME_SUFFIXES = (".npy", ".raw", ".vtkhdf", ".nc", ".vti", ".pvd", ".zarr")


class NpyWriter(VolumeWriter):
    def _open(self) -> None:
        full = self.shape if self.n == 1 else (self.n, *self.shape)
        self._mm = np.lib.format.open_memmap(self.tmp, mode="w+", dtype=np.float32, shape=full)

    def _write(self, k, frame):
        if self.n == 1:
            self._mm[...] = frame
        else:
            self._mm[k] = frame

    def _finish(self):
        self._mm.flush()
        del self._mm
        self._write_sidecar(self.path.with_name(self.path.name + ".json"), self.sidecar())


class RawWriter(VolumeWriter):
    def _open(self) -> None:
        self._f = open(self.tmp, "wb")

    def _write(self, k, frame):
        self._f.write(np.ascontiguousarray(frame, dtype="<f4").tobytes())

    def _finish(self):
        self._f.close()
        meta = {"dims": list(self.shape[::-1]), "dtype": "float32", "endianness": "little", "offset": 0,
                "frames": self.n, **self.sidecar()}
        self._write_sidecar(self.path.with_name(self.path.name + ".json"), meta)

    def abort(self):
        if getattr(self, "_f", None) is not None:
            self._f.close()
        super().abort()


class _FileWriter(VolumeWriter):
    """A writer whose temporary is an open HDF5-based file ``self._file`` holding one array ``self._data``
    (``(S, Z, Y, X)`` for a sweep, ``(Z, Y, X)`` for one volume)."""

    _file = None
    _data = None

    def _write(self, k, frame):
        if self.n > 1:
            self._data[k, ...] = frame
        else:
            self._data[...] = frame

    def _finish(self):
        file, self._file = self._file, None
        try:
            file.close()
        except BaseException:
            _forget(file)
            raise

    def abort(self):
        super().abort()  # the temporary goes first, whatever closing the file does
        file, self._file = self._file, None
        if file is not None:
            try:
                file.close()
            except Exception:  # noqa: BLE001 - a write error already reported
                _forget(file)


def _forget(file) -> None:
    """A file whose close failed (a full disk) is never closed again: HDF5 crashes on a second try, and
    h5netcdf's ``__del__`` would make it at exit. Its temporary is already gone."""
    if hasattr(file, "_closed"):  # h5netcdf.File: the flag its close() and __del__ check
        file._closed = True


class VtkHdfWriter(_FileWriter):
    """VTKHDF 2.0 ImageData: the unit cube, node-centred; a sweep as a temporal file (``Steps``)."""

    def _open(self) -> None:
        import h5py

        z, y, x = self.shape
        self._file = h5py.File(self.tmp, "w")
        root = self._file.create_group("VTKHDF")
        root.attrs["Version"] = np.array([2, 0], dtype=np.int64)
        root.attrs.create("Type", np.bytes_("ImageData"))
        root.attrs["WholeExtent"] = np.array([0, x - 1, 0, y - 1, 0, z - 1], dtype=np.int64)
        root.attrs["Origin"] = np.zeros(3)
        root.attrs["Spacing"] = np.array([1.0 / max(n - 1, 1) for n in (x, y, z)])
        root.attrs["Direction"] = np.eye(3).reshape(-1)
        point = root.create_group("PointData")
        temporal = self.n > 1
        full = (self.n, z, y, x) if temporal else (z, y, x)
        self._data = point.create_dataset(self.name, shape=full, dtype=np.float32,
                                          chunks=(1, z, y, x) if temporal else None)
        if temporal:
            steps = root.create_group("Steps")
            steps.attrs["NSteps"] = np.int64(self.n)
            steps.create_dataset("Values", data=self.values[:, 0])
            offsets = steps.create_group("PointDataOffsets")
            offsets.create_dataset(self.name, data=np.arange(self.n, dtype=np.int64))
            self._file.attrs["param_names"] = json.dumps(self.names)
            self._file.attrs["params"] = json.dumps(self.values.tolist())


class NetCDFWriter(_FileWriter):
    """NetCDF-4 / CF-1.8 through h5netcdf: one variable, its grid and (for a sweep) parameter coordinates."""

    def _open(self) -> None:
        import h5netcdf

        z, y, x = self.shape
        self._file = nc = h5netcdf.File(self.tmp, "w")
        nc.attrs["Conventions"] = "CF-1.8"
        nc.attrs["source"] = "hyperinr decode"
        sweep = self._swept()
        dims = {"z": z, "y": y, "x": x}
        if sweep is not None:
            dims = {self.names[sweep]: self.n, **dims}
        nc.dimensions = dims
        for axis, size in (("x", x), ("y", y), ("z", z)):
            v = nc.create_variable(axis, (axis,), np.float64, data=np.linspace(0.0, 1.0, size))
            v.attrs["long_name"] = f"{axis} coordinate, node-centred on the unit cube"
            v.attrs["units"] = "1"
            v.attrs["axis"] = axis.upper()
        if sweep is not None:
            name = self.names[sweep]
            v = nc.create_variable(name, (name,), np.float64, data=self.values[:, sweep])
            v.attrs["long_name"] = f"model parameter {name}"
        var_dims = tuple(dims)
        chunks = (1, z, y, x) if sweep is not None else (z, y, x)
        self._data = nc.create_variable(self.name, var_dims, np.float32, chunks=chunks)
        self._data.attrs["long_name"] = self.name
        for j, name in enumerate(self.names):  # the parameters held fixed
            if j != sweep:
                self._data.attrs[name] = float(self.values[0, j])

    def _swept(self) -> int | None:
        return swept_parameter(self.path, self.names, self.values, "NetCDF")


def _writers() -> dict[str, type[VolumeWriter]]:
    return {".npy": NpyWriter, ".raw": RawWriter, ".vtkhdf": VtkHdfWriter, ".nc": NetCDFWriter,
            ".vti": VtiWriter, ".pvd": PvdWriter, ".zarr": OmeZarrWriter}


def check_volume_output(path: str | os.PathLike, frames: int = 1) -> None:
    """Refuse, before any decoding, what :func:`open_volume_writer` would: an unknown suffix, a format whose
    library is missing (one line naming the pip extra), a sweep of ``frames`` > 1 to a one-volume format."""
    suffix = Path(path).suffix.lower()
    if suffix not in VOLUME_SUFFIXES:
        raise HyperINRError(f"{path}: unknown volume format {suffix or '(no suffix)'!r}; give one of "
                            f"{', '.join(VOLUME_SUFFIXES)}")
    if suffix in (".vti", ".pvd"):
        require_vtk(f"writing {suffix}")
    elif suffix == ".zarr":
        require_zarr("writing .zarr")
    if suffix == ".vti" and frames > 1:
        raise HyperINRError(f"{path}: a .vti file holds one volume; write the sweep of {frames} as a "
                            "ParaView collection (.pvd)")


def open_volume_writer(path: str | os.PathLike, shape: Sequence[int], param_names: Sequence[str],
                       values: np.ndarray, name: str = "value") -> VolumeWriter:
    """The writer for ``path``'s suffix (:data:`VOLUME_SUFFIXES`); ``values (S, D)`` are the frames'
    parameters in user units (one row for a single volume). What cannot be written (see
    :func:`check_volume_output`) is refused before anything is created."""
    check_volume_output(path, len(values))
    return _writers()[Path(path).suffix.lower()](path, shape, param_names, values, name)
