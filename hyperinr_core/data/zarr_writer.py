"""Volumes out as OME-Zarr (NGFF 0.4), written with ``zarr`` itself (>= 3, the ``[zarr]`` extra), for napari,
``ome_zarr``, xarray, Fiji/BigDataViewer and cloud tools.

The store is a folder ``OUT.zarr`` (Zarr v2 layout, as NGFF 0.4 asks): one image, one resolution level (its
array ``0``), axes ``z, y, x`` (type space), preceded by ``t`` (type time) for a sweep, chunked one frame a
chunk. ``coordinateTransformations`` scale the space axes by ``1/(n-1)`` (the unit cube, node-centred, as
everywhere in the program); along ``t`` a sweep whose one varying parameter is evenly spaced gets its step
as the scale and its first value as the translation, so readers show parameter values; otherwise ``t``
counts frames. The exact values of every parameter at every frame are the group attribute ``hyperinr``
(``param_names``, ``params``), which ``hyperinr data import`` takes back; the array's ``_ARRAY_DIMENSIONS``
lets xarray open it as well.

The store is built in a hidden folder beside the target and renamed into place on close (a store it
replaces steps aside only then); an abort removes it. Frames are written as they come: memory holds one.
"""

from __future__ import annotations

import numpy as np

from hyperinr_core.data.optional_libs import require_zarr
from hyperinr_core.data.volume_writer_base import VolumeWriter

__all__ = ["OmeZarrWriter", "NGFF_VERSION"]

NGFF_VERSION = "0.4"


class OmeZarrWriter(VolumeWriter):
    """One volume or a sweep as an OME-Zarr image (see the module docstring)."""

    tmp_is_folder = True

    def _preflight(self) -> None:
        self._zarr = require_zarr("writing .zarr")

    def _open(self) -> None:
        import numcodecs

        sweep = self.n > 1
        shape = (self.n, *self.shape) if sweep else self.shape
        root = self._zarr.open_group(str(self.tmp), mode="w", zarr_format=2)
        self._data = root.create_array(
            "0", shape=shape, chunks=(1, *self.shape) if sweep else self.shape, dtype="float32",
            fill_value=0.0,
            compressors=numcodecs.Blosc(cname="zstd", clevel=3, shuffle=numcodecs.Blosc.SHUFFLE),
            chunk_key_encoding={"name": "v2", "separator": "/"},
        )
        dims = (["t"] if sweep else []) + ["z", "y", "x"]
        self._data.attrs["_ARRAY_DIMENSIONS"] = dims
        root.attrs.update({"multiscales": [self._multiscales(dims)],
                           "hyperinr": {"param_names": self.names, "params": self.values.tolist(),
                                        "quantity": self.name}})

    def _multiscales(self, dims: list[str]) -> dict:
        axes = [{"name": d, "type": "time" if d == "t" else "space"} for d in dims]
        scale = [1.0 / max(n - 1, 1) for n in self.shape]
        shift = [0.0, 0.0, 0.0]
        if self.n > 1:
            step, first = self._time_axis()
            scale, shift = [step, *scale], [first, *shift]
        transforms = [{"type": "scale", "scale": scale}]
        if any(shift):
            transforms.append({"type": "translation", "translation": shift})
        return {"version": NGFF_VERSION, "name": self.name, "axes": axes,
                "datasets": [{"path": "0", "coordinateTransformations": transforms}],
                "metadata": {"description": "hyperinr decode: a HyperINR model's volumes, in data units"}}

    def _time_axis(self) -> tuple[float, float]:
        """(step, first value) along ``t``: the one varying parameter's, when evenly spaced; else (1, 0)."""
        varying = [j for j in range(len(self.names)) if np.ptp(self.values[:, j]) > 0]
        if len(varying) == 1:
            v = self.values[:, varying[0]]
            step = np.diff(v)
            tol = 1e-12 * float(np.abs(v).max())
            if np.all(step > 0) and np.allclose(step, step[0], rtol=1e-9, atol=tol):
                return float(step[0]), float(v[0])
        return 1.0, 0.0

    def _write(self, k: int, frame: np.ndarray) -> None:
        if self.n > 1:
            self._data[k] = frame
        else:
            self._data[...] = frame
