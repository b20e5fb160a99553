"""Explorer tests: pytest-qt under Xvfb (a GL canvas needs a display; without one they fail, never skip)."""

import atexit
import json
import os
import shutil
import tempfile
import threading
import time

import numpy as np
import pytest
import torch

# Keep the user's settings untouched (the explorer reads this at import), and keep each test run's settings
# to itself: Qt keeps them under XDG_CONFIG_HOME, here a directory of this process's own.
os.environ["HYPERINR_SETTINGS_ORG"] = "HyperINR-tests"
_CONFIG_HOME = tempfile.mkdtemp(prefix="hyperinr-tests-config-")
os.environ["XDG_CONFIG_HOME"] = _CONFIG_HOME
atexit.register(shutil.rmtree, _CONFIG_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def bundle(tmp_path_factory):
    """A tiny bundle: a scalar HyperINR over t with clearly different encoders, a shadow HyperINR over
    (t, azimuth, polar) made for the bundle's TF, and that TF."""
    from hyperinr_core import HashGridConfig, HyperINR, HyperINRConfig, MLPConfig
    from hyperinr_renderer.transfer import TransferFunction

    d = tmp_path_factory.mktemp("bundle")
    g = torch.Generator().manual_seed(0)
    enc = HashGridConfig(3, 3, 2, 10, 4, 2.0)
    scene = HyperINR(HyperINRConfig(enc, MLPConfig(6, 1, 16, 2), ["t"], [0.0], [10.0]),
                     np.linspace(0, 1, 3)[:, None], generator=g)
    with torch.no_grad():
        scene.encoder_params.normal_(0.0, 1.5, generator=g)
        scene.mlp.params.mul_(2.5)  # ReLU MLP of 3 layers: outputs x15, so the values span [0, 1]
    scene.save(d / "scene.h5")
    tf = TransferFunction("magma", [(0.0, 0.0), (0.3, 0.0), (1.0, 0.4)])
    tf.to_json(d / "tf.json")
    senc = HashGridConfig(3, 2, 2, 8, 4, 2.0)
    shadow = HyperINR(
        HyperINRConfig(senc, MLPConfig(4, 1, 16, 2), ["t", "azimuth", "polar"], [0, 0, 0], [10, 360, 180],
                       k_neighbours=4, metadata={"tf_fingerprint": tf.fingerprint()}),
        np.random.default_rng(0).uniform(0, 1, (10, 3)), generator=g,
    )
    with torch.no_grad():
        shadow.encoder_params.normal_(0.0, 3.0, generator=g)
        shadow.mlp.params.mul_(2.5)
    shadow.save(d / "shadow.h5")
    manifest = {"format": "hyperinr-bundle", "version": 1, "title": "test", "model": "scene.h5",
                "shadow_model": "shadow.h5", "transfer_function": "tf.json"}
    (d / "bundle.json").write_text(json.dumps(manifest))
    return d / "bundle.json"


@pytest.fixture
def window(qtbot, bundle, monkeypatch):
    """The main window on the test bundle, after its first full frame; checks for leaks when closed."""
    from PySide6.QtWidgets import QApplication, QMessageBox

    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        pytest.fail("no display for the explorer's GL canvas: run under xvfb-run")
    shown = []
    monkeypatch.setattr(QMessageBox, "critical", lambda parent, title, text, *a, **k: shown.append((title, text)))
    threads_before = {t.ident for t in threading.enumerate()}
    from hyperinr_app.gui.main_window import MainWindow
    from hyperinr_app.gui.persist import settings

    settings().clear()  # every test starts from a fresh session (recent files, transfer functions, layout)

    win = MainWindow(interactive_resolutions=(16, 24))
    win.dialogs = shown
    win.canvas.max_spp = 16  # keep the progressive refinement short: the tests share two cores
    win.resize(900, 600)
    win.show()
    try:
        # Generous: the first frame needs no compiler (decoding is eager until the background compile lands),
        # but a loaded 2-core CI machine can still be slow to load, decode and rasterise.
        with qtbot.waitSignal(win.first_frame, timeout=180000):
            win.open_path(bundle)
    except BaseException as exc:
        c = win.canvas
        state = (
            f"errors={win.errors} dialogs={shown} model={win.session.model is not None} "
            f"worker_alive={win.session.worker is not None and win.session.worker.alive} "
            f"stats={win.session.stats} "
            f"shown_final={win.session.shown_final} spp={c.spp} interactive={c.interactive} "
            f"tasks={win.tasks.running} visible={win.isVisible()} "
            f"rest_timer={c._rest_timer.running} since_change={time.perf_counter() - c._last_change:.1f}s"
        )
        win.close()  # a failed setup must not leave its window behind for the next test's leak check
        raise AssertionError(f"the window showed no full frame: {state}") from exc
    yield win
    win.close()
    qtbot.wait(50)
    # No leaked worker threads, pool threads or top-level widgets once the window is closed. Process-wide
    # torch.compile warm-up threads belong to the shared evaluator cache, not to the window: may outlive it.
    from hyperinr_core.model.fast import compile_threads

    assert win.session.worker is None
    assert win.tasks.running == 0
    assert not win.param_panel.play_timer.isActive()
    shared = {t.ident for t in compile_threads()}
    leaked = [
        t
        for t in threading.enumerate()
        if t.ident not in threads_before and t.ident not in shared and t.name.startswith("hyperinr")
    ]
    assert not leaked, leaked
    visible = [w for w in QApplication.topLevelWidgets() if w.isVisible()]
    assert not visible, visible
    # The GL canvas is destroyed when the window closes, not left for a garbage collection to destroy at an
    # arbitrary point (e.g. in the middle of another canvas's draw).
    from PySide6.QtOpenGL import QOpenGLWindow
    from PySide6.QtOpenGLWidgets import QOpenGLWidget

    gl_widgets = [w for w in QApplication.allWidgets() if isinstance(w, QOpenGLWidget)]
    gl_widgets += [w for w in QApplication.allWindows() if isinstance(w, QOpenGLWindow)]
    assert not gl_widgets, gl_widgets
