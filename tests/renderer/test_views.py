"""View datasets for NVS: direction sampling, camera convention, rendering and ``hyperinr data demo nvs``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hyperinr_app.cli import main
from hyperinr_core.data.dataset import open_dataset
from hyperinr_core.data.dataset_writer import write_dataset
from hyperinr_core.model.inr import grid_coordinates
from hyperinr_renderer import Light, TransferFunction, light_direction
from hyperinr_renderer.fields import AnalyticField, GridField
from hyperinr_renderer.views import (
    VIEW_PARAM_NAMES,
    ViewConfig,
    ViewRenderer,
    sample_views,
    split_views,
    view_camera,
    write_view_dataset,
)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _lopsided(x: torch.Tensor) -> torch.Tensor:
    """A blob off the centre plus a bar along x: every view direction sees something different."""
    blob = torch.exp(-((x - torch.tensor([0.7, 0.35, 0.6])) ** 2).sum(1) / 0.01)
    bar = torch.exp(-((x[:, 1] - 0.5) ** 2 + (x[:, 2] - 0.3) ** 2) / 0.004) * (x[:, 0] > 0.2)
    return blob + 0.8 * bar


def _tiny_cfg(**kw) -> ViewConfig:
    base = dict(n_views=12, width=16, height=16, spp=1, step=1 / 32, shadow="none")
    return ViewConfig(**{**base, **kw})


TF = TransferFunction("viridis", [(0.0, 0.0), (0.1, 0.0), (1.0, 0.6)])


def test_sample_views_fill_the_square_reproducibly():
    cfg = _tiny_cfg(n_views=40, theta_range=(30.0, 150.0), phi_range=(10.0, 190.0))
    p = sample_views(cfg)
    assert p.shape == (40, 2)
    assert (p[:, 0] >= 30).all() and (p[:, 0] <= 150).all()
    assert (p[:, 1] >= 10).all() and (p[:, 1] <= 190).all()
    # Poisson disk: spread over the whole square, no two views (nearly) the same
    assert np.ptp(p[:, 0]) > 90 and np.ptp(p[:, 1]) > 135
    u = (p - [30, 10]) / [120, 180]
    d = np.linalg.norm(u[:, None] - u[None], axis=-1) + np.eye(40)
    assert d.min() > 0.03
    np.testing.assert_array_equal(p, sample_views(cfg))
    assert not np.allclose(p, sample_views(_tiny_cfg(n_views=40, seed=1, theta_range=(30, 150))))


def test_split_views_marks_the_requested_share():
    m = split_views(200, 0.5, seed=3)
    assert m.dtype == bool and m.sum() == 100
    np.testing.assert_array_equal(m, split_views(200, 0.5, seed=3))
    assert split_views(3, 0.01).sum() == 1 and split_views(3, 0.99).sum() == 2


def test_view_camera_looks_from_theta_phi():
    for theta, phi in [(20.0, 0.0), (90.0, 45.0), (150.0, 170.0)]:
        cam = view_camera(theta, phi, distance=2.0)
        offset = (cam.eye() - 0.5) / 2.0
        np.testing.assert_allclose(offset, light_direction(phi, theta), atol=1e-12)
        _, _, forward = cam.basis()
        np.testing.assert_allclose(forward, -offset, atol=1e-12)


def test_bad_config_is_a_user_error():
    from hyperinr_core.errors import HyperINRError

    for kw in ({"n_views": 1}, {"theta_range": (10, 200)}, {"train_fraction": 1.0}, {"shadow": "x"}):
        with pytest.raises(HyperINRError):
            _tiny_cfg(**kw)


def test_views_differ_and_shadows_darken():
    field = AnalyticField(_lopsided)
    r = ViewRenderer(field, TF, Light(azimuth=0.0, polar=90.0), _tiny_cfg())
    a, b = r.render(40.0, 0.0), r.render(120.0, 90.0)
    assert a.shape == (16, 16, 3) and a.dtype == np.float32
    assert 0.0 <= a.min() and a.max() <= 1.0
    assert np.abs(a - b).mean() > 1e-3  # another direction, another image
    np.testing.assert_array_equal(a, r.render(40.0, 0.0))  # same view, same seed: same image
    grid = GridField(_lopsided(grid_coordinates((16, 16, 16))).view(16, 16, 16).clamp(0, 1))
    lit = ViewRenderer(grid, TF, Light(azimuth=0.0, polar=90.0), _tiny_cfg()).render(60.0, 30.0)
    shaded = ViewRenderer(
        grid, TF, Light(azimuth=0.0, polar=90.0), _tiny_cfg(shadow="field", shadow_resolution=12)
    ).render(60.0, 30.0)
    assert shaded.sum() < lit.sum()  # global shadows only ever take light away


def test_write_view_dataset_is_an_nvs_dataset(tmp_path):
    path = tmp_path / "views.h5"
    params, train = write_view_dataset(
        path, AnalyticField(_lopsided), TF, Light(), _tiny_cfg(), attrs={"source": "test"}, progress=False
    )
    with open_dataset(path) as ds:
        assert ds.task == "nvs" and ds.is_image
        assert ds.param_names == VIEW_PARAM_NAMES
        assert ds.frame_shape == (16, 16, 3) and ds.n_frames == 12
        np.testing.assert_allclose(ds.params, params)
        np.testing.assert_array_equal(ds.train_mask, train)
        assert train.sum() == 6
        np.testing.assert_allclose(ds.param_lo, [20.0, 0.0])
        np.testing.assert_allclose(ds.param_hi, [160.0, 180.0])
        assert ds.attrs["source"] == "test" and "tf_fingerprint" in ds.attrs
        frames = ds.frames(range(12))
    assert 0.0 <= frames.min() and frames.max() <= 1.0
    assert np.abs(frames[0] - frames[1]).mean() > 1e-3


@pytest.fixture(scope="module")
def volume_data(tmp_path_factory):
    vol = _lopsided(grid_coordinates((12, 12, 12))).view(12, 12, 12).numpy()
    path = tmp_path_factory.mktemp("vol") / "vol.h5"
    write_dataset(path, "tsr", ["t"], [0.0], [1.0], np.array([[0.0], [1.0]]), np.stack([vol * 0.2, vol]))
    return path


def test_cli_demo_nvs(volume_data, tmp_path, capsys):
    out = tmp_path / "v.h5"
    args = ["data", "demo", "nvs", "--data", str(volume_data), "--frame", "1", "--views", "6"]
    args += [
        "--size",
        "8x6",
        "--spp",
        "1",
        "--step",
        "0.05",
        "--shadow",
        "none",
        "--phi",
        "0,90",
        "--quiet",
        "-o",
        str(out),
    ]
    assert main(args) == 0
    with open_dataset(out) as ds:
        assert ds.frame_shape == (6, 8, 3) and ds.n_frames == 6 and ds.train_mask.sum() == 3
        assert ds.params[:, 1].max() <= 90.0
        assert ds.attrs["source"].endswith("#1")
    assert "wrote" in capsys.readouterr().out
    # never overwrite; wrong source options are one-line errors
    assert main(args) == 2
    bad = ["data", "demo", "nvs", "--data", str(volume_data), "--param", "t=1", "-o", str(tmp_path / "b.h5")]
    assert main(bad) == 2
    bad = ["data", "demo", "nvs", "--data", str(volume_data), "--theta", "5", "-o", str(tmp_path / "c.h5")]
    assert main(bad) == 2
    assert "error" in capsys.readouterr().err
