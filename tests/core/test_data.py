"""Dataset files: round trip, lazy reads, and one clear error per kind of damage."""

from __future__ import annotations

import os

import h5py
import numpy as np
import pytest

from hyperinr_core.data.dataset import open_dataset
from hyperinr_core.data.dataset_writer import write_dataset
from hyperinr_core.errors import FileFormatError, HyperINRError


def _volumes(n=6, shape=(4, 5, 6), seed=0):
    return np.random.default_rng(seed).random((n,) + shape).astype(np.float32)


def _write(path, n=6, **kw):
    frames = kw.pop("frames", _volumes(n))
    args = dict(
        task="tsr",
        param_names=["t"],
        param_lo=[0.0],
        param_hi=[float(n - 1)],
        params=np.arange(n, dtype=float),
    )
    args.update(kw)
    write_dataset(path, frames=frames, **args)
    return frames


def test_round_trip_volume(tmp_path):
    p = tmp_path / "d.h5"
    frames = _write(p, train_mask=np.arange(6) % 2 == 0, attrs={"source": "test", "levels": [1, 2]})
    with open_dataset(p) as d:
        assert d.task == "tsr" and not d.is_image
        assert d.param_names == ["t"]
        assert d.n_frames == 6 and len(d) == 6
        assert d.frame_shape == (4, 5, 6)
        assert d.params.dtype == np.float64 and d.params.shape == (6, 1)
        np.testing.assert_array_equal(d.train_mask, [1, 0, 1, 0, 1, 0])
        np.testing.assert_array_equal(d.train_indices, [0, 2, 4])
        np.testing.assert_array_equal(d.test_indices, [1, 3, 5])
        assert d.value_range == (float(frames.min()), float(frames.max()))
        assert d.attrs == {"source": "test", "levels": [1, 2]}
        np.testing.assert_array_equal(d.frame(3), frames[3])
        assert d.frame(3).dtype == np.float32
        np.testing.assert_array_equal(d.frames([5, 0]), frames[[5, 0]])
        np.testing.assert_allclose(d.normalized_params()[:, 0], np.arange(6) / 5)
    with h5py.File(p) as f:
        assert f["frames"].chunks == (1, 4, 5, 6)  # one chunk per frame: lazy reads touch one chunk


def test_streamed_frames_and_images(tmp_path):
    p = tmp_path / "img.h5"
    imgs = np.random.default_rng(1).random((4, 8, 9, 3)).astype(np.float32)
    params = np.array([[0.0, 0.0], [1.0, 0.5], [0.2, 1.0], [0.7, 0.7]])
    write_dataset(p, "nvs", ["theta", "phi"], [0, 0], [1, 1], params, (im for im in imgs))
    with open_dataset(p) as d:
        assert d.is_image and d.frame_shape == (8, 9, 3)
        assert d.train_mask.all()  # no /train: every frame is a training frame
        np.testing.assert_array_equal(d.frames(range(4)), imgs)
        np.testing.assert_array_equal(d.params, params)


def test_writer_rejects_bad_input_and_keeps_existing_file(tmp_path):
    p = tmp_path / "d.h5"
    _write(p)
    before = p.read_bytes()
    bad = _volumes()
    bad[2, 0, 0, 0] = np.nan
    with pytest.raises(HyperINRError, match="frame 2"):
        _write(p, frames=bad)
    with pytest.raises(HyperINRError, match="outside"):
        _write(p, param_hi=[3.0])
    with pytest.raises(HyperINRError, match="got 5 frames"):
        _write(p, frames=iter(_volumes(5)))
    assert p.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["d.h5"]  # no temporary left behind


def _damaged(tmp_path, edit):
    p = tmp_path / "bad.h5"
    _write(p)
    with h5py.File(p, "r+") as f:
        edit(f)
    return p


def _nan_frame(f, i):
    a = f["frames"][i]
    a[1, 1, 1] = np.nan
    f["frames"][i] = a


@pytest.mark.parametrize(
    "edit, field",
    [
        (lambda f: f.attrs.__delitem__("task"), "task: missing"),
        (lambda f: f.attrs.__delitem__("param_lo"), "param_lo: missing"),
        (lambda f: f.attrs.__setitem__("format", "something"), "format:"),
        (lambda f: f.attrs.__setitem__("version", 7), "version: unsupported"),
        (lambda f: f.attrs.__setitem__("task", "xyz"), "task: expected one of"),
        (lambda f: f.attrs.__setitem__("param_hi", [1.0, 2.0]), "param_hi: expected 1"),
        (lambda f: f.__delitem__("params"), "/params: missing"),
        (lambda f: f.__delitem__("frames"), "/frames: missing"),
        (lambda f: f["params"].__setitem__((2, 0), np.nan), "/params: row 2"),
        (lambda f: f["params"].__setitem__((1, 0), 9.0), "/params: row 1: t=9 outside"),
        (
            lambda f: (f.__delitem__("frames"), f.create_dataset("frames", data=np.zeros((6, 4, 5)))),
            "/frames: shape",
        ),
        (
            lambda f: (f.__delitem__("frames"), f.create_dataset("frames", data=np.zeros((5, 2, 2, 2)))),
            "5 frames",
        ),
        (lambda f: f.create_dataset("train", data=np.ones(4, bool)), "/train: shape"),
        (lambda f: f.create_dataset("train", data=np.full(6, 0.5)), "/train: dtype"),
        (lambda f: _nan_frame(f, 5), r"/frames\[5\]: contains NaN"),  # cheap check at open
    ],
)
def test_open_names_file_and_field(tmp_path, edit, field):
    p = _damaged(tmp_path, edit)
    with pytest.raises(FileFormatError, match=field) as info:
        open_dataset(p)
    assert str(info.value).startswith(str(p) + ": ")


def test_nan_in_middle_frame_is_caught_on_read(tmp_path):
    p = _damaged(tmp_path, lambda f: _nan_frame(f, 2))
    with open_dataset(p) as d:  # opening does not scan every frame
        d.frame(1)
        with pytest.raises(FileFormatError, match=r"/frames\[2\]: contains NaN"):
            d.frame(2)


def test_truncated_and_missing_files(tmp_path):
    p = tmp_path / "d.h5"
    _write(p)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(FileFormatError, match="truncated or corrupt") as info:
        open_dataset(p)
    assert str(p) in str(info.value)
    (tmp_path / "junk.h5").write_bytes(b"not hdf5 at all")
    with pytest.raises(FileFormatError, match="junk.h5: not a readable HDF5"):
        open_dataset(tmp_path / "junk.h5")
    with pytest.raises(FileFormatError, match="no such file"):
        open_dataset(tmp_path / "absent.h5")


def test_model_file_is_not_a_dataset(tmp_path):
    from hyperinr_core.model.modelfile import write_model_file

    p = tmp_path / "m.h5"
    write_model_file(p, "hyperinr", {}, {"w": np.zeros(3)})
    with pytest.raises(FileFormatError, match="model file, not a dataset"):
        open_dataset(p)


def test_value_range_without_attrs_is_computed(tmp_path):
    frames = _volumes()
    p = _damaged(tmp_path, lambda f: (f.attrs.__delitem__("value_min"), f.attrs.__delitem__("value_max")))
    with open_dataset(p) as d:
        assert d.value_range == (float(frames.min()), float(frames.max()))
