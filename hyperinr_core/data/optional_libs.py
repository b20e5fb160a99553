"""The optional libraries behind some file formats (VTK, Zarr), imported only when such a file is read or
written, so the core installs and imports without them.

A missing (or too old) library is one line naming the pip extra that brings it, raised before any work, never
an ImportError traceback. VTK reports its own errors on stderr through its output window; :func:`quiet_vtk`
silences it while the readers and writers turn failures into one-line errors of their own.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from types import ModuleType

from hyperinr_core.errors import HyperINRError

__all__ = ["require_vtk", "require_zarr", "quiet_vtk"]

ZARR_MIN_MAJOR = 3  # the v3 API (zarr >= 3 needs Python >= 3.11); it reads and writes v2 stores as well


def _extra(what: str, extra: str, library: str) -> HyperINRError:
    return HyperINRError(f'{what} needs the {library} extra: pip install "hyperinr-explorer[{extra}]"')


def require_vtk(what: str) -> None:
    """Raise :class:`HyperINRError` unless the ``vtk`` package imports; ``what`` says what needs it
    (``"reading .vti"``)."""
    try:
        import vtkmodules.vtkIOXML  # noqa: F401
    except ImportError:
        raise _extra(what, "vtk", "VTK") from None


def require_zarr(what: str) -> ModuleType:
    """The ``zarr`` module (version >= 3), or :class:`HyperINRError` naming the extra."""
    try:
        import zarr
    except ImportError:
        raise _extra(what, "zarr", "Zarr") from None
    major = str(getattr(zarr, "__version__", "0")).split(".")[0]
    if not major.isdigit() or int(major) < ZARR_MIN_MAJOR:
        raise HyperINRError(f"{what} needs zarr >= {ZARR_MIN_MAJOR} (Python >= 3.11), found zarr "
                            f'{zarr.__version__}: pip install "hyperinr-explorer[zarr]"')
    return zarr


@contextlib.contextmanager
def quiet_vtk() -> Iterator[None]:
    """VTK's error and warning output off for the block (the caller reports failures itself)."""
    from vtkmodules.vtkCommonCore import vtkObject

    before = vtkObject.GetGlobalWarningDisplay()
    vtkObject.GlobalWarningDisplayOff()
    try:
        yield
    finally:
        vtkObject.SetGlobalWarningDisplay(before)
