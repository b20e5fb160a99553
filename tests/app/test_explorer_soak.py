"""The explorer window (Qt, GL, under Xvfb) soaked: random slider, light, transfer-function,
shadow-mode, camera and window-size changes, and the model reopened now and then, while the event loop runs.
No error reaches the window or Qt, the window keeps drawing, threads stay steady and memory stays bounded.
(``bench/soak.py`` and ``tests/app/test_session_soak.py`` soak the session without Qt, 10,000 changes.)

``HYPERINR_GUI_SOAK_S`` sets the length in seconds: 60 by default, to keep the suite within its time on a
2-core machine; ``HYPERINR_GUI_SOAK_S=120`` is the two-minute soak."""

import os
import random
import threading
import time

import pytest

SOAK_S = float(os.environ.get("HYPERINR_GUI_SOAK_S", "60"))


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    pytest.skip("no /proc/self/status on this system: RSS cannot be read")


def _ours() -> int:
    return sum(t.name.startswith("hyperinr") for t in threading.enumerate())


def test_random_use_leaves_no_error_no_thread_and_no_memory_behind(qtbot, window, bundle):
    from dataclasses import replace

    from hyperinr_renderer.transfer import presets

    rng = random.Random(7)
    light = window.light_panel
    modes = [light.shadow_combo.itemText(i) for i in range(light.shadow_combo.count())]
    colormaps = sorted(presets())
    served = []
    window.result_ready.connect(lambda r: served.append(r.final))

    def act(k: int) -> str:
        r = rng.random()
        if r < 0.45:
            window.param_panel.sliders["t"].setValue(rng.uniform(0.0, 10.0))  # rebuilt when the model reopens
            return "t"
        if r < 0.65:
            light.azimuth.setValue(rng.uniform(0.0, 360.0))
            light.polar.setValue(rng.uniform(0.0, 180.0))
            return "light"
        if r < 0.75:
            window.session.set_tf(replace(window.session.tf, colormap=rng.choice(colormaps)))
            return "tf"
        if r < 0.83:
            light.shadow_combo.setCurrentText(rng.choice(modes))
            return "shadow"
        if r < 0.93:
            window.canvas.camera.orbit(rng.uniform(-30, 30), rng.uniform(-10, 10))
            window.canvas.update()
            return "camera"
        if r < 0.98:
            window.resize(rng.randint(700, 1100), rng.randint(500, 800))
            return "resize"
        old = window.session.model
        window.open_path(bundle)  # the model again (on a task thread): workers replaced, caches dropped
        qtbot.waitUntil(lambda: window.session.model is not old, timeout=120000)
        return "reopen"

    done: dict[str, int] = {}
    t0 = time.perf_counter()
    warm_rss = warm_threads = None
    k = 0
    while time.perf_counter() - t0 < SOAK_S:
        kind = act(k)
        done[kind] = done.get(kind, 0) + 1
        qtbot.wait(rng.choice((5, 20, 60, 200)))  # bursts of changes and pauses in which frames finish
        k += 1
        if warm_rss is None and time.perf_counter() - t0 > min(20.0, SOAK_S / 4):
            warm_rss, warm_threads, warm_served = _rss_mb(), _ours(), len(served)
    qtbot.waitUntil(lambda: window.tasks.running == 0, timeout=120000)  # a model still opening
    slider = window.param_panel.sliders["t"]
    target = 2.0 if slider.value() > 5.0 else 8.0  # a real move (the same value would ask for nothing)
    try:
        with qtbot.waitSignal(window.result_ready, timeout=60000, check_params_cb=lambda r: r.final):
            slider.setValue(target)  # the window still answers at the end
    except Exception as exc:
        s = window.session
        raise AssertionError(
            f"no full frame at the end: errors={window.errors} dialogs={window.dialogs} stats={s.stats} "
            f"worker_alive={s.worker is not None and s.worker.alive} shown_final={s.shown_final} "
            f"served={len(served)} done={done} threads={[t.name for t in threading.enumerate()]}") from exc
    assert not window.errors, window.errors
    assert not window.dialogs, window.dialogs
    assert len(done) >= 6 and k > SOAK_S, done
    assert len(served) - warm_served > 20, "the worker stopped serving frames"
    assert sum(served) >= 10  # rests long enough for full-resolution frames happened, not only coarse ones
    assert _ours() <= warm_threads, [t.name for t in threading.enumerate()]
    grown = _rss_mb() - warm_rss
    assert grown < 50, f"RSS grew {grown:.0f} MB after warm-up over {k} changes {done}"
