"""``data demo shadows --train-lights K``: sparse training lights over an (azimuth, polar) range."""

import numpy as np
import pytest

from hyperinr_app.cli import main
from hyperinr_app.commands.demo_shadows import light_samples
from hyperinr_core.data.dataset import open_dataset
from hyperinr_core.data.dataset_writer import write_dataset


@pytest.fixture(scope="module")
def data_path(tmp_path_factory):
    from hyperinr_core.model.inr import grid_coordinates
    from hyperinr_renderer import scenes

    vol = scenes.blobs(width=0.15)(grid_coordinates((9, 9, 9))).view(9, 9, 9).numpy()
    path = tmp_path_factory.mktemp("d") / "data.h5"
    write_dataset(path, "tsr", ["t"], [0.0], [1.0], np.array([[0.0]]), vol[None])
    return path


def test_sparse_lights_dataset(data_path, tmp_path):
    out = tmp_path / "dgs.h5"
    args = ["data", "demo", "shadows", "--data", str(data_path), "--resolution", "5", "--tf", "ember"]
    args += ["--lights", "12", "--train-lights", "5", "--azimuth-range", "30,120", "--polar-range", "20,80"]
    assert main(args + ["--out", str(out)]) == 0
    with open_dataset(out) as ds:
        assert ds.task == "dgs" and ds.param_names == ["azimuth", "polar"] and ds.n_frames == 12
        assert ds.frame_shape == (5, 5, 5)
        assert ds.train_mask.sum() == 5
        assert list(ds.param_lo) == [30.0, 20.0] and list(ds.param_hi) == [120.0, 80.0]
        az, polar = ds.params[:, 0], ds.params[:, 1]
        assert np.all((az >= 30) & (az <= 120) & (polar >= 20) & (polar <= 80))
        assert 0.0 <= ds.attrs["held_out_inside_hull"] <= 1.0
        assert ds.attrs["train_selection"].startswith("sparse: 5")
        train = ds.params[ds.train_mask]
        # the training lights span the range: each reaches into the outer fifth of both parameters
        for j, (lo, hi) in enumerate([(30, 120), (20, 80)]):
            span = hi - lo
            assert train[:, j].min() < lo + 0.2 * span and train[:, j].max() > hi - 0.2 * span


def test_train_lights_default_total_and_bad_counts(data_path, tmp_path, capsys):
    out = tmp_path / "d.h5"
    base = ["data", "demo", "shadows", "--data", str(data_path), "--resolution", "4", "--out", str(out)]
    assert main(base + ["--train-lights", "3"]) == 0  # --lights defaults to 3 x 3
    with open_dataset(out) as ds:
        assert ds.n_frames == 9 and ds.train_mask.sum() == 3
    capsys.readouterr()
    for bad, word in [
        (["--train-lights", "5", "--lights", "5"], "--lights"),
        (["--train-lights", "0"], "--train-lights"),
        (["--train-lights", "3", "--test-fraction", "0.2"], "not both"),
        (["--azimuth-range", "200,100"], "--azimuth-range"),
        (["--azimuth-range", "0,400"], "--azimuth-range"),
        (["--polar-range", "x"], "--polar-range"),
    ]:
        assert main(base + bad) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and word in err[0], (bad, err)


def test_light_samples_fill_the_ranges_area_uniformly():
    params, uv = light_samples(120, seed=3, polar_range=(30.0, 90.0), azimuth_range=(10.0, 100.0))
    az, polar = params[:, 0], params[:, 1]
    assert np.all((az >= 10) & (az <= 100) & (polar >= 30) & (polar <= 90))
    assert np.all((uv >= 0) & (uv <= 1))
    # equal-area: cos(polar) is uniform over [cos 90, cos 30], so half of the lights lie above its middle
    mid = np.degrees(np.arccos(0.5 * (np.cos(np.radians(30)) + np.cos(np.radians(90)))))
    assert abs(np.mean(polar < mid) - 0.5) < 0.07
