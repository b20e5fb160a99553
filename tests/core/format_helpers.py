"""VTK files written and read with VTK alone, the reference the format tests hold our readers and writers to
(import vtk only where these are called)."""

from __future__ import annotations

import numpy as np


def vtk_image(frame: np.ndarray, name: str = "density", spacing=(0.5, 0.5, 0.5)):
    """A vtkImageData of a (Z, Y, X) frame, built with VTK alone (the reference, not our writer)."""
    from vtkmodules.util.numpy_support import numpy_to_vtk
    from vtkmodules.vtkCommonDataModel import vtkImageData

    img = vtkImageData()
    z, y, x = frame.shape
    img.SetDimensions(x, y, z)
    img.SetSpacing(*spacing)
    arr = numpy_to_vtk(np.ascontiguousarray(frame).reshape(-1), deep=True)
    arr.SetName(name)
    img.GetPointData().AddArray(arr)
    img.GetPointData().SetActiveScalars(name)
    return img


def write_vti_with_vtk(path, frame: np.ndarray, name: str = "density") -> None:
    write_image(path, vtk_image(frame, name))


def write_pvd(path, entries) -> None:
    """A ParaView collection of (timestep, relative file) entries, in the order given."""
    rows = "".join(f'    <DataSet timestep="{t}" group="" part="0" file="{f}"/>\n' for t, f in entries)
    path.write_text('<?xml version="1.0"?>\n<VTKFile type="Collection" version="0.1">\n  <Collection>\n'
                    f"{rows}  </Collection>\n</VTKFile>\n")


def read_vti(path) -> tuple[np.ndarray, object]:
    from vtkmodules.util.numpy_support import vtk_to_numpy
    from vtkmodules.vtkIOXML import vtkXMLImageDataReader

    r = vtkXMLImageDataReader()
    r.SetFileName(str(path))
    r.Update()
    img = r.GetOutput()
    x, y, z = img.GetDimensions()
    return vtk_to_numpy(img.GetPointData().GetScalars()).reshape(z, y, x), img


def write_image(path, img) -> None:
    """Write a vtkImageData as .vti with VTK's own writer."""
    from vtkmodules.vtkIOXML import vtkXMLImageDataWriter

    w = vtkXMLImageDataWriter()
    w.SetFileName(str(path))
    w.SetInputData(img)
    assert w.Write() == 1
