"""renderer.scene.Scene: a model at its parameters, a shadow model and the light, turned into INRs and grids;
and the contract that no other module of the app or the renderer does this itself."""

import ast
from pathlib import Path

import numpy as np
import pytest
import torch

from hyperinr_core import HashGridConfig, HyperINR, HyperINRConfig, MLPConfig
from hyperinr_core.errors import HyperINRError
from hyperinr_renderer.decode import Decoder, DecoderConfig
from hyperinr_renderer.light import Light
from hyperinr_renderer.scene import Scene, light_outside, light_values, shadow_theta

ROOT = Path(__file__).resolve().parents[2]
ENC = HashGridConfig(3, 2, 2, 8, 4, 2.0)
MLP = MLPConfig(ENC.n_output_dims, 1)


def _model(names, lo, hi, seed=0, n=5):
    cfg = HyperINRConfig(encoding=ENC, mlp=MLP, param_names=list(names), param_lo=list(lo), param_hi=list(hi),
                         value_range=(2.0, 6.0))
    g = np.random.default_rng(seed)
    model = HyperINR(cfg, np.asarray(lo) + g.random((n, len(names))) * (np.asarray(hi) - np.asarray(lo)))
    with torch.no_grad():  # weights far from zero, so that different parameters give different INRs
        model.encoder_params.copy_(torch.randn_like(model.encoder_params) * 0.5)
        model.mlp.params.copy_(torch.randn_like(model.mlp.params) * 0.3)
    return model


@pytest.fixture(scope="module")
def decoder():
    return Decoder(DecoderConfig(dtype="float32", compile=False))


def test_volume_nodes_plane_and_points_agree_with_the_inr(decoder):
    model = _model(["t"], [0.0], [10.0])
    scene = Scene(model, [3.5], decoder=decoder)
    inr = model.generate([3.5])
    vol = scene.volume((5, 6, 7))
    ref = inr.sample_grid((5, 6, 7)).reshape(5, 6, 7).clamp(0, 1)
    torch.testing.assert_close(vol, ref, atol=1e-5, rtol=0)
    idx = [np.array([0, 4]), np.array([1, 2, 5]), np.array([6])]
    torch.testing.assert_close(scene.nodes((5, 6, 7), idx), vol[np.ix_(*idx)], atol=1e-5, rtol=0)
    torch.testing.assert_close(scene.plane((5, 6, 7), 1, 2), vol[:, 2, :], atol=1e-5, rtol=0)
    x = torch.rand(9, 3)
    torch.testing.assert_close(scene.points(x), inr(x)[:, 0].clamp(0, 1), atol=1e-5, rtol=0)
    assert scene.to_data_units(torch.tensor([0.0, 1.0])).tolist() == [2.0, 6.0]


def test_the_inr_is_generated_once_and_moves_with_the_scene(decoder):
    model = _model(["t"], [0.0], [10.0])
    calls = []
    real = model.generate
    model.generate = lambda theta: calls.append(list(theta)) or real(theta)
    scene = Scene(model, [1.0], decoder=decoder)
    a = scene.inr()
    assert scene.inr() is a and calls == [[1.0]]
    assert scene.with_light((10.0, 20.0)).inr() is a  # the light moves the shadow only
    assert scene.updated(decoder=None).inr() is a
    kept = a.enc_params.clone()
    b = scene.updated(theta=[2.0]).inr()
    assert calls == [[1.0], [2.0]] and not torch.equal(b.enc_params, kept)
    # the model wrote t=2 into the buffer the first INR viewed: the first scene notices and generates again
    assert torch.equal(scene.inr().enc_params, kept) and calls == [[1.0], [2.0], [1.0]]


def test_named_parameters_default_to_their_midpoint():
    model = _model(["t", "s"], [0.0, -1.0], [10.0, 3.0])
    assert Scene.at(model, {"s": 2.5}).theta == (5.0, 2.5)
    with pytest.raises(ValueError, match="no parameter u"):
        Scene.at(model, {"u": 1.0})
    with pytest.raises(ValueError, match="2 parameters"):
        Scene(model, [1.0])


def test_the_light_enters_a_shadow_model_one_way():
    full = _model(["t", "azimuth", "polar"], [0.0, 0.0, 0.0], [10.0, 360.0, 180.0])
    assert light_values(full, Light(azimuth=400.0, polar=30.0)) == {"azimuth": 40.0, "polar": 30.0}
    assert light_values(full, (-90.0, 200.0)) == {"azimuth": 270.0, "polar": 180.0}
    # a partial turn: the circularly nearer end of the range
    part = _model(["azimuth", "polar"], [-30.0, 20.0], [90.0, 80.0])
    assert light_values(part, (350.0, 50.0)) == {"azimuth": -10.0, "polar": 50.0}
    assert light_values(part, (100.0, 10.0)) == {"azimuth": 90.0, "polar": 20.0}
    assert light_values(part, (320.0, 90.0)) == {"azimuth": -30.0, "polar": 80.0}
    assert light_values(part, (200.0, 90.0))["azimuth"] == 90.0  # 110 from 90, 130 from -30
    assert light_outside(full, (400.0, 30.0)) == []  # whole turns: the same light
    assert light_outside(part, (200.0, 10.0)) == [("azimuth", 200.0, -30.0, 90.0), ("polar", 10.0, 20.0, 80.0)]
    assert light_outside(part, (-20.0, 50.0)) == []  # 340 is -20, inside [-30, 90]
    # the scene's parameters of the same name feed it; others sit mid-range
    assert shadow_theta(full, (45.0, 60.0), {"t": 7.0, "other": 1.0}) == [7.0, 45.0, 60.0]
    assert shadow_theta(full, (45.0, 60.0)) == [5.0, 45.0, 60.0]
    scalar = _model(["t"], [0.0], [10.0])
    with pytest.raises(HyperINRError, match="not a shadow model"):
        shadow_theta(scalar, (0.0, 0.0))


def test_a_scene_with_a_shadow_model_generates_its_shadow_at_the_merged_parameters(decoder):
    scalar = _model(["t"], [0.0], [10.0])
    shadow = _model(["t", "azimuth", "polar"], [0.0, 0.0, 0.0], [10.0, 360.0, 180.0], seed=1)
    scene = Scene(scalar, [2.0], shadow, Light(azimuth=370.0, polar=50.0), decoder)
    assert scene.shadow_params == [2.0, 10.0, 50.0]
    got = scene.shadow_volume(4)
    want = shadow.generate([2.0, 10.0, 50.0]).sample_grid((4, 4, 4)).reshape(4, 4, 4).clamp(0, 1)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=0)
    assert Scene(scalar, [2.0], decoder=decoder).shadow_volume(4) is None
    before = scene.shadow_inr().enc_params.clone()
    moved = scene.with_light((90.0, 50.0))
    assert moved.shadow_params == [2.0, 90.0, 50.0]
    assert not torch.equal(moved.shadow_inr().enc_params, before)


def _violations(tree: ast.AST, where: str) -> list[str]:
    """Calls of a model's ``generate`` (parameters -> INR) and the light's parameter names written into a
    mapping (a light merged into shadow parameters)."""
    light_names = {"azimuth", "polar"}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "generate":
            found.append(f"{where}:{node.lineno}: .generate(...)")
        if isinstance(node, ast.Dict) and any(
                isinstance(k, ast.Constant) and k.value in light_names for k in node.keys):
            found.append(f"{where}:{node.lineno}: a mapping with a light key")
        targets = node.targets if isinstance(node, ast.Assign) else []
        for t in (e for tgt in targets for e in (tgt.elts if isinstance(tgt, ast.Tuple) else [tgt])):
            key = t.slice if isinstance(t, ast.Subscript) else None
            if isinstance(key, ast.Constant) and key.value in light_names:
                found.append(f"{where}:{node.lineno}: an item set under a light key")
    return found


def test_no_module_but_the_scene_generates_inrs_or_merges_the_light():
    """Outside renderer/scene.py, nothing in the app or the renderer turns parameters into an INR or merges
    the light into shadow parameters: every view goes through the Scene."""
    found = []
    for top in ("app", "renderer"):
        for path in sorted((ROOT / top).rglob("*.py")):
            where = path.relative_to(ROOT).as_posix()
            if where != "renderer/scene.py":
                found += _violations(ast.parse(path.read_text(), where), where)
    assert not found, "\n".join(found)
    assert _violations(ast.parse((ROOT / "renderer/scene.py").read_text()), "scene")  # the scan sees them


def test_the_scan_finds_each_form_it_forbids():
    code = ("inr = model.generate(theta)\n"
            "values = {**params, 'azimuth': a % 360.0, 'polar': p}\n"
            "values['azimuth'], values['polar'] = a, p\n"
            "other['polar'] = p\n")
    assert len(_violations(ast.parse(code), "x")) == 5
