"""``hyperinr render`` and ``hyperinr data demo shadows`` end to end on tiny inputs."""

import argparse

import numpy as np
import pytest
import torch

from hyperinr_app.cli import main


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    from hyperinr_core import HashGridConfig, HyperINR, HyperINRConfig, MLPConfig

    enc = HashGridConfig(3, 2, 2, 10, 4, 2.0)
    cfg = HyperINRConfig(
        encoding=enc, mlp=MLPConfig(enc.n_output_dims, 1), param_names=["t"], param_lo=[0.0], param_hi=[10.0]
    )
    model = HyperINR(cfg, np.array([[0.0], [1.0]]), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():  # random weights big enough to give a visible field
        model.encoder_params.uniform_(-1.0, 1.0)
    path = tmp_path_factory.mktemp("m") / "model.h5"
    model.save(path)
    return path


@pytest.fixture(scope="module")
def data_path(tmp_path_factory):
    from hyperinr_core.data.dataset_writer import write_dataset
    from hyperinr_core.model.inr import grid_coordinates
    from hyperinr_renderer import scenes

    vol = scenes.blobs(width=0.12)(grid_coordinates((17, 17, 17))).view(17, 17, 17).numpy()
    path = tmp_path_factory.mktemp("d") / "data.h5"
    write_dataset(path, "tsr", ["t"], [0.0], [1.0], np.array([[0.0], [1.0]]), np.stack([vol, vol * 0.5]))
    return path


def test_render_writes_png(model_path, tmp_path):
    import imageio.v3 as iio

    out = tmp_path / "img.png"
    rc = main(
        [
            "render",
            "--model",
            str(model_path),
            "--param",
            "t=2.5",
            "--size",
            "20x12",
            "--spp",
            "2",
            "--shadow",
            "rays",
            "--tf",
            "magma",
            "--camera",
            "40,10,2.5",
            "--light",
            "10,30",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    img = iio.imread(out)
    assert img.shape == (12, 20, 3) and img.dtype == np.uint8


def test_render_from_dataset_with_computed_shadow_field(data_path, tmp_path):
    import imageio.v3 as iio

    out = tmp_path / "img.png"
    rc = main(
        [
            "render",
            "--data",
            str(data_path),
            "--frame",
            "0",
            "--size",
            "16x16",
            "--spp",
            "1",
            "--shadow",
            "field",
            "--shadow-resolution",
            "9",
            "--tf",
            "ember",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    img = iio.imread(out).astype(int)
    assert img.std() > 0  # the blobs are visible over the background


@pytest.mark.parametrize(
    "bad",
    [["--param", "nope=1"], ["--param", "t=x"], ["--size", "12"], ["--tf", "no-such-tf"], ["--camera", "1"]],
)
def test_render_bad_arguments_exit_2(model_path, tmp_path, bad, capsys):
    args = [
        "render",
        "--model",
        str(model_path),
        "--size",
        "8x8",
        "--spp",
        "1",
        "--out",
        str(tmp_path / "x.png"),
    ]
    assert main(args + bad) == 2
    assert "error" in capsys.readouterr().err


def test_demo_shadows_writes_dgs_dataset(data_path, tmp_path):
    from hyperinr_app.commands import demo_shadows
    from hyperinr_core.data.dataset import open_dataset
    from hyperinr_renderer import TransferFunction

    parser = argparse.ArgumentParser()
    demo_shadows.register(parser.add_subparsers())
    out = tmp_path / "dgs.h5"
    args = parser.parse_args(
        [
            "shadows",
            "--data",
            str(data_path),
            "--lights",
            "5",
            "--resolution",
            "9",
            "--tf",
            "ember",
            "--out",
            str(out),
        ]
    )
    assert args.func(args) == 0
    with open_dataset(out) as ds:
        assert ds.task == "dgs" and ds.param_names == ["azimuth", "polar"] and ds.frame_shape == (9, 9, 9)
        assert ds.n_frames == 5 and ds.train_mask.sum() in (4, 5)
        assert ds.attrs["tf_fingerprint"] == TransferFunction.preset("ember").fingerprint()
        frames = ds.frames(range(5))
        assert 0.0 <= frames.min() < 1.0 and frames.max() == 1.0
        assert (ds.params[:, 1] >= 0).all() and (ds.params[:, 1] <= 180).all()
