"""Other tools' formats end to end: a ParaView collection written with VTK itself is imported, trained on
(tiny preset) and decoded to every volume format, each read back with its own library (VTK, xarray, zarr,
ome_zarr) and compared with the model."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest

from hyperinr_app.cli import main
from hyperinr_core import HyperINR
from hyperinr_core.data.dataset import open_dataset
from tests.core.format_helpers import read_vti, write_pvd, write_vti_with_vtk

pytest.importorskip("vtkmodules.vtkIOXML", reason="needs vtk (pip install 'hyperinr-explorer[vtk]')")

TIMES = [0.0, 0.5, 1.0, 1.5, 2.0]
SHAPE = (6, 7, 8)  # (Z, Y, X)


def series_frames() -> list[np.ndarray]:
    z, y, x = np.meshgrid(*[np.linspace(0, 1, s) for s in SHAPE], indexing="ij")
    return [(np.exp(-((x - 0.3 - 0.2 * t) ** 2 + (y - 0.5) ** 2 + (z - 0.5) ** 2) / 0.05) * 3 + 1)
            .astype(np.float32) for t in TIMES]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(folder, frames, dataset, model): the .pvd series imported through the CLI and a tiny model of it."""
    d = tmp_path_factory.mktemp("pvd")
    (d / "run").mkdir()
    frames = series_frames()
    for k, f in enumerate(frames):
        write_vti_with_vtk(d / "run" / f"step_{k}.vti", f)
    write_pvd(d / "run.pvd", [(t, f"run/step_{k}.vti") for k, t in reversed(list(enumerate(TIMES)))])
    data, model = d / "d.h5", d / "m.hinr"
    assert main(["data", "import", str(d / "run.pvd"), "-o", str(data), "--train-stride", "2",
                 "--quiet"]) == 0
    assert main(["train", "--data", str(data), "-o", str(model), "--preset", "tiny", "--steps", "3",
                 "--teacher", "none", "--threads", "1", "--quiet"]) == 0
    return d, frames, data, model


def decode(model, out, *args) -> None:
    args = ["decode", "--model", str(model), *args, "--resolution", "5,6,7", "-o", str(out), "--quiet"]
    assert main(args) == 0


def model_grid(model_path, t: float) -> np.ndarray:
    model = HyperINR.load(model_path)
    lo, hi = model.cfg.value_range
    return model.generate([t]).sample_grid((5, 6, 7)).clamp(0, 1).numpy() * (hi - lo) + lo


def test_a_pvd_series_imports_with_its_timesteps_in_order(trained):
    _, frames, data, _ = trained
    with open_dataset(data) as ds:
        assert list(ds.param_names) == ["t"] and tuple(ds.frame_shape) == SHAPE
        np.testing.assert_array_equal(ds.params[:, 0], TIMES)
        np.testing.assert_array_equal(ds.train_mask, [True, False, True, False, True])
        for k, f in enumerate(frames):
            np.testing.assert_array_equal(ds.frame(k), f)


def test_decoded_vtk_files_read_back_with_vtk_equal_the_model(trained, tmp_path):
    from vtkmodules.util.numpy_support import vtk_to_numpy
    from vtkmodules.vtkIOHDF import vtkHDFReader

    _, _, _, model = trained
    ref = tmp_path / "ref.npy"
    decode(model, ref, "--sweep", "t=0:2:1")
    want = np.load(ref)
    lo, hi = HyperINR.load(model).cfg.value_range
    np.testing.assert_allclose(want[1], model_grid(model, 1.0), rtol=0, atol=1e-5 * (hi - lo))

    decode(model, tmp_path / "one.vti", "--param", "t=1")
    got, img = read_vti(tmp_path / "one.vti")
    np.testing.assert_array_equal(got, want[1])
    assert img.GetPointData().GetScalars().GetName() == "value"
    np.testing.assert_allclose(img.GetSpacing(), [1 / 6, 1 / 5, 1 / 4])
    assert tuple(img.GetOrigin()) == (0.0, 0.0, 0.0)

    decode(model, tmp_path / "s.pvd", "--sweep", "t=0:2:1")
    sets = ET.parse(tmp_path / "s.pvd").getroot().findall("./Collection/DataSet")
    assert [float(e.get("timestep")) for e in sets] == [0.0, 1.0, 2.0]
    for k, e in enumerate(sets):
        np.testing.assert_array_equal(read_vti(tmp_path / e.get("file"))[0], want[k])

    decode(model, tmp_path / "s.vtkhdf", "--sweep", "t=0:2:1")
    r = vtkHDFReader()
    r.SetFileName(str(tmp_path / "s.vtkhdf"))
    r.UpdateInformation()
    assert r.GetNumberOfSteps() == 3
    for k in range(3):
        r.SetStep(k)
        r.Update()
        values = r.GetOutput().GetPointData().GetArray("value")
        np.testing.assert_array_equal(vtk_to_numpy(values).reshape(5, 6, 7), want[k])


def test_decoded_netcdf_opens_in_xarray_with_its_coordinates(trained, tmp_path):
    xr = pytest.importorskip("xarray", reason="needs xarray (pip install 'hyperinr-explorer[netcdf]')")
    _, _, _, model = trained
    decode(model, tmp_path / "s.npy", "--sweep", "t=0.5,1,1.5")
    decode(model, tmp_path / "s.nc", "--sweep", "t=0.5,1,1.5")
    with xr.open_dataset(tmp_path / "s.nc", engine="h5netcdf") as ds:
        assert ds["value"].dims == ("t", "z", "y", "x")
        np.testing.assert_array_equal(ds["t"].values, [0.5, 1.0, 1.5])
        for axis, n in (("z", 5), ("y", 6), ("x", 7)):
            np.testing.assert_allclose(ds[axis].values, np.linspace(0, 1, n))
        np.testing.assert_array_equal(ds["value"].values, np.load(tmp_path / "s.npy"))
        np.testing.assert_array_equal(ds["value"].sel(t=1.0).values, np.load(tmp_path / "s.npy")[1])


def test_decoded_ome_zarr_reads_back_with_zarr_and_ome_zarr_and_imports_again(trained, tmp_path):
    zarr = pytest.importorskip("zarr", reason="needs zarr (pip install 'hyperinr-explorer[zarr]')")
    pytest.importorskip("ome_zarr", reason="needs ome-zarr (pip install 'hyperinr-explorer[zarr]')")
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Reader

    _, _, _, model = trained
    decode(model, tmp_path / "s.npy", "--sweep", "t=0.5:2:0.5")
    decode(model, tmp_path / "s.zarr", "--sweep", "t=0.5:2:0.5")
    want = np.load(tmp_path / "s.npy")
    group = zarr.open_group(str(tmp_path / "s.zarr"), mode="r")
    np.testing.assert_array_equal(group["0"][...], want)
    ms = group.attrs["multiscales"][0]
    assert [a["name"] for a in ms["axes"]] == ["t", "z", "y", "x"] and ms["version"] == "0.4"
    node = next(iter(Reader(parse_url(str(tmp_path / "s.zarr")))()))
    np.testing.assert_array_equal(np.asarray(node.data[0]), want)
    transforms = node.metadata["coordinateTransformations"][0]
    np.testing.assert_allclose(transforms[0]["scale"], [0.5, 1 / 4, 1 / 5, 1 / 6])
    assert transforms[1] == {"type": "translation", "translation": [0.5, 0.0, 0.0, 0.0]}  # t = 0.5 + 0.5 k

    back = tmp_path / "back.h5"
    assert main(["data", "import", str(tmp_path / "s.zarr"), "-o", str(back), "--quiet"]) == 0
    with open_dataset(back) as ds:
        assert list(ds.param_names) == ["t"]
        np.testing.assert_array_equal(ds.params[:, 0], [0.5, 1.0, 1.5, 2.0])
        np.testing.assert_array_equal(ds.frame(3), want[3])
