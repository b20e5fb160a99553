"""VTK ImageData in and out: .vti files and folders, legacy .vtk, .pvd collections; the array that is the
frame; damaged and unsuitable files as one line; writers that leave nothing when stopped; a missing vtk named
as the extra to install."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from hyperinr_app.cli import main
from hyperinr_core.data.dataset import open_dataset
from hyperinr_core.data.importers import import_dataset
from hyperinr_core.data.volume_writers import open_volume_writer
from hyperinr_core.errors import HyperINRError

from .format_helpers import read_vti, vtk_image, write_image, write_pvd, write_vti_with_vtk

pytest.importorskip("vtkmodules.vtkIOXML", reason="needs vtk (pip install 'hyperinr-explorer[vtk]')")

RNG = np.random.default_rng(3)


def frame(shape=(4, 5, 6)) -> np.ndarray:
    return RNG.random(shape, dtype=np.float32)


def test_vti_files_in_natural_order_with_parameters_from_their_names(tmp_path, capsys):
    folder = tmp_path / "vti"
    folder.mkdir()
    frames = {t: frame() for t in (2, 10, 1)}
    for t, f in frames.items():
        write_vti_with_vtk(folder / f"step_{t}.vti", f)
    out = tmp_path / "d.h5"
    assert main(["data", "import", str(folder), "-o", str(out), "--quiet", "--params-from-name",
                 r"step_(?P<time>[0-9]+)\.vti"]) == 0
    with open_dataset(out) as ds:
        assert list(ds.param_names) == ["time"]
        np.testing.assert_array_equal(ds.params[:, 0], [1, 2, 10])  # step_2 before step_10
        for k, t in enumerate((1, 2, 10)):
            np.testing.assert_array_equal(ds.frame(k), frames[t])


def test_legacy_structured_points_and_the_array_chosen_among_several(tmp_path, capsys):
    from vtkmodules.vtkIOLegacy import vtkStructuredPointsWriter
    from vtkmodules.vtkIOXML import vtkXMLImageDataWriter

    a, b = frame(), frame()
    img = vtk_image(a, "rho")
    w = vtkStructuredPointsWriter()
    w.SetFileName(str(tmp_path / "legacy.vtk"))
    w.SetInputData(img)
    w.SetFileTypeToBinary()
    assert w.Write() == 1
    import_dataset([tmp_path / "legacy.vtk"], tmp_path / "l.h5", progress=False)
    with open_dataset(tmp_path / "l.h5") as ds:
        np.testing.assert_array_equal(ds.frame(0), a)

    two = vtk_image(a, "rho")
    two.GetPointData().SetActiveScalars(None)
    extra = vtk_image(b, "temp").GetPointData().GetArray("temp")
    two.GetPointData().AddArray(extra)
    w = vtkXMLImageDataWriter()
    w.SetFileName(str(tmp_path / "two.vti"))
    w.SetInputData(two)
    assert w.Write() == 1
    assert main(["data", "import", str(tmp_path / "two.vti"), "-o", str(tmp_path / "x.h5")]) == 2
    err = capsys.readouterr().err
    assert "two.vti: holds several point arrays (rho, temp)" in err and "--dataset" in err
    assert main(["data", "import", str(tmp_path / "two.vti"), "-o", str(tmp_path / "t.h5"), "--dataset",
                 "temp", "--quiet"]) == 0
    with open_dataset(tmp_path / "t.h5") as ds:
        np.testing.assert_array_equal(ds.frame(0), b)


def _bad_cases(d):
    """(inputs, text the one line must hold) for files the import must refuse."""
    write_vti_with_vtk(d / "flat.vti", frame((1, 5, 6)))
    write_pvd(d / "gap.pvd", [(0.0, "ok.vti"), (1.0, "gone/missing.vti")])
    write_vti_with_vtk(d / "ok.vti", frame())
    (d / "mixed").mkdir()
    write_vti_with_vtk(d / "mixed" / "a_0.vti", frame())
    write_vti_with_vtk(d / "mixed" / "a_1.vti", frame((4, 6, 6)))
    (d / "garbage.vti").write_text("<VTKFile type='ImageData'>not really")
    write_vti_with_vtk(d / "cut.vti", frame((8, 8, 8)))
    data = (d / "cut.vti").read_bytes()
    (d / "cut.vti").write_bytes(data[: len(data) - 600])  # the appended data cut short
    vec = vtk_image(frame(), "velocity")
    vec.GetPointData().GetScalars().SetNumberOfComponents(3)  # 40 of the 120 values, 3 a point
    vec.SetDimensions(5, 4, 2)
    write_image(d / "vector.vti", vec)
    return [
        (["flat.vti"], "flat.vti: 2-D image data (6 x 5 x 1 points)"),
        (["gap.pvd"], "gap.pvd: references gone/missing.vti, which does not exist"),
        (["mixed"], "a_1.vti: frame shape (4, 6, 6) differs from (4, 5, 6)"),
        (["garbage.vti"], "garbage.vti: not a readable VTK"),
        (["cut.vti"], "cut.vti: not readable as the 8 x 8 x 8 points its header gives (damaged?)"),
        (["ok.vti", "--dataset", "nope"], "ok.vti: has no point array 'nope' (it has: density)"),
        (["vector.vti"], "vector.vti: point array 'velocity' has 3 components"),
    ]


def test_unsuitable_files_are_one_line_naming_the_file_and_write_nothing(tmp_path):
    for inputs, message in _bad_cases(tmp_path):
        args = [str(tmp_path / inputs[0]), *inputs[1:]]
        r = subprocess.run([sys.executable, "-m", "hyperinr_app.cli", "data", "import", *args, "-o",
                            str(tmp_path / "d.h5"), "--quiet"], capture_output=True, text=True, timeout=120)
        assert r.returncode == 2 and message in r.stderr, (inputs, r.stderr)
        assert r.stderr.strip().count("\n") == 0 and "Traceback" not in r.stderr, r.stderr
        assert not (tmp_path / "d.h5").exists()


def test_a_missing_vtk_is_one_line_naming_the_extra_before_any_work(tmp_path, monkeypatch, capsys):
    write_vti_with_vtk(tmp_path / "a.vti", frame())
    monkeypatch.setitem(sys.modules, "vtkmodules.vtkIOXML", None)  # import fails as if vtk were absent
    assert main(["data", "import", str(tmp_path / "a.vti"), "-o", str(tmp_path / "d.h5")]) == 2
    err = capsys.readouterr().err
    assert 'reading .vti needs the VTK extra: pip install "hyperinr-explorer[vtk]"' in err
    for name in ("v.vti", "s.pvd"):
        with pytest.raises(HyperINRError, match=r"needs the VTK extra"):
            open_volume_writer(tmp_path / name, (2, 3, 4), ["t"], np.zeros((1, 1)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.vti"]


def test_vti_and_pvd_writers_refuse_what_they_cannot_hold_before_creating_anything(tmp_path):
    with pytest.raises(HyperINRError, match=r"s\.vti: a \.vti file holds one volume; .*\(\.pvd\)"):
        open_volume_writer(tmp_path / "s.vti", (2, 3, 4), ["t"], np.array([[0.0], [1.0]]))
    with pytest.raises(HyperINRError, match="varies one parameter; these frames vary 2"):
        open_volume_writer(tmp_path / "s.pvd", (2, 3, 4), ["a", "b"], np.array([[0.0, 0.0], [1.0, 1.0]]))
    (tmp_path / "mine_data").mkdir()  # the user's folder, not a collection's: never replaced
    with pytest.raises(HyperINRError, match="mine_data: exists and is not the frames' folder"):
        open_volume_writer(tmp_path / "mine.pvd", (2, 3, 4), ["t"], np.array([[0.0], [1.0]]))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine_data"]


@pytest.mark.parametrize("name", ["v.vti", "s.pvd"])
def test_stopped_vtk_writers_leave_nothing(tmp_path, name):
    values = np.array([[0.0]]) if name.endswith(".vti") else np.array([[0.0], [1.0], [2.0]])
    with pytest.raises(KeyboardInterrupt):
        with open_volume_writer(tmp_path / name, (2, 3, 4), ["t"], values) as w:
            w.write(np.zeros((2, 3, 4)))
            raise KeyboardInterrupt
    w = open_volume_writer(tmp_path / name, (2, 3, 4), ["t"], values)
    w.write(np.ones((2, 3, 4)))
    w.abort()
    assert list(tmp_path.iterdir()) == []


def test_a_pvd_replaces_its_own_collection_whole(tmp_path):
    out = tmp_path / "s.pvd"
    for fill, n in ((1.0, 3), (2.0, 2)):  # the second, shorter sweep leaves no frame of the first behind
        with open_volume_writer(out, (2, 3, 4), ["t"], np.arange(n, dtype=float)[:, None] / 2) as w:
            for _ in range(n):
                w.write(np.full((2, 3, 4), fill))
            w.close()
    assert sorted(p.name for p in (tmp_path / "s_data").iterdir()) == ["s_0000.vti", "s_0001.vti"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.pvd", "s_data"]
    assert float(read_vti(tmp_path / "s_data" / "s_0001.vti")[0].mean()) == 2.0
    with open_volume_writer(tmp_path / "one.vti", (2, 3, 4), ["t", "s"], np.array([[0.5, 7.0]])) as w:
        w.write(np.zeros((2, 3, 4)))
        w.close()
    _, img = read_vti(tmp_path / "one.vti")
    assert img.GetFieldData().GetArray("s").GetValue(0) == 7.0  # the parameters travel as field data
