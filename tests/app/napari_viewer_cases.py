"""The napari plugin in a napari viewer (under Xvfb): opening the demo, scrubbing the dims slider, the dock
widget. Run by tests/app/test_napari_plugin.py in a process of its own, with napari's pytest plugin. The expected values come from the core API (HyperINR.load, generate, INR.sample_grid), not from the
plugin's code."""

from pathlib import Path

import numpy as np
import pytest

napari = pytest.importorskip("napari", reason="napari is not installed (pip install '.[napari]')")

ASSETS = Path(__file__).resolve().parents[2] / "assets"
DEMO = ASSETS / "demo_tgv.hinr"


@pytest.fixture(autouse=True)
def eager_decoding(monkeypatch):
    """No torch.compile thread competing with the test for the two cores (eager decoding is exact too)."""
    import hyperinr_core.model.fast

    monkeypatch.setattr(hyperinr_core.model.fast, "NO_COMPILE", True)


@pytest.fixture(scope="module")
def core_model():
    from hyperinr_core.model.hyperinr import HyperINR

    return HyperINR.load(DEMO)


def core_volume(model, t: float, resolution) -> np.ndarray:
    inr = model.generate([t])
    return inr.to_data_units(inr.sample_grid(resolution).clamp(0.0, 1.0)).numpy()


def tolerance(model) -> float:
    lo, hi = model.cfg.value_range
    return 1e-5 * (hi - lo)


def shown_values(layer, points) -> np.ndarray:
    """What napari shows at data positions ``points`` of the current slice (napari's own slicing)."""
    return np.array([layer.get_value(layer.data_to_world(p), world=True) for p in points], dtype=np.float64)


def test_napari_opens_the_demo_and_the_dims_slider_generates_timesteps(make_napari_viewer, core_model,
                                                                        monkeypatch):
    from napari.settings import get_settings

    viewer = make_napari_viewer()
    # `napari assets/demo_tgv.hinr`: no plugin named and no stored reader choice, as napari's command line
    # opens it. Only this plugin claims *.hinr, so napari asks nothing (with several readers it would raise
    # MultipleReaderError here, where the command line shows a dialog).
    monkeypatch.setattr(get_settings().plugins, "extension2reader", {})
    layers = viewer.open(str(DEMO), plugin=None)
    assert len(layers) == 1
    layer = layers[0]
    data = layer.data
    assert type(data).__name__ == "ParameterVolumes"
    assert data.shape == (80, 64, 64, 64)  # 4x the 20 training frames, the 64^3 training grid
    assert tuple(viewer.dims.axis_labels) == ("t", "z", "y", "x")
    assert tuple(layer.contrast_limits) == pytest.approx(core_model.cfg.value_range)
    tol = tolerance(core_model)
    rng = np.random.default_rng(0)
    for step in (0, 27, 79):  # scrub the t slider
        viewer.dims.set_current_step(0, step)
        t = viewer.dims.point[0]  # world coordinate = the parameter in model units
        assert t == pytest.approx(step * 10.0 / 79)
        z = viewer.dims.current_step[1]
        ref = core_volume(core_model, t, 64)
        np.testing.assert_allclose(np.asarray(layer.data[step, z]), ref[z], atol=tol)
        pts = [(step, z, int(y), int(x)) for y, x in rng.integers(0, 64, (6, 2))]
        np.testing.assert_allclose(shown_values(layer, pts), [ref[p[1:]] for p in pts], atol=tol)
    assert data.stats["volume_decodes"] == 0  # the 2-D view decodes planes only
    viewer.dims.ndisplay = 3
    before = data.stats["volume_decodes"]
    viewer.dims.set_current_step(0, 40)
    assert data.stats["volume_decodes"] > before  # the 3-D view decodes whole volumes
    np.testing.assert_allclose(layer.data[40], core_volume(core_model, 40 * 10.0 / 79, 64), atol=tol)


def test_dock_widget_keeps_the_real_valued_slider_in_sync(make_napari_viewer, core_model):
    viewer = make_napari_viewer()
    viewer.open(str(DEMO), plugin="hyperinr-explorer")
    _, widget = viewer.window.add_plugin_dock_widget("hyperinr-explorer", "HyperINR parameters")
    layer = viewer.layers[0]
    slider = widget.sliders[0]
    viewer.dims.set_current_step(0, 12)
    assert slider.value() == pytest.approx(12 * 10.0 / 79, abs=1e-4)
    widget.set_parameter(0, 7.3)  # the model-units slider moves napari's slider to the nearest step
    assert viewer.dims.current_step[0] == round(7.3 / 10 * 79) == 58
    assert slider.value() == pytest.approx(58 * 10.0 / 79, abs=1e-4)
    widget.resolution.setValue(32)  # decode resolution: same world extent, finer or coarser grid
    assert layer.data.shape == (80, 32, 32, 32)
    assert layer.data.stats["point_decodes"] == 1  # one plane decoded for the change, not one per setter
    assert list(layer.scale[1:]) == pytest.approx([63 / 31] * 3)
    assert viewer.dims.current_step[0] == 58
    z = viewer.dims.current_step[1]
    ref = core_volume(core_model, 58 * 10 / 79, 32)
    np.testing.assert_allclose(shown_values(layer, [(58, z, 5, 9), (58, z, 20, 30)]),
                               [ref[z, 5, 9], ref[z, 20, 30]], atol=tolerance(core_model))
    widget.step_spins[0].setValue(21)  # steps along t: every 0.5 in model units
    assert layer.data.shape[0] == 21
    assert layer.data.stats["point_decodes"] == 1
    assert viewer.dims.point[0] == pytest.approx(7.5)  # the nearest of the new steps to 7.34


def test_bundle_adds_the_shadow_layer(make_napari_viewer):
    from hyperinr_core.model.hyperinr import HyperINR

    viewer = make_napari_viewer()
    # `napari assets/demo.json`: no other reader claims .json, so no question and no plugin named
    main, shadow = viewer.open(str(ASSETS / "demo.json"), plugin=None)
    assert shadow.visible is False and shadow.data.axes == ["t"]
    assert main.colormap.name.startswith("hyperinr-ember")  # the bundle's transfer function
    _, widget = viewer.window.add_plugin_dock_widget("hyperinr-explorer", "HyperINR parameters")
    widget.shadow_show.setChecked(True)
    assert shadow.visible
    widget.azimuth.setValue(120.0)
    widget.polar.setValue(30.0)
    assert shadow.data.fixed == {"azimuth": 120.0, "polar": 30.0}
    viewer.dims.set_current_step(0, 20)
    z = viewer.dims.current_step[1]
    sm = HyperINR.load(ASSETS / "demo_tgv_shadow.hinr")
    inr = sm.generate([20 * 10 / 79, 120.0, 30.0])
    ref = inr.to_data_units(inr.sample_grid(64).clamp(0.0, 1.0)).numpy()
    np.testing.assert_allclose(np.asarray(shadow.data[20, z]), ref[z], atol=1e-5)
    widget.resolution.setValue(48)
    assert main.data.resolution == shadow.data.resolution == (48, 48, 48)


def test_with_napari_async_slicing_the_gui_thread_does_not_decode(make_napari_viewer, monkeypatch, qtbot):
    import threading

    from napari.settings import get_settings

    monkeypatch.setattr(get_settings().experimental, "async_", True)
    viewer = make_napari_viewer()
    layer = viewer.open(str(DEMO), plugin="hyperinr-explorer")[0]
    data = layer.data
    qtbot.waitUntil(lambda: data.stats["point_decodes"] >= 1, timeout=60000)
    seen = []
    decode = data.decoder.decode_points

    def spy(*args, **kwargs):
        seen.append(threading.current_thread() is threading.main_thread())
        return decode(*args, **kwargs)

    monkeypatch.setattr(data.decoder, "decode_points", spy)
    viewer.dims.set_current_step(0, 50)
    qtbot.waitUntil(lambda: len(seen) >= 1 and layer.loaded, timeout=60000)
    assert seen == [False]  # decoded on napari's slicing thread, not the GUI thread


def test_n_dimensional_model_gets_one_dims_slider_per_parameter(make_napari_viewer):
    from hyperinr_core.model.hyperinr import HyperINR

    viewer = make_napari_viewer()
    layer = viewer.open(str(ASSETS / "demo_tgv_shadow.hinr"), plugin="hyperinr-explorer")[0]
    assert layer.data.shape == (24, 24, 24, 48, 48, 48)
    assert tuple(viewer.dims.axis_labels) == ("t", "azimuth", "polar", "z", "y", "x")
    _, widget = viewer.window.add_plugin_dock_widget("hyperinr-explorer", "HyperINR parameters")
    assert len(widget.sliders) == 3
    widget.set_parameter(1, 200.0)  # azimuth in degrees: the nearest of 24 steps over [0, 360]
    widget.set_parameter(2, 30.0)  # polar over [5, 85]
    step = viewer.dims.current_step
    assert step[1] == round(200 / 360 * 23) and step[2] == round(25 / 80 * 23)
    theta = [viewer.dims.point[0], viewer.dims.point[1], viewer.dims.point[2]]
    inr = HyperINR.load(ASSETS / "demo_tgv_shadow.hinr").generate(theta)
    ref = inr.to_data_units(inr.sample_grid(48).clamp(0.0, 1.0)).numpy()
    z = step[3]
    np.testing.assert_allclose(np.asarray(layer.data[step[:3] + (z,)]), ref[z], atol=1e-5)
