"""VTK ImageData in (the ``vtk`` package, the ``[vtk]`` extra): ``.vti`` files, legacy structured points
``.vtk``, and ParaView collections ``.pvd`` of ``.vti`` frames.

Each ``.vti``/``.vtk`` file is one frame; several files (or a folder of them) are several frames in natural
name order (``f2`` before ``f10``). A ``.pvd`` lists its frames (paths relative to it) with a ``timestep``
each: the frames are taken in timestep order and the timesteps become the parameter ``t``. Only the headers
are read when the source opens (shapes and array names, so a frame of another shape or a missing array fails
before anything is written); each frame's data is read when the importer asks for it, one at a time.

The frame is the point-data scalar array: the one named by ``dataset`` (``--dataset``), else the file's active
scalars, else its only point array. VTK stores X fastest, so a frame of ``dims = (X, Y, Z)`` points is
``array.reshape(Z, Y, X)``, the program's ``(Z, Y, X)`` order with no copy. Spacing and origin are not kept:
the model's domain is the unit cube whatever the grid's extent.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hyperinr_core.data.frame_source import FrameSource, ImportOptions, concat_parts, expand_inputs
from hyperinr_core.data.optional_libs import quiet_vtk, require_vtk
from hyperinr_core.errors import FileFormatError, HyperINRError

__all__ = ["VTK_SUFFIXES", "vtk_source", "read_pvd"]

FRAME_SUFFIXES = {".vti", ".vtk"}
VTK_SUFFIXES = FRAME_SUFFIXES | {".pvd"}


def vtk_source(inputs: Sequence[str | os.PathLike], opts: ImportOptions, is_image: bool) -> FrameSource:
    """The frames of VTK ImageData files or of one ParaView collection (see the module docstring)."""
    paths = [Path(p) for p in inputs]
    pvds = [p for p in paths if p.suffix.lower() == ".pvd"]
    require_vtk(f"reading {(pvds or paths or [Path('x.vti')])[0].suffix or 'VTK files'}")
    if is_image:
        raise HyperINRError("VTK import reads volumes (task tsr or dgs); images import as .npy")
    times = None
    if pvds:
        if len(paths) != 1:
            raise HyperINRError("import one .pvd collection at a time, without other files")
        files, times = read_pvd(paths[0])
    else:
        files = expand_inputs(paths, FRAME_SUFFIXES)
    with quiet_vtk():
        probes = [_probe(f) for f in files]
    wanted = opts.dataset
    first = probes[0]
    if first[1] is not None:
        wanted = choose_array(files[0], first[1], first[2], opts.dataset)
    for f, (_, names, _) in zip(files, probes, strict=True):
        if names is not None and wanted is not None and wanted not in names:
            raise FileFormatError(f, f"has no point array {wanted!r} (it has: {', '.join(names) or 'none'})")
    parts = [(str(f), f.name, 1, shape, (lambda j, f=f, shape=shape: _read_frame(f, shape, wanted)))
             for f, (shape, _, _) in zip(files, probes, strict=True)]
    n, shape, read, where = concat_parts(parts)
    params = None if times is None else times[:, None]
    return FrameSource(n, shape, read, where, params=params, param_names=None if times is None else ["t"])


def read_pvd(pvd: Path) -> tuple[list[Path], np.ndarray | None]:
    """The ``.vti`` frames a ParaView collection lists, in timestep order, and their timesteps (None when
    the collection gives none)."""
    if not pvd.is_file():
        raise FileFormatError(pvd, "no such file")
    try:
        root = ET.parse(pvd).getroot()
    except (ET.ParseError, OSError) as exc:
        raise FileFormatError(pvd, f"not a readable ParaView collection ({exc})") from None
    if root.tag != "VTKFile" or root.get("type") != "Collection":
        raise FileFormatError(pvd, 'not a ParaView collection (no <VTKFile type="Collection">)')
    entries = root.findall("./Collection/DataSet")
    if not entries:
        raise FileFormatError(pvd, "the collection lists no DataSet")
    rows: list[tuple[float | None, Path]] = []
    for e in entries:
        ref = e.get("file")
        if not ref:
            raise FileFormatError(pvd, "a DataSet has no file attribute")
        path = pvd.parent / ref
        if path.suffix.lower() != ".vti":
            raise FileFormatError(pvd, f"references {ref}: only ImageData frames (.vti) are read")
        if not path.is_file():
            raise FileFormatError(pvd, f"references {ref}, which does not exist")
        step = e.get("timestep")
        try:
            rows.append((None if step is None else float(step), path))
        except ValueError:
            raise FileFormatError(pvd, f"DataSet {ref}: timestep {step!r} is not a number") from None
    steps = [t for t, _ in rows]
    if all(t is None for t in steps):
        return [p for _, p in rows], None
    if any(t is None for t in steps):
        raise FileFormatError(pvd, "some DataSets have a timestep and some do not")
    if len(set(steps)) != len(steps):
        raise FileFormatError(pvd, "several DataSets share a timestep (parts of one mesh?); import needs one "
                              "frame a timestep")
    rows.sort(key=lambda r: r[0])
    return [p for _, p in rows], np.array([t for t, _ in rows], dtype=np.float64)


def choose_array(file: Path, names: list[str], active: str | None, wanted: str | None) -> str:
    """The point array that is the frame: ``wanted``, else the active scalars, else the only one."""
    if wanted is not None:
        if wanted not in names:
            raise FileFormatError(
                file, f"has no point array {wanted!r} (it has: {', '.join(names) or 'none'})"
            )
        return wanted
    if active:
        return active
    if len(names) == 1:
        return names[0]
    if not names:
        raise FileFormatError(file, "holds no point-data array")
    raise FileFormatError(file, f"holds several point arrays ({', '.join(names)}) and none is the active "
                          "scalars; choose one with {dataset}", dataset="dataset=NAME")


def _reader(f: Path):
    if f.suffix.lower() == ".vtk":
        from vtkmodules.vtkIOLegacy import vtkStructuredPointsReader

        r = vtkStructuredPointsReader()
        r.ReadAllScalarsOn()
        r.ReadAllFieldsOn()
    else:
        from vtkmodules.vtkIOXML import vtkXMLImageDataReader

        r = vtkXMLImageDataReader()
    r.SetFileName(str(f))
    return r


def _probe(f: Path) -> tuple[tuple[int, int, int], list[str] | None, str | None]:
    """(Z, Y, X), point-array names (None: known only once read) and active scalars, from the header."""
    from vtkmodules.vtkCommonDataModel import vtkDataObject, vtkDataSetAttributes
    from vtkmodules.vtkCommonExecutionModel import vtkStreamingDemandDrivenPipeline

    r = _reader(f)
    legacy = f.suffix.lower() == ".vtk"
    if legacy and not r.IsFileStructuredPoints():
        raise FileFormatError(f, "not a legacy VTK structured-points (ImageData) file")
    if not legacy and not r.CanReadFile(str(f)):
        raise FileFormatError(f, "not a readable VTK XML ImageData file (damaged, or another dataset type?)")
    r.UpdateInformation()
    info = r.GetOutputInformation(0)
    ext = info.Get(vtkStreamingDemandDrivenPipeline.WHOLE_EXTENT())
    if ext is None or ext[1] < ext[0] or ext[3] < ext[2] or ext[5] < ext[4]:
        raise FileFormatError(f, "not a readable VTK ImageData file: it gives no extent (damaged?)")
    x, y, z = ext[1] - ext[0] + 1, ext[3] - ext[2] + 1, ext[5] - ext[4] + 1
    if min(x, y, z) < 2:
        raise FileFormatError(f, f"2-D image data ({x} x {y} x {z} points): import reads 3-D volumes")
    if legacy:
        names = [r.GetScalarsNameInFile(i) for i in range(r.GetNumberOfScalarsInFile())]
        return (z, y, x), None, names[0] if names else None
    names = [r.GetPointArrayName(i) for i in range(r.GetNumberOfPointArrays())]
    field = vtkDataObject.GetActiveFieldInformation(info, vtkDataObject.FIELD_ASSOCIATION_POINTS,
                                                    vtkDataSetAttributes.SCALARS)
    active = field.Get(vtkDataObject.FIELD_NAME()) if field is not None else None
    return (z, y, x), names, active if active in names else None


def _read_frame(f: Path, shape: tuple[int, int, int], wanted: str | None) -> np.ndarray:
    from vtkmodules.util.numpy_support import vtk_to_numpy

    with quiet_vtk():
        r = _reader(f)
        r.Update()
        img = r.GetOutput()
    dims = tuple(img.GetDimensions()) if img is not None else (0, 0, 0)
    if dims[::-1] != shape:
        raise FileFormatError(f, f"not readable as the {shape[2]} x {shape[1]} x {shape[0]} points its "
                              "header gives (damaged?)")
    pd = img.GetPointData()
    names = [pd.GetArrayName(i) for i in range(pd.GetNumberOfArrays())]
    scalars = pd.GetScalars()
    name = choose_array(f, names, scalars.GetName() if scalars is not None else None, wanted)
    arr = pd.GetArray(name)
    if arr is None:  # the header names it, the data does not hold it
        raise FileFormatError(f, f"point array {name!r} could not be read (damaged?)")
    if arr.GetNumberOfComponents() != 1:
        raise FileFormatError(f, f"point array {name!r} has {arr.GetNumberOfComponents()} components; "
                              "import takes a scalar field (one component)")
    a = vtk_to_numpy(arr)
    if a.size != int(np.prod(shape)):
        raise FileFormatError(f, f"point array {name!r} holds {a.size} values for {int(np.prod(shape))} "
                              "points (damaged?)")
    return a.reshape(shape)
