"""The explorer on an NVS model: the generated image is shown, view sliders and dragging move the view."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest
import torch

os.environ.setdefault("HYPERINR_SETTINGS_ORG", "HyperINR-tests")


@pytest.fixture(scope="module")
def nvs_model(tmp_path_factory):
    """A tiny image HyperINR over (theta, phi) with clearly different encoders (24x32 RGB images)."""
    from hyperinr_core import HashGridConfig, HyperINR, HyperINRConfig, MLPConfig

    g = torch.Generator().manual_seed(0)
    enc = HashGridConfig(2, 3, 2, 10, 4, 2.0)
    cfg = HyperINRConfig(
        enc,
        MLPConfig(enc.n_output_dims, 3, 16, 2),
        ["theta", "phi"],
        [20.0, 0.0],
        [160.0, 180.0],
        k_neighbours=3,
        task="nvs",
        metadata={"frame_shape": [24, 32, 3]},
    )
    model = HyperINR(cfg, np.random.default_rng(0).uniform(0, 1, (8, 2)), generator=g)
    with torch.no_grad():
        model.encoder_params.normal_(0.0, 1.5, generator=g)
        model.mlp.params.mul_(2.5)
    path = tmp_path_factory.mktemp("nvs") / "nvs_model.h5"
    model.save(path)
    return path


def _final(view):
    return view.final and view.image is not None


@pytest.fixture
def window(qtbot, nvs_model, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        pytest.fail("no display for the explorer's GL canvas: run under xvfb-run")
    shown = []
    monkeypatch.setattr(
        QMessageBox, "critical", lambda parent, title, text, *a, **k: shown.append((title, text))
    )
    from hyperinr_app.gui.main_window import MainWindow

    win = MainWindow(interactive_resolutions=(16, 24))
    win.dialogs = shown
    win.resize(700, 600)
    win.show()
    win.open_path(nvs_model)
    qtbot.waitUntil(
        lambda: getattr(win, "nvs_view", None) is not None and _final(win.nvs_view), timeout=30000
    )
    yield win
    win.close()
    qtbot.wait(50)
    assert not [t for t in threading.enumerate() if t.name == "hyperinr-nvs" and t.is_alive()]


def test_opening_an_nvs_model_shows_its_image(window):
    view = window.nvs_view
    assert not window.dialogs and not view.errors
    assert window.centralWidget().currentWidget() is view
    assert view.image.shape == (24, 32, 3) and view.image.std() > 1.0
    assert list(view.sliders) == ["theta", "phi"]
    assert "novel view synthesis" in window.windowTitle()
    # the image is the model's own prediction at the sliders' view direction
    from hyperinr_app.nvs import image_at

    np.testing.assert_array_equal(view.image, image_at(view.model, view.theta(), (24, 32)))


def test_moving_a_view_slider_changes_the_image(qtbot, window):
    view = window.nvs_view
    before = view.image.astype(np.float32)
    with qtbot.waitSignal(view.image_ready, timeout=30000, check_params_cb=lambda r: r.final):
        view.sliders["phi"].setValue(20.0)
    assert view.theta()[1] == pytest.approx(20.0)
    assert np.abs(view.image.astype(np.float32) - before).mean() > 2.0


def test_dragging_the_image_turns_the_view(qtbot, window):
    from PySide6.QtCore import QPoint, Qt

    view = window.nvs_view
    theta0, phi0 = view.theta()
    before = view.image.astype(np.float32)
    c = view.canvas
    mid = QPoint(c.width() // 2, c.height() // 2)
    with qtbot.waitSignal(view.image_ready, timeout=30000, check_params_cb=lambda r: r.final):
        qtbot.mousePress(c, Qt.LeftButton, pos=mid)
        qtbot.mouseMove(c, mid + QPoint(-60, 0))
        qtbot.mouseMove(c, mid + QPoint(-60, 20))
        qtbot.mouseRelease(c, Qt.LeftButton, pos=mid + QPoint(-60, 20))
    # The drag made two requests: the first one's final image may be followed by the second one's coarse
    # image in the same delivery; wait for the newest request's final image.
    qtbot.waitUntil(lambda: _final(view), timeout=30000)
    theta1, phi1 = view.theta()
    assert phi1 > phi0 and theta1 < theta0  # dragging left/down: azimuth up, polar angle down
    assert np.abs(view.image.astype(np.float32) - before).mean() > 0.5


def test_save_image_and_orbit(window, tmp_path):
    import imageio.v3 as iio

    view = window.nvs_view
    view.save_image(tmp_path / "view.png")
    assert iio.imread(tmp_path / "view.png").shape == (24, 32, 3)
    view.save_orbit(tmp_path / "orbit.gif", frames=4)
    assert len(iio.imread(tmp_path / "orbit.gif", index=None)) == 4
