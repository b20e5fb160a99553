"""The explorer window on a tiny bundle: scrubbing, light, TF, exports, errors."""

import numpy as np
import pytest
from PySide6.QtWidgets import QDockWidget


def snapshot(win, spp=2):
    """The canvas' current scene rendered offscreen through the same GL program (deterministic)."""
    return win.canvas.render_image(48, 36, spp=spp).astype(np.float32)


def wait_final(qtbot, win):
    with qtbot.waitSignal(win.result_ready, timeout=30000, check_params_cb=lambda r: r.final):
        pass


def test_window_opens_on_the_bundle(qtbot, window):
    assert list(window.param_panel.sliders) == ["t"]
    assert window.windowTitle().endswith("test")
    assert window.session.field_unavailable_reason() is None  # the shadow model matches the bundle's TF
    # the status line is refreshed at most 5 times a second
    qtbot.waitUntil(lambda: "generate" in window.status_label.text() and "spp" in window.status_label.text(),
                    timeout=2000)
    assert window.canvas.spp >= 4


def test_timestep_slider_changes_the_image(qtbot, window):
    before = snapshot(window)
    with qtbot.waitSignal(window.result_ready, timeout=30000, check_params_cb=lambda r: r.final):
        window.param_panel.sliders["t"].setValue(7.5)
    assert np.abs(snapshot(window) - before).mean() > 0.5


def test_moving_the_light_changes_the_shadowed_image(qtbot, window):
    # the default: the shadow model matches the TF
    assert window.light_panel.shadow_combo.currentText() == "field"
    before = snapshot(window)
    with qtbot.waitSignal(window.result_ready, timeout=30000, check_params_cb=lambda r: r.shadow is not None):
        window.light_panel.azimuth.setValue(200.0)
    assert window.session.light.azimuth == pytest.approx(200.0)
    assert np.abs(snapshot(window) - before).mean() > 0.1


def test_the_canvas_window_takes_mouse_and_keys(qtbot, window):
    """The canvas is a native GL window in a container: dragging on it orbits, the wheel zooms, and the arrow
    keys still step the timestep while it has the focus."""
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest

    gl_window = window.canvas.native
    az, dist = window.canvas.camera.azimuth, window.canvas.camera.distance
    mid = QPoint(gl_window.width() // 2, gl_window.height() // 2)
    QTest.mousePress(gl_window, Qt.LeftButton, Qt.NoModifier, mid)
    for dx in (40, 80):
        qtbot.wait(20)  # vispy drops moves that follow each other within 10 ms
        QTest.mouseMove(gl_window, mid + QPoint(dx, 0))
    QTest.mouseRelease(gl_window, Qt.LeftButton, Qt.NoModifier, mid + QPoint(80, 0))
    assert window.canvas.camera.azimuth != pytest.approx(az)
    t0 = window.param_panel.sliders["t"].value()
    QTest.keyClick(gl_window, Qt.Key_Right)
    assert window.param_panel.sliders["t"].value() > t0
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication

    window.activateWindow()
    gl_window.requestActivate()
    qtbot.waitUntil(lambda: QGuiApplication.focusWindow() is gl_window, timeout=5000)
    assert QApplication.activeWindow() is window  # the window around the GL window is the active one
    QTest.keyClick(gl_window, Qt.Key_R, Qt.ControlModifier)  # View > Reset camera, from the GL window
    assert window.canvas.camera.azimuth == pytest.approx(az)
    from PySide6.QtCore import QCoreApplication, QPointF
    from PySide6.QtGui import QWheelEvent

    at = QPointF(mid)
    QCoreApplication.sendEvent(gl_window, QWheelEvent(at, QPointF(gl_window.mapToGlobal(mid)), QPoint(0, 0),
                                                      QPoint(0, 120), Qt.NoButton, Qt.NoModifier,
                                                      Qt.NoScrollPhase, False))
    assert window.canvas.camera.distance < dist


def test_editing_the_tf_changes_the_image_and_can_disable_field_shadows(window):
    window.light_panel.shadow_combo.setCurrentText("field")
    before = snapshot(window)
    window.tf_panel.opacity.set_points([(0.0, 0.0), (0.1, 0.3), (1.0, 0.5)], emit=True)
    assert np.abs(snapshot(window) - before).mean() > 0.5
    # The shadow model was made for the bundle's TF: field shadows are no longer offered, and it says why.
    assert window.session.field_unavailable_reason() is not None
    assert window.light_panel.shadow_combo.currentText() == "none"
    assert "transfer function" in window.light_panel.shadow_reason.text()


def test_export_frame_writes_a_png_of_the_requested_size(qtbot, window, tmp_path):
    import imageio.v3 as iio

    from hyperinr_app.gui.export_dialogs import ExportFrameDialog

    dlg = ExportFrameDialog(window)
    dlg.width_.setValue(40)
    dlg.height_.setValue(30)
    dlg.spp.setValue(2)
    out = tmp_path / "frame.png"
    dlg.path.setText(str(out))
    dlg.start()
    qtbot.waitUntil(out.exists, timeout=60000)
    assert iio.imread(out).shape == (30, 40, 3)


def test_export_errors_name_the_problem_and_the_window_keeps_working(qtbot, window, tmp_path, monkeypatch):
    """An export to a path that cannot be written, and an export that runs out of memory: an error dialog
    each, nothing written, the canvas back to refining, and the next export works."""
    import hyperinr_app.export
    from hyperinr_app.gui.export_dialogs import ExportFrameDialog

    def export(path):
        dlg = ExportFrameDialog(window)
        dlg.width_.setValue(24)
        dlg.height_.setValue(16)
        dlg.spp.setValue(1)
        dlg.path.setText(str(path))
        n = len(window.dialogs)
        dlg.start()
        qtbot.waitUntil(lambda: len(window.dialogs) > n or path.exists(), timeout=60000)
        return window.dialogs[n:]

    (tmp_path / "a-file").write_text("not a directory")
    bad = tmp_path / "a-file" / "frame.png"
    shown = export(bad)
    assert shown and "Exporting frame failed" in shown[0][0] and "a-file" in shown[0][1]
    assert not bad.exists() and window.canvas.progressive

    real = hyperinr_app.export.export_frame

    def out_of_memory(*a, **k):
        raise MemoryError

    monkeypatch.setattr(hyperinr_app.export, "export_frame", out_of_memory)
    shown = export(tmp_path / "oom.png")
    assert shown and shown[0][1] == "out of memory" and not (tmp_path / "oom.png").exists()
    monkeypatch.setattr(hyperinr_app.export, "export_frame", real)
    assert not export(tmp_path / "ok.png") and (tmp_path / "ok.png").exists()


def test_export_animation_frame_count_and_cancel_leaves_nothing(qtbot, window, tmp_path):
    import imageio.v3 as iio

    from hyperinr_app.gui.export_dialogs import ExportAnimationDialog

    def dialog(path, frames):
        d = ExportAnimationDialog(window)
        d.kind.setCurrentIndex(0)  # parameter t
        d.frames.setValue(frames)
        d.width_.setValue(32)
        d.height_.setValue(24)
        d.spp.setValue(1)
        d.path.setText(str(path))
        return d

    out = tmp_path / "anim.mp4"
    dialog(out, 3).start()
    qtbot.waitUntil(out.exists, timeout=120000)
    assert iio.imread(out).shape[0] == 3
    # Cancel right away: no file, no temporary left behind.
    cancelled = tmp_path / "cancelled.mp4"
    dialog(cancelled, 200).start()
    window.export_progress.canceled.emit()  # what clicking Cancel does
    qtbot.waitUntil(lambda: window.tasks.pending == 0, timeout=120000)
    assert not cancelled.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["anim.mp4"]


def test_corrupt_file_shows_an_error_and_the_window_keeps_working(qtbot, window, tmp_path):
    bad = tmp_path / "broken.h5"
    bad.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    window.open_path(bad)
    qtbot.waitUntil(lambda: bool(window.dialogs), timeout=20000)
    title, text = window.dialogs[-1]
    assert str(bad) in text
    assert window.session.model is not None  # what was open is still open
    with qtbot.waitSignal(window.result_ready, timeout=30000):
        window.param_panel.sliders["t"].setValue(2.0)


def test_dataset_of_the_wrong_kind_is_an_error_not_a_crash(qtbot, window, tmp_path):
    (tmp_path / "x.json").write_text('{"format": "something-else"}')
    window.open_path(tmp_path / "x.json")
    qtbot.waitUntil(lambda: bool(window.dialogs), timeout=20000)
    assert "not a HyperINR bundle" in window.dialogs[-1][1]


def test_a_dataset_opens_a_comparison_of_ground_truth_hyperinr_and_lerp(qtbot, window, tmp_path):
    from tests.core.training_helpers import tiny_series

    data = tiny_series(tmp_path / "series.h5", n_frames=5, stride=2)  # frames 0, 2, 4 train; 1, 3 held out
    window.open_path(data)
    qtbot.waitUntil(lambda: window.findChild(QDockWidget, "Compare") is not None, timeout=20000)
    dock = window.findChild(QDockWidget, "Compare")
    assert dock.frame.maximum() == 4
    qtbot.waitUntil(lambda: "PSNR" in dock.info.text() or bool(window.errors), timeout=60000)
    assert not window.errors, window.errors
    assert "training frame" in dock.info.text()
    assert all(not lab.pixmap().isNull() for lab in dock.images.values())
    dock.frame.setValue(1)
    qtbot.waitUntil(lambda: "held-out frame" in dock.info.text(), timeout=60000)
    # LERP between two smooth neighbouring frames of a moving blob: a finite, sizeable PSNR
    lerp_db = float(dock.info.text().split("LERP")[1].split("dB")[0])
    assert 10.0 < lerp_db < 100.0
    assert not window.dialogs


@pytest.mark.parametrize("on", ["test bundle", "bundled demo"])
def test_screenshot_command_renders_the_window_once_and_exits(bundle, tmp_path, on):
    """``hyperinr-explorer --screenshot`` (used for docs and scripts) writes the window with a rendered
    volume; without a model argument the explorer opens the bundled demo."""
    import os
    import subprocess
    import sys

    import imageio.v3 as iio

    out = tmp_path / "shot.png"
    env = dict(os.environ, HYPERINR_SETTINGS_ORG="HyperINR-tests")
    r = subprocess.run(
        [sys.executable, "-m", "hyperinr_app.explorer_main", *([str(bundle)] if on == "test bundle" else []),
         "--screenshot", str(out), "--param", "t=7.5", "--light", "60,40", "--shadow", "field", "--spp", "8"],
        capture_output=True, text=True, timeout=600, env=env,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert "wrote" in r.stdout and out.exists()
    img = iio.imread(out)
    assert img.ndim == 3 and img.shape[0] >= 300 and img.shape[1] >= 400
    canvas = img[img.shape[0] // 4: 3 * img.shape[0] // 4, : img.shape[1] // 2, :3].astype(np.float32)
    assert canvas.std() > 5.0  # a rendered volume, not an empty background
    assert [p.name for p in tmp_path.iterdir()] == ["shot.png"]  # written atomically, nothing left behind


def test_the_session_persists_recent_files_and_the_transfer_function(qtbot, window, bundle, tmp_path):
    """Recent files and each model's transfer function come back in the next window; 'as in the bundle' goes
    back to the bundle's own; a recent file that has gone is dropped with a message; a scripted session
    (restore_session=False) neither reads nor writes any of it."""
    from hyperinr_app.gui.main_window import MainWindow
    from hyperinr_app.gui.tf_panel import BUNDLE_TF_ITEM

    bundle_tf = window.session.tf
    assert window.saved.recent_files() == [str(bundle.resolve())]
    assert window.tf_panel.preset_combo.findText(BUNDLE_TF_ITEM) > 0
    edited = [(0.0, 0.0), (0.5, 0.3), (1.0, 0.9)]
    window.tf_panel.opacity.set_points(edited)
    window.tf_panel.set_opacity(edited)
    # the shadow model was made for the bundle's TF
    assert window.session.field_unavailable_reason() is not None
    window.close()

    second = MainWindow(interactive_resolutions=(16, 24))
    second.dialogs = window.dialogs
    try:
        second.show()
        actions = [a for a in second.menus.recent_menu.actions() if a.data()]
        assert [a.data() for a in actions] == [str(bundle.resolve())]
        with qtbot.waitSignal(second.first_frame, timeout=180000):
            actions[0].trigger()
        assert second.session.tf.opacity == edited and second.session.tf != bundle_tf
        second.tf_panel.apply_preset(second.tf_panel.preset_combo.findText(BUNDLE_TF_ITEM))
        assert second.session.tf == bundle_tf and second.session.field_unavailable_reason() is None

        gone = tmp_path / "gone.json"
        from hyperinr_app.gui.persist import settings

        settings().setValue("recent_files", [str(gone), str(bundle.resolve())])
        second.menus.refresh_recent()
        next(a for a in second.menus.recent_menu.actions() if a.data() == str(gone)).trigger()
        assert "no such file" in second.errors[-1] and second.saved.recent_files() == [str(bundle.resolve())]
    finally:
        second.close()

    scripted = MainWindow(interactive_resolutions=(16, 24), restore_session=False)
    try:
        scripted.show()
        with qtbot.waitSignal(scripted.first_frame, timeout=180000):
            scripted.open_path(bundle)
        assert scripted.session.tf == bundle_tf  # the saved edit is not applied ...
        scripted.tf_panel.set_opacity(edited[:2])
    finally:
        scripted.close()
    third = MainWindow(interactive_resolutions=(16, 24))
    try:
        assert third.saved.saved_tf(str(bundle)) == bundle_tf  # ... nor overwritten
    finally:
        third.close()


def test_the_histogram_follows_the_volume_and_fit_to_volume_stretches_the_opacity_curve(qtbot, window):
    """The editor's histogram is the shown volume's (counted on the worker); 'Fit to volume' maps the opacity
    curve's [0, 1] onto the volume's value range (an early timestep whose values all lie where the
    series-wide curve is still transparent becomes visible)."""

    h0 = window.session.histogram.copy()
    wait_final_at = window.param_panel.sliders["t"].value() + 3.0
    with qtbot.waitSignal(window.result_ready, timeout=30000, check_params_cb=lambda r: r.final):
        window.param_panel.sliders["t"].setValue(wait_final_at)
    assert window.session.histogram.sum() == h0.sum() and not np.array_equal(window.session.histogram, h0)
    assert np.array_equal(window.tf_panel.opacity.histogram, np.log1p(window.session.histogram.astype(float)))

    lo, hi = window.session.data_range()
    assert 0.0 <= lo < hi <= 1.0 and window.session.histogram[int(hi * 64) :].sum() == 0

    # values between 0.1 and 0.3 only (the demo's t < 3): the fitted curve spans exactly that
    window.session.histogram = np.zeros(64, np.int64)
    window.session.histogram[int(0.1 * 64) : int(0.3 * 64)] = 1000
    lo, hi = window.session.data_range()
    assert (lo, hi) == pytest.approx((6 / 64, 19 / 64))
    before = window.session.tf.opacity
    window.tf_panel.fit_button.click()
    assert [a for _, a in window.session.tf.opacity] == [a for _, a in before]
    assert [v for v, _ in window.session.tf.opacity] == pytest.approx([lo + v * (hi - lo) for v, _ in before])
    # the editor shows the fitted curve
    np.testing.assert_allclose(window.tf_panel.opacity.points, window.session.tf.opacity)


def test_tf_files_play_and_render_settings(qtbot, window, tmp_path, monkeypatch):
    """Save and load the TF through the dialogs (a broken file is an error dialog, nothing changes), Play
    moves the timestep, and the Light sphere, Quality and Progressive controls reach the canvas."""
    from PySide6.QtWidgets import QFileDialog

    from hyperinr_renderer.transfer import TransferFunction

    saved = tmp_path / "tf.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(saved), ""))
    window.tf_panel.save_dialog()
    qtbot.waitUntil(saved.exists, timeout=10000)
    assert TransferFunction.from_json(saved) == window.session.tf

    other = TransferFunction.preset("magma")
    other.to_json(tmp_path / "magma.json")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(tmp_path / "magma.json"), ""))
    window.tf_panel.load_dialog()
    qtbot.waitUntil(lambda: window.session.tf == other, timeout=10000)
    assert window.tf_panel.cmap_combo.currentText() == "magma"

    (tmp_path / "broken.json").write_text("{not json")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(tmp_path / "broken.json"), ""))
    window.tf_panel.load_dialog()
    qtbot.waitUntil(lambda: bool(window.dialogs), timeout=10000)
    assert "broken.json" in window.dialogs[-1][1] and window.session.tf == other

    t0 = window.param_panel.sliders["t"].value()
    window.param_panel.play_button.setChecked(True)
    qtbot.waitUntil(lambda: window.param_panel.sliders["t"].value() != t0, timeout=5000)
    window.param_panel.play_button.setChecked(False)
    assert not window.param_panel.play_timer.isActive()

    window.light_panel.sphere.directionChanged.emit(120.0, 30.0)
    assert (window.session.light.azimuth, window.session.light.polar) == pytest.approx((120.0, 30.0))
    assert window.light_panel.azimuth.value() == pytest.approx(120.0)
    window.render_panel.quality.setValue(128)
    assert window.canvas.tracer.settings.step == pytest.approx(1 / 128)
    window.render_panel.progressive.setChecked(False)
    assert window.canvas.progressive is False
