"""Volumes out as VTK XML ImageData (the ``vtk`` package, the ``[vtk]`` extra), for ParaView and VTK.

- ``.vti``: one volume, written by VTK's own ``vtkXMLImageDataWriter`` (binary appended data, zlib), the
  grid spanning the unit cube node-centred (origin 0, spacing ``1/(n-1)`` per axis), the point-data array
  named like the quantity (``value``, ``transmittance``) and active; the frame's parameter values are field
  data (one value each). A sweep is refused: a ``.vti`` holds one time step.
- ``.pvd``: a ParaView collection: ``OUT.pvd`` lists ``OUT_data/OUT_0000.vti ...`` (one ``.vti`` a frame,
  paths relative to the ``.pvd``), each ``<DataSet timestep=...>`` the swept parameter's value, which
  ParaView shows as time. A sweep varies one parameter (as in NetCDF).

Both go through the temporaries of :class:`~hyperinr_core.data.volume_writer_base.VolumeWriter`: the ``.pvd``
and its frames' folder are written under hidden names beside the targets and moved into place (folder first)
only once complete; an abort removes both. The library is checked before anything is created, so a missing
``vtk`` is one line before any decoding.
"""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import quoteattr

import numpy as np

from hyperinr_core.data.optional_libs import quiet_vtk, require_vtk
from hyperinr_core.data.volume_writer_base import VolumeWriter, swept_parameter
from hyperinr_core.errors import HyperINRError

__all__ = ["VtiWriter", "PvdWriter", "write_vti"]


def write_vti(path: Path, frame: np.ndarray, name: str, params: dict[str, float], shown: Path) -> None:
    """Write one ``(Z, Y, X)`` float32 frame to ``path`` as ImageData on the unit cube (``shown``: the name
    an error gives)."""
    from vtkmodules.util.numpy_support import numpy_to_vtk
    from vtkmodules.vtkCommonCore import vtkDoubleArray
    from vtkmodules.vtkCommonDataModel import vtkImageData
    from vtkmodules.vtkIOXML import vtkXMLImageDataWriter

    z, y, x = frame.shape
    img = vtkImageData()
    img.SetDimensions(x, y, z)
    img.SetOrigin(0.0, 0.0, 0.0)
    img.SetSpacing(*(1.0 / max(n - 1, 1) for n in (x, y, z)))
    flat = np.ascontiguousarray(frame, dtype=np.float32).reshape(-1)  # X fastest, as VTK counts points
    arr = numpy_to_vtk(flat, deep=False)  # a view: ``flat`` outlives the write below
    arr.SetName(name)
    img.GetPointData().AddArray(arr)
    img.GetPointData().SetActiveScalars(name)
    for key, value in params.items():
        a = vtkDoubleArray()
        a.SetName(key)
        a.InsertNextValue(float(value))
        img.GetFieldData().AddArray(a)
    w = vtkXMLImageDataWriter()
    w.SetFileName(str(path))
    w.SetInputData(img)
    w.SetDataModeToAppended()
    w.EncodeAppendedDataOff()
    w.SetCompressorTypeToZLib()
    with quiet_vtk():
        ok = w.Write()
    if not ok:
        from vtkmodules.vtkCommonCore import vtkErrorCode

        raise HyperINRError(f"{shown}: VTK could not write it "
                            f"({vtkErrorCode.GetStringFromErrorCode(w.GetErrorCode())})")


class _VtkWriter(VolumeWriter):
    def _params(self, k: int) -> dict[str, float]:
        """Frame ``k``'s parameter values by name (field data of its ``.vti``)."""
        return dict(zip(self.names, self.values[k].tolist(), strict=True))


class VtiWriter(_VtkWriter):
    """One volume as a ``.vti`` file."""

    def _preflight(self) -> None:
        require_vtk("writing .vti")
        if self.n != 1:
            raise HyperINRError(f"{self.path}: a .vti file holds one volume; write the sweep of {self.n} "
                                "as a ParaView collection (.pvd)")

    def _write(self, k: int, frame: np.ndarray) -> None:
        write_vti(self.tmp, frame, self.name, self._params(k), self.path)


class PvdWriter(_VtkWriter):
    """A sweep (or one volume) as ``OUT.pvd`` plus the folder ``OUT_data/`` of its frames."""

    def _preflight(self) -> None:
        require_vtk("writing .pvd")
        self.swept = swept_parameter(self.path, self.names, self.values, "ParaView collection")
        self.data_dir = self.path.with_name(f"{self.path.stem}_data")
        if (self.data_dir.exists() or self.data_dir.is_symlink()) and not self.path.exists():
            raise HyperINRError(f"{self.data_dir}: exists and is not the frames' folder of {self.path}; "
                                "move it away or choose another name")

    def _open(self) -> None:
        self._frames_tmp = self._companion(self.data_dir, folder=True)
        self._digits = max(4, len(str(self.n - 1)))

    def frame_name(self, k: int) -> str:
        return f"{self.path.stem}_{k:0{self._digits}d}.vti"

    def _write(self, k: int, frame: np.ndarray) -> None:
        shown = self.data_dir / self.frame_name(k)
        write_vti(self._frames_tmp / self.frame_name(k), frame, self.name, self._params(k), shown)

    def timesteps(self) -> np.ndarray:
        """The swept parameter's values; one volume: its one parameter's value, else 0."""
        if self.swept is not None:
            return self.values[:, self.swept]
        return self.values[:, 0] if len(self.names) == 1 else np.zeros(self.n)

    def _finish(self) -> None:
        rows = [f"    <DataSet timestep={quoteattr(repr(float(t)))} group=\"\" part=\"0\" "
                f"file={quoteattr(f'{self.data_dir.name}/{self.frame_name(k)}')}/>"
                for k, t in enumerate(self.timesteps())]
        head = ['<?xml version="1.0"?>',
                '<VTKFile type="Collection" version="0.1" byte_order="LittleEndian">']
        text = "\n".join([*head, "  <Collection>", *rows, "  </Collection>", "</VTKFile>", ""])
        with open(self.tmp, "w", encoding="utf-8") as f:
            f.write(text)
