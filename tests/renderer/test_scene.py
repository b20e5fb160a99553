"""Camera, light, transfer function and field contracts shared with the GL path."""

import json

import numpy as np
import pytest
import torch

from hyperinr_core.errors import FileFormatError, HyperINRError
from hyperinr_renderer import (
    AnalyticField,
    Camera,
    GridField,
    Light,
    TransferFunction,
    light_angles,
    light_direction,
)
from hyperinr_renderer.transfer import opacity_correction, presets


def test_view_matrix_maps_eye_to_origin_and_target_down_minus_z():
    cam = Camera(distance=3.0, azimuth=70.0, elevation=-25.0)
    v = cam.view_matrix()
    assert v.dtype == np.float32
    np.testing.assert_allclose(v @ np.r_[cam.eye(), 1.0], [0, 0, 0, 1], atol=1e-6)
    np.testing.assert_allclose(v @ np.r_[cam.target, 1.0], [0, 0, -3.0, 1], atol=1e-5)
    # world up projects to camera +y
    assert (v[:3, :3] @ np.array([0, 0, 1.0]))[1] > 0.5


def test_projection_matches_rays():
    cam = Camera(azimuth=10.0, elevation=35.0, fov=40.0)
    w, h = 8, 6
    o, d = cam.rays(w, h)
    assert o.shape == (w * h, 3) and torch.allclose(d.norm(dim=1), torch.ones(w * h))
    p = cam.projection_matrix(w / h) @ cam.view_matrix()
    pts = np.c_[(o + 2.0 * d).numpy(), np.ones(w * h)]
    clip = pts @ p.T
    ndc = clip[:, :2] / clip[:, 3:]
    px = (ndc[:, 0] + 1) / 2 * w
    py = (1 - ndc[:, 1]) / 2 * h  # row 0 at the top
    jj, ii = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    np.testing.assert_allclose(px, jj.ravel(), atol=1e-3)
    np.testing.assert_allclose(py, ii.ravel(), atol=1e-3)


def test_camera_orbit_zoom_round_trip():
    cam = Camera(distance=2.2).orbit(350.0, 100.0).zoom(0.5)
    assert cam.elevation == 89.0 and abs(cam.azimuth - 20.0) < 1e-9 and cam.distance == 1.1
    assert Camera.from_dict(json.loads(json.dumps(cam.to_dict()))) == cam


@pytest.mark.parametrize("az,polar", [(0, 0), (45, 45), (200, 120), (359, 179)])
def test_light_direction_round_trip(az, polar):
    d = light_direction(az, polar)
    assert abs(np.linalg.norm(d) - 1) < 1e-12
    a2, p2 = light_angles(d)
    assert abs(p2 - polar) < 1e-9
    if 0 < polar < 180:
        assert abs(a2 - az) < 1e-9
    np.testing.assert_allclose(light_direction(0, 0), [0, 0, 1], atol=1e-12)
    np.testing.assert_allclose(Light(azimuth=90, polar=90).direction(), [0, 1, 0], atol=1e-12)


def test_transfer_function_table_json_and_fingerprint(tmp_path):
    tf = TransferFunction("magma", [(0.0, 0.0), (0.5, 0.2), (1.0, 0.4)], density=2.0)
    t = tf.table(5)
    assert t.shape == (5, 4) and t.dtype == np.float32
    np.testing.assert_allclose(t[:, 3], 1 - (1 - np.array([0, 0.1, 0.2, 0.3, 0.4])) ** 2, rtol=1e-6)
    np.testing.assert_allclose(t[0, :3], [0, 0, 4 / 255], atol=1e-6)
    p = tmp_path / "tf.json"
    tf.to_json(p)
    back = TransferFunction.from_json(p)
    assert back == tf and back.fingerprint() == tf.fingerprint()
    assert tf.with_opacity([(0, 0), (1, 0.5)]).fingerprint() != tf.fingerprint()
    assert TransferFunction.load(str(p)) == tf
    for name in presets():
        assert TransferFunction.preset(name).table().shape == (256, 4)


def test_transfer_function_bad_input(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(FileFormatError, match="bad.json"):
        TransferFunction.from_json(bad)
    bad.write_text(json.dumps({"colormap": "nope"}))
    with pytest.raises(FileFormatError, match="colormap"):
        TransferFunction.from_json(bad)
    bad.write_text(json.dumps({"opacity": [[0.5, 2.0]]}))
    with pytest.raises(FileFormatError):
        TransferFunction.from_json(bad)
    with pytest.raises(HyperINRError):
        TransferFunction.load("no-such-preset")


def test_opacity_correction_composes():
    a = 0.3
    two_half_steps = 1 - (1 - opacity_correction(a, 0.5, 1.0)) ** 2
    assert abs(two_half_steps - a) < 1e-12


def test_grid_field_is_node_centred_trilinear():
    g = torch.rand(4, 5, 6)
    f = GridField(g)
    z, y, x = 2, 3, 4
    p = torch.tensor([[x / 5, y / 4, z / 3]])
    assert torch.allclose(f(p), g[z, y, x].clamp(0, 1).reshape(1), atol=1e-6)
    mid = torch.tensor([[0.5 / 5, 0.0, 0.0]])
    assert torch.allclose(f(mid), (g[0, 0, 0] + g[0, 0, 1]).reshape(1) / 2, atol=1e-6)
    a = AnalyticField(lambda x: x[:, 0] * 2)
    assert torch.allclose(a(torch.tensor([[0.25, 0, 0], [0.9, 0, 0]])), torch.tensor([0.5, 1.0]))
