"""Zarr and OME-Zarr in and out: plain arrays and groups (v2 and v3 stores), OME-Zarr written by ome-zarr
itself with its axes and time scale, unsuitable stores as one line, the writer's store opened by napari's own
reader, writers that leave nothing when stopped, a missing zarr named as the extra to install."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from hyperinr_app.cli import main
from hyperinr_core.data.dataset import open_dataset
from hyperinr_core.data.importers import detect_kind, import_dataset
from hyperinr_core.data.volume_writers import open_volume_writer
from hyperinr_core.errors import HyperINRError

zarr = pytest.importorskip("zarr", minversion="3",
                           reason="needs zarr >= 3 (pip install 'hyperinr-explorer[zarr]')")

RNG = np.random.default_rng(5)


def test_plain_arrays_and_groups_of_either_zarr_version_import(tmp_path, capsys):
    series = RNG.random((3, 4, 5, 6), dtype=np.float32)
    zarr.save_array(str(tmp_path / "v3.zarr"), series, zarr_format=3)
    zarr.save_array(str(tmp_path / "one"), series[1], zarr_format=2)  # no .zarr suffix: found by .zarray
    g = zarr.open_group(str(tmp_path / "g.zarr"), mode="w")
    g.create_array("rho", data=series)
    assert detect_kind([tmp_path / "one"]) == "zarr"
    for name, want in (("v3.zarr", series), ("one", series[1:2]), ("g.zarr", series)):
        out = tmp_path / f"{name}.h5"
        import_dataset([tmp_path / name], out, progress=False)
        with open_dataset(out) as ds:
            assert ds.n_frames == len(want)
            np.testing.assert_array_equal(ds.params[:, 0], np.arange(len(want)))  # no times: frame indices
            np.testing.assert_array_equal(ds.frames(range(len(want))), want)
    g.create_array("temp", data=series[:2])
    assert main(["data", "import", str(tmp_path / "g.zarr"), "-o", str(tmp_path / "x.h5")]) == 2
    assert "g.zarr: holds several arrays (rho, temp); choose one with --dataset" in capsys.readouterr().err
    assert main(["data", "import", str(tmp_path / "g.zarr"), "-o", str(tmp_path / "t.h5"), "--dataset",
                 "temp", "--quiet"]) == 0
    with open_dataset(tmp_path / "t.h5") as ds:
        np.testing.assert_array_equal(ds.frames(range(2)), series[:2])


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # ome-zarr's own, about its downsampling
def test_an_ome_zarr_written_by_ome_zarr_imports_with_its_axes_and_times(tmp_path):
    pytest.importorskip("ome_zarr", reason="needs ome-zarr (pip install 'hyperinr-explorer[zarr]')")
    from ome_zarr.writer import write_image

    data = RNG.random((4, 1, 5, 6, 7), dtype=np.float32)  # t, c, z, y, x; the one channel is dropped
    write_image(data, zarr.open_group(str(tmp_path / "img.zarr"), mode="w"), scale_factors=[], axes="tczyx",
                scale={"t": 0.25, "c": 1.0, "z": 0.5, "y": 0.5, "x": 0.5})
    out = tmp_path / "d.h5"
    import_dataset([tmp_path / "img.zarr"], out, progress=False)
    with open_dataset(out) as ds:
        assert list(ds.param_names) == ["t"] and tuple(ds.frame_shape) == (5, 6, 7)
        np.testing.assert_allclose(ds.params[:, 0], [0.0, 0.25, 0.5, 0.75])
        np.testing.assert_array_equal(ds.frame(3), data[3, 0])


def _bad_stores(d):
    zarr.save_array(str(d / "five.zarr"), np.zeros((2, 2, 3, 4, 5), np.float32))
    g = zarr.open_group(str(d / "rgb.zarr"), mode="w", zarr_format=2)
    g.create_array("0", data=np.zeros((3, 4, 5, 6), np.float32))
    axes = [{"name": "c", "type": "channel"}] + [{"name": a, "type": "space"} for a in "zyx"]
    g.attrs["multiscales"] = [{"version": "0.4", "axes": axes, "datasets": [{"path": "0"}]}]
    flat = zarr.open_group(str(d / "flat.zarr"), mode="w")
    flat.create_array("0", data=np.zeros((3, 5, 6), np.float32))
    flat.attrs["ome"] = {"version": "0.5", "multiscales": [{"axes": [{"name": "t", "type": "time"}, {
        "name": "y", "type": "space"}, {"name": "x", "type": "space"}], "datasets": [{"path": "0"}]}]}
    (d / "empty.zarr").mkdir()
    return [
        ("five.zarr", "five.zarr: array 'five.zarr' of shape (2, 2, 3, 4, 5) has 5 dimensions"),
        ("rgb.zarr", "rgb.zarr: 3 channels (axis 'c'); import reads one"),
        ("flat.zarr", "flat.zarr: 2 space axes: import reads 3-D volumes"),
        ("empty.zarr", "empty.zarr: not a readable Zarr store"),
    ]


def test_unsuitable_stores_are_one_line_naming_them_and_write_nothing(tmp_path):
    for name, message in _bad_stores(tmp_path):
        cmd = [sys.executable, "-m", "hyperinr_app.cli", "data", "import", str(tmp_path / name), "-o",
               str(tmp_path / "d.h5"), "--quiet"]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert r.returncode == 2 and message in r.stderr, (name, r.stderr)
        assert r.stderr.strip().count("\n") == 0 and "Traceback" not in r.stderr, r.stderr
        assert not (tmp_path / "d.h5").exists()


def test_a_missing_zarr_is_one_line_naming_the_extra_before_anything_is_created(tmp_path, monkeypatch,
                                                                                 capsys):
    zarr.save_array(str(tmp_path / "a.zarr"), np.zeros((3, 4, 5), np.float32))
    monkeypatch.setitem(sys.modules, "zarr", None)
    assert main(["data", "import", str(tmp_path / "a.zarr"), "-o", str(tmp_path / "d.h5")]) == 2
    err = capsys.readouterr().err
    assert 'reading Zarr needs the Zarr extra: pip install "hyperinr-explorer[zarr]"' in err
    with pytest.raises(HyperINRError, match=r'writing \.zarr needs the Zarr extra'):
        open_volume_writer(tmp_path / "s.zarr", (2, 3, 4), ["t"], np.zeros((2, 1)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.zarr"]


def test_stopped_zarr_writers_leave_nothing_and_a_finished_one_replaces_a_store(tmp_path):
    out = tmp_path / "s.zarr"
    with pytest.raises(KeyboardInterrupt):
        with open_volume_writer(out, (2, 3, 4), ["t"], np.zeros((3, 1))) as w:
            w.write(np.zeros((2, 3, 4)))
            raise KeyboardInterrupt
    w = open_volume_writer(out, (2, 3, 4), ["t"], np.zeros((1, 1)))
    w.abort()
    assert list(tmp_path.iterdir()) == []
    for n in (3, 1):  # a single volume after a sweep: no axis t, no chunk of the sweep left
        with open_volume_writer(out, (2, 3, 4), ["t", "s"], np.c_[np.arange(n), np.full(n, 9.0)]) as w:
            for k in range(n):
                w.write(np.full((2, 3, 4), k + 1.0))
            w.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.zarr"]
    g = zarr.open_group(str(out), mode="r")
    assert g["0"].shape == (2, 3, 4) and float(g["0"][...].mean()) == 1.0
    assert [a["name"] for a in g.attrs["multiscales"][0]["axes"]] == ["z", "y", "x"]
    assert g.attrs["hyperinr"]["params"] == [[0.0, 9.0]]


def test_napari_opens_a_written_store_with_its_own_reader(tmp_path):
    """napari's builtin reader (npe2, no viewer, no display) in a process of its own: importing napari
    changes vispy's backend for the whole process (pyproject.toml)."""
    pytest.importorskip("npe2", reason="needs napari (pip install 'hyperinr-explorer[napari]')")
    out = tmp_path / "s.zarr"
    with open_volume_writer(out, (2, 3, 4), ["t"], np.array([[0.0], [0.5], [1.0]])) as w:
        for k in range(3):
            w.write(np.full((2, 3, 4), float(k)))
        w.close()
    code = textwrap.dedent(f"""
        import numpy as np, npe2
        npe2.PluginManager.instance().discover()
        [(data, *_)] = npe2.read([{str(out)!r}], stack=False, plugin_name="napari")
        arr = np.asarray(data[0] if isinstance(data, list) else data)
        print(arr.shape, arr[2].mean())
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    if r.returncode != 0 and "No module named 'napari" in r.stderr:
        pytest.skip("needs napari (pip install 'hyperinr-explorer[napari]')")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["(3,", "2,", "3,", "4)", "2.0"]


def test_decode_replaces_a_store_only_with_force_and_refuses_a_vti_sweep_before_loading(tmp_path, capsys):
    """The output policy holds for a folder output; a sweep to a one-volume format is refused before the model
    (here a file that does not exist) is read."""
    from pathlib import Path

    demo = Path(__file__).resolve().parents[2] / "assets" / "demo_tgv.hinr"
    out = tmp_path / "v.zarr"
    args = ["decode", "--model", str(demo), "--resolution", "6", "-o", str(out), "--quiet"]
    assert main(args) == 0
    first = sorted(p.name for p in out.rglob("*"))
    assert main(args) == 2 and "exists" in capsys.readouterr().err
    assert main([*args, "--sweep", "t=0,1", "--force"]) == 0
    assert sorted(p.name for p in out.rglob("*")) != first  # the sweep (a t axis) replaced the volume
    assert [p.name for p in tmp_path.iterdir()] == ["v.zarr"]  # no temporaries or old stores beside it
    capsys.readouterr()
    rc = main(["decode", "--model", str(tmp_path / "missing.hinr"), "--sweep", "t=0,1", "-o",
               str(tmp_path / "s.vti")])
    assert rc == 2 and "one volume" in capsys.readouterr().err
