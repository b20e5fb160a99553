"""``hyperinr decode``: a model's volumes out as .npy, .raw + sidecar and .vtkhdf, checked against the model."""

import json
import subprocess
import sys

import h5py
import numpy as np
import pytest

from hyperinr_app.cli import main
from hyperinr_core import HyperINR

MODEL = "assets/demo_tgv.hinr"


def _expected(theta, shape):
    model = HyperINR.load(MODEL)
    lo, hi = model.cfg.value_range
    return model.generate(theta).sample_grid(shape).clamp(0, 1).numpy() * (hi - lo) + lo


def test_one_volume_as_npy_is_the_model_in_data_units(tmp_path, capsys):
    out = tmp_path / "v.npy"
    assert main(["decode", "--model", MODEL, "--param", "t=3.5", "--resolution", "9,10,11", "-o", str(out)]) == 0
    got = np.load(out)
    assert got.shape == (9, 10, 11) and got.dtype == np.float32
    want = _expected([3.5], (9, 10, 11))
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * float(np.ptp(want)))
    assert json.loads((tmp_path / "v.npy.json").read_text())["params"] == [[3.5]]
    assert "1 volume of 9x10x11" in capsys.readouterr().out


def test_a_sweep_as_vtkhdf_is_one_temporal_image_with_its_time_values(tmp_path):
    out = tmp_path / "s.vtkhdf"
    assert main(["decode", "--model", MODEL, "--sweep", "t=1:4:1.5", "--resolution", "6", "-o", str(out),
                 "--quiet"]) == 0
    with h5py.File(out, "r") as f:
        root = f["VTKHDF"]
        assert list(root.attrs["Version"]) == [2, 0] and root.attrs["Type"] == b"ImageData"
        assert list(root.attrs["WholeExtent"]) == [0, 5, 0, 5, 0, 5]
        np.testing.assert_allclose(root.attrs["Spacing"], [0.2, 0.2, 0.2])
        assert root["Steps"].attrs["NSteps"] == 3
        np.testing.assert_allclose(root["Steps/Values"][:], [1.0, 2.5, 4.0])
        assert list(root["Steps/PointDataOffsets/value"][:]) == [0, 1, 2]
        data = root["PointData/value"][:]
    assert data.shape == (3, 6, 6, 6)
    want = _expected([2.5], (6, 6, 6))
    np.testing.assert_allclose(data[1], want, rtol=1e-4, atol=1e-4 * float(np.ptp(want)))


def test_a_raw_sweep_imports_back_as_a_dataset(tmp_path):
    raw, data = tmp_path / "s.raw", tmp_path / "d.h5"
    assert main(["decode", "--model", MODEL, "--sweep", "t=0,5,10", "--resolution", "5", "-o", str(raw),
                 "--quiet"]) == 0
    assert main(["data", "import", str(raw), "-o", str(data), "--quiet"]) == 0
    from hyperinr_core.data.dataset import open_dataset

    with open_dataset(data) as ds:
        assert list(ds.param_names) == ["t"] and ds.n_frames == 3
        np.testing.assert_allclose(ds.params[:, 0], [0.0, 5.0, 10.0])
        np.testing.assert_allclose(ds.frame(2), np.fromfile(raw, "<f4").reshape(3, 5, 5, 5)[2])


def test_a_bundles_shadow_model_writes_transmittance_toward_the_light(tmp_path, capsys):
    out = tmp_path / "s.npy"
    assert main(["decode", "--bundle", "assets/demo.json", "--shadow", "--param", "t=6", "--light", "60,40",
                 "--resolution", "6", "-o", str(out)]) == 0
    assert "transmittance" in capsys.readouterr().out
    t = np.load(out)
    assert t.shape == (6, 6, 6) and 0.0 <= t.min() and t.max() <= 1.0 and np.ptp(t) > 0


def test_a_light_outside_the_shadow_models_range_is_an_error_not_clamped(tmp_path, capsys):
    out = tmp_path / "s.npy"
    args = ["decode", "--bundle", "assets/demo.json", "--shadow", "--param", "t=6", "--resolution", "4", "-o",
            str(out)]
    assert main([*args, "--light", "60,120"]) == 2
    err = capsys.readouterr().err
    assert "polar 120 is outside the range" in err and "[5, 85]" in err and not out.exists()
    assert main([*args, "--light", "360,40"]) == 0  # a full turn of azimuth: 360 is 0, inside


@pytest.mark.parametrize("args, message", [
    (["--param", "t=3", "-o", "{tmp}/v.tif"], "unknown volume format"),
    (["--sweep", "t=0:12:1", "-o", "{tmp}/v.npy"], "--sweep t=11 is outside"),
    (["--sweep", "t=3:1:1", "-o", "{tmp}/v.npy"], "expected NAME=START:STOP:STEP"),
    (["--sweep", "s=0,1", "-o", "{tmp}/v.npy"], "has no parameter 's'"),
    (["--resolution", "1", "-o", "{tmp}/v.npy"], "--resolution '1'"),
    (["-o", "{tmp}/exists.npy"], "exists"),
])
def test_bad_requests_are_one_line_and_write_nothing(tmp_path, args, message):
    (tmp_path / "exists.npy").write_bytes(b"old")
    cmd = [sys.executable, "-m", "hyperinr_app.cli", "decode", "--model", MODEL,
           *[a.replace("{tmp}", str(tmp_path)) for a in args]]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and message in r.stderr and r.stderr.strip().count("\n") == 0, r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exists.npy"]


@pytest.mark.parametrize("suffix", [".npy", ".raw", ".vtkhdf"])
def test_an_interrupted_sweep_leaves_nothing_behind(tmp_path, suffix):
    from hyperinr_core.data.volume_writers import open_volume_writer

    out = tmp_path / f"v{suffix}"
    with pytest.raises(KeyboardInterrupt):
        with open_volume_writer(out, (2, 3, 4), ["t"], np.array([[0.0], [1.0], [2.0]])) as w:
            w.write(np.zeros((2, 3, 4)))
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_a_sweep_as_netcdf_has_cf_coordinates_and_the_models_values(tmp_path):
    import h5netcdf

    out, ref = tmp_path / "s.nc", tmp_path / "s.npy"
    for path in (out, ref):
        assert main(["decode", "--model", MODEL, "--sweep", "t=0:10:5", "--resolution", "6,5,4", "-o", str(path),
                     "--quiet"]) == 0
    with h5netcdf.File(out, "r") as f:
        assert f.attrs["Conventions"] == "CF-1.8"
        assert {k: v.size for k, v in f.dimensions.items()} == {"t": 3, "z": 6, "y": 5, "x": 4}
        np.testing.assert_allclose(f["t"][:], [0.0, 5.0, 10.0])
        np.testing.assert_allclose(f["y"][:], np.linspace(0, 1, 5))
        assert f["value"].dimensions == ("t", "z", "y", "x")
        np.testing.assert_array_equal(f["value"][:], np.load(ref))


def test_a_netcdf_sweep_imports_back_with_its_variable_and_time_coordinate(tmp_path, capsys):
    """NetCDF / CF in: the one data variable is found without --dataset, its time coordinate becomes the
    parameter (name and values), and a file of several variables asks which, in one line."""
    import h5netcdf

    from hyperinr_core.data.dataset import open_dataset

    nc = tmp_path / "s.nc"
    assert main(["decode", "--model", MODEL, "--sweep", "t=0:10:2.5", "--resolution", "6", "-o", str(nc),
                 "--quiet"]) == 0
    out = tmp_path / "d.h5"
    assert main(["data", "import", str(nc), "-o", str(out), "--quiet", "--train-stride", "2"]) == 0
    with open_dataset(out) as ds, h5netcdf.File(nc, "r") as f:
        assert list(ds.param_names) == ["t"]
        np.testing.assert_allclose(ds.params[:, 0], [0.0, 2.5, 5.0, 7.5, 10.0])
        np.testing.assert_allclose(ds.frames(range(5)), f.variables["value"][...], rtol=1e-6)
    two = tmp_path / "two.nc"
    with h5netcdf.File(two, "w") as f:
        f.dimensions = {"time": 2, "z": 3, "y": 3, "x": 3}
        for name in ("temp", "salt"):
            f.create_variable(name, ("time", "z", "y", "x"), np.float32)[...] = np.ones((2, 3, 3, 3))
    capsys.readouterr()
    assert main(["data", "import", str(two), "-o", str(tmp_path / "t.h5"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "several data variables (salt, temp)" in err and "--dataset" in err
