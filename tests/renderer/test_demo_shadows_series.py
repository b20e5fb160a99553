"""``data demo shadows --scene-param``: shadow volumes over (scene parameter, light) for a time series."""

import numpy as np
import torch

from hyperinr_app.cli import main
from hyperinr_core import HashGridConfig, HyperINR, HyperINRConfig, MLPConfig
from hyperinr_core.data.dataset import open_dataset
from hyperinr_renderer import TransferFunction, light_direction
from hyperinr_renderer.decode import Decoder
from hyperinr_renderer.fields import GridField
from hyperinr_renderer.shadows import shadow_volume


def test_series_dataset_matches_shadow_volume_of_the_generated_scene(tmp_path):
    enc = HashGridConfig(3, 3, 2, 9, 4, 2.0)
    model = HyperINR(
        HyperINRConfig(enc, MLPConfig(enc.n_output_dims, 1, 16, 2), ["t"], [0.0], [10.0]),
        np.linspace(0, 1, 3)[:, None],
        generator=torch.Generator().manual_seed(0),
    )
    with torch.no_grad():
        model.encoder_params.normal_(0.0, 2.0, generator=torch.Generator().manual_seed(1))
    model.save(tmp_path / "scene.h5")
    out = tmp_path / "sh.h5"
    args = ["data", "demo", "shadows", "--model", str(tmp_path / "scene.h5"), "--scene-param", "t"]
    args += ["--lights", "5", "--resolution", "10", "--polar-range", "20,70", "--tf", "magma", "--out", str(out)]
    assert main(args) == 0
    with open_dataset(out) as ds:
        assert ds.task == "dgs" and ds.param_names == ["t", "azimuth", "polar"]
        assert list(ds.param_lo) == [0.0, 0.0, 20.0] and list(ds.param_hi) == [10.0, 360.0, 70.0]
        p = ds.params
        assert np.all((p[:, 2] >= 20) & (p[:, 2] <= 70)) and np.ptp(p[:, 0]) > 1.0
        t, az, polar = p[3]
        grid = Decoder().decode(model.generate([t]), 10).float()
        ref = shadow_volume(GridField(grid), TransferFunction.preset("magma"), light_direction(az, polar), 10)
        np.testing.assert_allclose(ds.frame(3), ref.numpy(), atol=1e-5)
        assert ds.frame(3).min() < 0.99  # the scene casts some shadow: the comparison is not trivially 1 == 1
