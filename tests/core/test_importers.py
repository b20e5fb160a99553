"""Importers: a round trip per input kind, clear errors, and the data CLI (info/import/demo)."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from hyperinr_app.cli import main
from hyperinr_core.data.dataset import open_dataset
from hyperinr_core.data.importers import ImportOptions, import_dataset
from hyperinr_core.errors import FileFormatError, HyperINRError


def _vols(n=5, shape=(3, 4, 5), seed=0):
    return np.random.default_rng(seed).random((n,) + shape).astype(np.float32)


def _frames_of(path):
    with open_dataset(path) as d:
        return d.frames(range(d.n_frames)), d


def test_npy_folder_natural_order(tmp_path):
    vols = _vols(11)
    src = tmp_path / "series"
    src.mkdir()
    for i, v in enumerate(vols):
        np.save(src / f"step{i + 1}.npy", v)  # step10 must come after step9
    (src / "notes.txt").write_text("ignored")
    out = import_dataset([src], tmp_path / "d.h5", opts=ImportOptions(train_stride=5), progress=False)
    got, d = _frames_of(out)
    np.testing.assert_array_equal(got, vols)
    np.testing.assert_array_equal(d.params[:, 0], np.arange(11))  # default parameter: frame index
    np.testing.assert_array_equal(d.train_indices, [0, 5, 10])
    assert d.param_names == ["t"] and d.attrs["source_kind"] == "npy"


def test_npy_file_list_mixing_single_frames_and_stacks(tmp_path):
    vols = _vols(5)
    np.save(tmp_path / "a.npy", vols[:3])  # a stack
    np.save(tmp_path / "b.npy", vols[3].astype(np.float64))
    np.save(tmp_path / "c.npy", (vols[4] * 100).astype(np.int16))  # integer data converts to float32
    opts = ImportOptions(params=np.array([0.0, 0.5, 1.0, 2.0, 4.0]), param_names=["time"])
    out = import_dataset(
        [tmp_path / n for n in ("a.npy", "b.npy", "c.npy")], tmp_path / "d.h5", opts=opts, progress=False
    )
    got, d = _frames_of(out)
    np.testing.assert_array_equal(got[:4], vols[:4])
    np.testing.assert_array_equal(got[4], (vols[4] * 100).astype(np.int16))
    assert d.param_names == ["time"] and (d.param_lo[0], d.param_hi[0]) == (0.0, 4.0)


def test_npz_stacked_and_per_key(tmp_path):
    vols = _vols(4)
    np.savez(
        tmp_path / "s.npz", frames=vols, params=np.array([1.0, 2.0, 3.0, 5.0]), train=np.array([1, 0, 1, 1])
    )
    got, d = _frames_of(import_dataset([tmp_path / "s.npz"], tmp_path / "s.h5", progress=False))
    np.testing.assert_array_equal(got, vols)
    np.testing.assert_array_equal(d.params[:, 0], [1, 2, 3, 5])
    np.testing.assert_array_equal(d.train_mask, [1, 0, 1, 1])
    np.savez_compressed(tmp_path / "k.npz", **{f"t{i}": v for i, v in zip([2, 10, 1, 3], vols, strict=True)})
    got, _ = _frames_of(import_dataset([tmp_path / "k.npz"], tmp_path / "k.h5", progress=False))
    np.testing.assert_array_equal(got, vols[[2, 0, 3, 1]])  # keys in natural order t1, t2, t3, t10


def test_raw_with_sidecar_dims_endianness_offset(tmp_path):
    vols = (_vols(3, shape=(2, 3, 4)) * 1000).astype(np.uint16)  # (Z, Y, X)
    header = b"HDR!" * 4
    (tmp_path / "run.raw").write_bytes(header + vols.astype(">u2").tobytes())
    side = {
        "dims": [4, 3, 2],
        "dtype": "uint16",
        "endianness": "big",
        "offset": 16,
        "params": [0.1, 0.2, 0.4],
    }
    (tmp_path / "run.json").write_text(json.dumps(side))
    got, d = _frames_of(import_dataset([tmp_path / "run.raw"], tmp_path / "r.h5", progress=False))
    np.testing.assert_array_equal(got, vols.astype(np.float32))
    np.testing.assert_allclose(d.params[:, 0], [0.1, 0.2, 0.4])
    # a truncated raw file is named with the problem, and nothing is written
    (tmp_path / "cut.raw").write_bytes(header + vols.astype(">u2").tobytes()[:-3])
    with pytest.raises(FileFormatError, match=r"cut\.raw: size .* does not hold"):
        import_dataset(
            [tmp_path / "cut.raw"], tmp_path / "c.h5", opts=ImportOptions(sidecar=str(tmp_path / "run.json"))
        )
    assert not (tmp_path / "c.h5").exists()
    (tmp_path / "bad.json").write_text(json.dumps({"shape": [2, 3, 4], "dtype": "complex64"}))
    with pytest.raises(FileFormatError, match="bad.json: dtype"):
        import_dataset(
            [tmp_path / "run.raw"], tmp_path / "c.h5", opts=ImportOptions(sidecar=str(tmp_path / "bad.json"))
        )


def test_hdf5_other_layouts(tmp_path):
    vols = _vols(4)
    with h5py.File(tmp_path / "group.h5", "w") as f:  # a group of per-frame datasets with a time attribute
        for i in (3, 1, 0, 2):
            ds = f.create_dataset(f"fields/step_{i}", data=vols[i])
            ds.attrs["time"] = 0.25 * i
    opts = ImportOptions(dataset="fields", param_attr="time")
    got, d = _frames_of(import_dataset([tmp_path / "group.h5"], tmp_path / "g.h5", opts=opts, progress=False))
    np.testing.assert_array_equal(got, vols)
    np.testing.assert_allclose(d.params[:, 0], [0, 0.25, 0.5, 0.75])

    with h5py.File(tmp_path / "stack.h5", "w") as f:  # one stacked dataset + a parameter dataset
        f["data/v"] = vols
        f["meta/t"] = np.array([10.0, 11.0, 12.0, 14.0])
    opts = ImportOptions(dataset="data/v", params_dataset="meta/t")
    got, d = _frames_of(import_dataset([tmp_path / "stack.h5"], tmp_path / "s.h5", opts=opts, progress=False))
    np.testing.assert_array_equal(got, vols)
    np.testing.assert_array_equal(d.params[:, 0], [10, 11, 12, 14])

    files = []
    for i in range(4):  # one file per time step, the time as a root attribute
        files.append(tmp_path / f"sim_{i}.h5")
        with h5py.File(files[-1], "w") as f:
            f["rho"] = vols[i]
            f.attrs["t"] = float(i * i)
    opts = ImportOptions(dataset="rho", param_attr="t")
    got, d = _frames_of(import_dataset(files, tmp_path / "m.h5", opts=opts, progress=False))
    np.testing.assert_array_equal(got, vols)
    np.testing.assert_array_equal(d.params[:, 0], [0, 1, 4, 9])
    with pytest.raises(FileFormatError, match="sim_0.h5: no dataset or group 'nope'"):
        import_dataset(files, tmp_path / "x.h5", opts=ImportOptions(dataset="nope"))


def test_images_for_nvs(tmp_path):
    imgs = np.random.default_rng(2).random((6, 5, 7, 3)).astype(np.float32)
    np.save(tmp_path / "imgs.npy", imgs)
    params = np.random.default_rng(3).random((6, 2))
    opts = ImportOptions(task="nvs", params=params, param_lo=[0, 0], param_hi=[1, 1])
    got, d = _frames_of(import_dataset([tmp_path / "imgs.npy"], tmp_path / "i.h5", opts=opts, progress=False))
    assert d.is_image and d.param_names == ["theta", "phi"]
    np.testing.assert_array_equal(got, imgs)


def test_bad_sources_never_touch_existing_output(tmp_path):
    vols = _vols(3)
    vols[1, 0, 0, 0] = np.nan
    np.save(tmp_path / "v.npy", vols)
    out = tmp_path / "out.h5"
    with pytest.raises(FileFormatError, match=r"v\.npy: v\.npy\[1\]: 1 NaN value \(the first at z=0, y=0, x=0\)"):
        import_dataset([tmp_path / "v.npy"], out, progress=False)
    assert not out.exists()
    out.write_bytes(b"precious")
    with pytest.raises(HyperINRError, match="output exists"):
        import_dataset([tmp_path / "v.npy"], out, progress=False)
    np.save(tmp_path / "odd.npy", np.zeros((2, 3, 4, 6)))
    with pytest.raises(FileFormatError, match="differs"):
        import_dataset([tmp_path / "odd.npy", tmp_path / "v.npy"], out, overwrite=True, progress=False)
    assert out.read_bytes() == b"precious"
    (tmp_path / "cut.npy").write_bytes((tmp_path / "odd.npy").read_bytes()[:100])
    with pytest.raises(FileFormatError, match="cut.npy"):
        import_dataset([tmp_path / "cut.npy"], tmp_path / "o2.h5", progress=False)


# -- CLI ----------------------------------------------------------------------------------------------------
def _one_error_line(capsys, path):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0] and str(path) in err[0], err
    return err[0]


@pytest.mark.parametrize("damage", ["truncated", "nan", "shape", "attr"])
def test_cli_info_on_bad_file_prints_one_line_and_exits_2(tmp_path, capsys, damage):
    p = tmp_path / "d.h5"
    np.save(tmp_path / "v.npy", _vols(3))
    assert main(["data", "import", str(tmp_path / "v.npy"), "-o", str(p), "--quiet"]) == 0
    if damage == "truncated":
        p.write_bytes(p.read_bytes()[:1500])
    else:
        with h5py.File(p, "r+") as f:
            if damage == "nan":
                f["frames"][2, 0, 0, 0] = np.nan
            elif damage == "shape":
                del f["frames"]
                f["frames"] = np.zeros((3, 4, 4), np.float32)
            else:
                del f.attrs["param_names"]
    capsys.readouterr()
    assert main(["data", "info", str(p)]) == 2
    line = _one_error_line(capsys, p)
    assert {"nan": "/frames[2]", "shape": "/frames", "attr": "param_names", "truncated": "truncated"}[
        damage
    ] in line


def test_cli_import_round_trip_and_no_overwrite(tmp_path, capsys):
    vols = _vols(6)
    np.save(tmp_path / "v.npy", vols)
    out = tmp_path / "d.h5"
    args = [
        "data",
        "import",
        str(tmp_path / "v.npy"),
        "-o",
        str(out),
        "--params-range",
        "0:2.5",
        "--train-stride",
        "2",
    ]
    assert main(args + ["--quiet"]) == 0
    assert "train/test  3 / 3" in capsys.readouterr().out
    got, d = _frames_of(out)
    np.testing.assert_array_equal(got, vols)
    np.testing.assert_allclose(d.params[:, 0], np.linspace(0, 2.5, 6))
    before = out.read_bytes()
    assert main(args) == 2
    assert "output exists" in _one_error_line(capsys, out)
    assert out.read_bytes() == before


def test_cli_demo_tgv_tiny(tmp_path, capsys):
    out = tmp_path / "tgv.h5"
    args = [
        "data",
        "demo",
        "tgv",
        "-o",
        str(out),
        "--resolution",
        "8",
        "--frames",
        "6",
        "--t-end",
        "0.5",
        "--quiet",
    ]
    assert main(args + ["--train-stride", "2"]) == 0
    with open_dataset(out) as d:
        assert d.task == "tsr" and d.frame_shape == (8, 8, 8) and d.n_frames == 6
        np.testing.assert_allclose(d.params[:, 0], np.linspace(0, 0.5, 6))
        np.testing.assert_array_equal(d.train_indices, [0, 2, 4])
        assert d.attrs["reynolds"] == 400.0
    assert main(args) == 2  # exists: not overwritten without --force
    capsys.readouterr()


def test_a_frame_of_another_shape_is_named_once(tmp_path):
    import subprocess
    import sys

    folder = tmp_path / "in"
    folder.mkdir()
    np.save(folder / "a_0.npy", np.zeros((4, 4, 4), np.float32))
    np.save(folder / "a_1.npy", np.zeros((4, 5, 4), np.float32))
    r = subprocess.run([sys.executable, "-m", "hyperinr_app.cli", "data", "import", str(folder), "-o",
                        str(tmp_path / "d.h5")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "(4, 5, 4) differs from (4, 4, 4)" in r.stderr, r.stderr
    assert r.stderr.count("a_1.npy") == 1, r.stderr


def test_tiff_stacks_import_with_their_frame_times(tmp_path):
    """ZYX stacks (a file a frame, natural order) and TZYX files: frames read page by page, the parameter
    from OME-TIFF's TimeIncrement or ImageJ's finterval when the file gives one."""
    import tifffile

    from hyperinr_core.data.dataset import open_dataset
    from hyperinr_core.data.importers import ImportOptions, import_dataset

    rng = np.random.default_rng(0)
    folder = tmp_path / "stacks"
    folder.mkdir()
    vols = [rng.random((5, 6, 7), dtype=np.float32) for _ in range(3)]
    for j in (0, 2, 1):  # written out of order; read as vol_0, vol_1, vol_2 ... vol_10 would come last
        tifffile.imwrite(folder / f"vol_{j}.tif", vols[j])
    series = rng.random((4, 5, 6, 7), dtype=np.float32)
    ome = tmp_path / "series.ome.tif"
    tifffile.imwrite(ome, series, metadata={"axes": "TZYX", "TimeIncrement": 0.5}, ome=True)
    ij = tmp_path / "ij.tif"
    tifffile.imwrite(ij, series[:3], imagej=True, metadata={"axes": "TZYX", "finterval": 2.0})
    for src, frames, times in ((folder, vols, [0, 1, 2]), (ome, series, [0, 0.5, 1.0, 1.5]),
                               (ij, series[:3], [0, 2, 4])):
        out = tmp_path / f"{src.stem}.h5"
        import_dataset([str(src)], out, kind="tiff", opts=ImportOptions(), progress=False)
        with open_dataset(out) as ds:
            assert ds.n_frames == len(frames) and tuple(ds.frame_shape) == (5, 6, 7)
            np.testing.assert_allclose(ds.params[:, 0], times)
            for k, want in enumerate(frames):
                np.testing.assert_array_equal(ds.frame(k), want)


def test_a_damaged_tiff_is_one_line_naming_it(tmp_path):
    import subprocess
    import sys

    bad = tmp_path / "bad.tif"
    bad.write_bytes(b"II*\x00garbage")
    r = subprocess.run([sys.executable, "-m", "hyperinr_app.cli", "data", "import", str(bad), "-o",
                        str(tmp_path / "d.h5")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "bad.tif: not a readable TIFF file" in r.stderr, r.stderr
    assert r.stderr.strip().count("\n") == 0 and not (tmp_path / "d.h5").exists()


def test_parameters_come_from_file_names_through_a_pattern(tmp_path, capsys):
    from hyperinr_app.cli import main
    from hyperinr_core.data.dataset import open_dataset

    folder = tmp_path / "runs"
    folder.mkdir()
    for t in (0.5, 1.25, 10.0):
        np.save(folder / f"run_t{t:g}.npy", np.full((4, 4, 4), t, np.float32))
    out = tmp_path / "d.h5"
    assert main(["data", "import", str(folder), "-o", str(out), "--quiet",
                 "--params-from-name", r"t(?P<time>[0-9.]+?)\.npy"]) == 0
    with open_dataset(out) as ds:
        assert list(ds.param_names) == ["time"]
        for k in range(ds.n_frames):  # each frame carries its own file's number
            assert float(ds.frame(k).mean()) == pytest.approx(float(ds.params[k, 0]))
        assert sorted(ds.params[:, 0]) == [0.5, 1.25, 10.0]
    np.save(folder / "stack.npy", np.zeros((2, 4, 4, 4), np.float32))
    for pattern, message in ((r"t(?P<t>[0-9.]+?)\.npy", "does not match"), ("(", "not a regular expression"),
                             ("run", "give a group")):
        assert main(["data", "import", str(folder), "-o", str(tmp_path / "x.h5"), "--params-from-name",
                     pattern]) == 2
        assert message in capsys.readouterr().err
    (folder / "stack.npy").unlink()
    np.save(folder / "run_t3.npy", np.zeros((2, 4, 4, 4), np.float32))
    assert main(["data", "import", str(folder), "-o", str(tmp_path / "x.h5"), "--params-from-name",
                 r"t(?P<t>[0-9.]+?)\.npy"]) == 2
    assert "run_t3.npy: holds several frames" in capsys.readouterr().err
    assert not (tmp_path / "x.h5").exists()


def test_nan_and_inf_say_how_many_and_where_and_nan_to_fills_them(tmp_path, capsys):
    a = np.ones((3, 4, 5, 6), np.float32)
    a[1, 2, 3, 4] = np.nan
    a[1, 3, 0, 0] = np.nan
    a[2, 0, 1, 2] = np.inf
    np.save(tmp_path / "s.npy", a)
    args = ["data", "import", str(tmp_path / "s.npy"), "-o", str(tmp_path / "d.h5"), "--quiet"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "2 NaN values (the first at z=2, y=3, x=4)" in err and "--nan-to" in err
    assert not (tmp_path / "d.h5").exists()
    assert main([*args, "--nan-to", "-1"]) == 0
    assert "replaced 3 NaN or infinite values in 2 of 3 frames with -1" in capsys.readouterr().err
    with open_dataset(tmp_path / "d.h5") as ds:
        assert ds.frame(1)[2, 3, 4] == -1 and ds.frame(2)[0, 1, 2] == -1 and ds.frame(0).min() == 1
    with h5py.File(tmp_path / "d.h5") as f:
        assert f.attrs["nan_to"] == -1.0
