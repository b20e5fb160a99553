"""The explorer at its edges: scripted runs that never wait for a click, bad arguments, Ctrl-C, an idle
window, field shadows by default, the Light dock's layout and the export progress text."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


def explorer(*args, env=None, timeout=120):
    """Run ``hyperinr-explorer`` in a subprocess; a run that hangs fails the test instead of blocking it."""
    try:
        return subprocess.run(
            [sys.executable, "-m", "hyperinr_app.explorer_main", *map(str, args)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"hyperinr-explorer {' '.join(map(str, args))} did not exit within {timeout} s: {exc}")


def fresh_env(tmp_path):
    """The test's own settings location, to see whether a run writes any settings."""
    config = tmp_path / "config"
    config.mkdir()
    return dict(os.environ, HYPERINR_SETTINGS_ORG="HyperINR-tests", XDG_CONFIG_HOME=str(config)), config


def assert_one_line_exit_2(r, *needles):
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
    for n in needles:
        assert n in r.stderr, r.stderr


# -- scripted runs -------------------------------------------------------------------------------------------
def damaged_files(tmp_path, bundle):
    scene = Path(bundle).parent / "scene.h5"
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(scene.read_bytes()[:2000])
    noise = tmp_path / "noise.h5"
    noise.write_bytes(np.random.default_rng(0).bytes(5000))
    return {"truncated": truncated, "random bytes": noise, "missing": tmp_path / "missing.h5"}


def test_a_screenshot_of_a_broken_or_missing_file_is_one_line_and_exit_2(tmp_path, bundle):
    env, config = fresh_env(tmp_path)
    for what, path in damaged_files(tmp_path, bundle).items():
        out = tmp_path / f"{path.stem}.png"
        r = explorer(path, "--screenshot", out, env=env)
        assert_one_line_exit_2(r, path.name)
        assert not out.exists(), what
    assert not any(config.rglob("*")), "a scripted run wrote settings"


def test_an_error_found_after_the_window_opened_is_one_line_and_exit_2_too(tmp_path, bundle):
    """The header is fine, the tensors are not: the loader fails once the window is up; no dialog waits."""
    import h5py

    bad = tmp_path / "nan.h5"
    bad.write_bytes((Path(bundle).parent / "scene.h5").read_bytes())
    with h5py.File(bad, "r+") as f:
        f["encoder_params"][0, :4] = np.nan
    env, config = fresh_env(tmp_path)
    r = explorer(bad, "--screenshot", tmp_path / "x.png", env=env, timeout=300)
    assert_one_line_exit_2(r, "nan.h5", "NaN")
    assert not (tmp_path / "x.png").exists()
    assert not any(config.rglob("*"))


def test_a_screenshot_leaves_the_user_settings_untouched(tmp_path, bundle):
    env, config = fresh_env(tmp_path)
    r = explorer(bundle, "--screenshot", tmp_path / "shot.png", "--spp", "2", env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert (tmp_path / "shot.png").exists()
    assert not any(config.rglob("*")), [str(p) for p in config.rglob("*")]


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--param", "t=abc"], ["t=abc", "not a number"]),
        (["--param", "t=nan"], ["t=nan", "finite"]),
        (["--light", "1,2,3"], ["--light", "AZ,POLAR"]),
        (["--param", "t=99"], ["t=99", "outside", "[0, 10]"]),
        (["--param", "foo=1"], ["foo", "no parameter"]),
        (["--screenshot", "/proc/x.png"], ["/proc/x.png"]),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(tmp_path, bundle, args, needles):
    env, config = fresh_env(tmp_path)
    r = explorer(bundle, *args, env=env)
    assert_one_line_exit_2(r, *needles)
    assert not any(config.rglob("*"))


# -- Ctrl-C --------------------------------------------------------------------------------------------------
def _qt_is_up(pid: int) -> bool:
    """Whether the process runs Qt's X event thread yet (its QApplication exists)."""
    try:
        names = [p.read_text().strip() for p in Path(f"/proc/{pid}/task").glob("*/comm")]
    except OSError:
        return False
    return any(n.startswith("QXcb") for n in names)


def test_ctrl_c_quits_with_130_no_traceback_and_nothing_half_written(tmp_path, bundle):
    """Ctrl-C while the window renders a screenshot: exit 130, no traceback, no file and no temporary file."""
    env, config = fresh_env(tmp_path)
    out = tmp_path / "shots" / "shot.png"
    p = subprocess.Popen(
        [sys.executable, "-m", "hyperinr_app.explorer_main", str(bundle), "--screenshot", str(out), "--spp", "100000"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not _qt_is_up(p.pid):
            assert p.poll() is None, p.communicate()
            assert time.monotonic() < deadline, "the explorer never started Qt"
            time.sleep(0.1)
        time.sleep(4.0)  # the window is up and loading or rendering
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 130, err[-2000:]
    assert "Traceback" not in err and "KeyboardInterrupt" not in err and "Error calling" not in err, err
    assert "interrupted" in err
    assert not out.exists() and not any(out.parent.iterdir())
    assert not any(config.rglob("*"))


def test_ctrl_c_in_the_event_loop_stops_the_workers_and_returns_130(qtbot, bundle, monkeypatch):
    """In process: SIGINT once the window shows its first full frame; ``run`` closes the window (its
    generation worker and task threads stop) and returns 130, and the previous SIGINT handler is back."""
    import argparse

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from hyperinr_app.controller import GenerationWorker
    from hyperinr_app.explorer import run
    from hyperinr_app.gui.main_window import MainWindow

    monkeypatch.setattr(GenerationWorker, "start_compiling", lambda self: None)  # no compiler to wait for
    before = signal.getsignal(signal.SIGINT)
    seen = {}

    def poll():
        if "done" in seen:
            return
        wins = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
        if wins and not wins[0].session.pending_first:
            seen["win"] = wins[0]
            seen["worker"] = wins[0].session.worker
            seen["done"] = True
            os.kill(os.getpid(), signal.SIGINT)
        else:
            QTimer.singleShot(100, poll)

    QTimer.singleShot(100, poll)
    # If Ctrl-C does not end the event loop, end it here so that the test fails instead of hanging.
    guard = QTimer()
    guard.setSingleShot(True)
    guard.timeout.connect(lambda: QApplication.instance().exit(99))
    guard.start(300000)
    args = argparse.Namespace(model=str(bundle), screenshot=None, param=[], light=None, shadow=None, spp=32)
    try:
        rc = run(args)
    finally:
        guard.stop()
        seen["done"] = True
    # The window's closing posted the application a Quit event (its last window closed), which would end the
    # next test's event loops at once: the real program exits here anyway.
    from PySide6.QtCore import QCoreApplication, QEvent

    QCoreApplication.removePostedEvents(QApplication.instance(), QEvent.Type.Quit)
    assert rc == 130
    win = seen["win"]
    assert not win.isVisible() and win.session.worker is None and win.tasks.running == 0
    assert not seen["worker"].alive
    assert signal.getsignal(signal.SIGINT) is before
    assert not [t for t in threading.enumerate() if t.name == "hyperinr-generation"]


# -- at rest, by default, layout -----------------------------------------------------------------------------
@pytest.fixture
def no_compile(monkeypatch):
    """Decoding stays eager: a background compile is start-up work, not idle work."""
    from hyperinr_app.controller import GenerationWorker

    monkeypatch.setattr(GenerationWorker, "start_compiling", lambda self: None)


def test_an_idle_window_uses_no_cpu_once_refined(no_compile, qtbot, window):
    qtbot.waitUntil(lambda: window.canvas.refined, timeout=120000)
    qtbot.wait(500)  # the last status-line refresh
    cpu0, wall0 = time.process_time(), time.perf_counter()
    qtbot.wait(3000)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    assert cpu < 0.05 * wall, f"{cpu:.2f} s of CPU in {wall:.1f} s of idle"


def test_field_shadows_are_on_when_the_shadow_model_matches(window):
    assert window.session.field_unavailable_reason() is None
    assert window.light_panel.shadow_combo.currentText() == "field"
    assert window.canvas.tracer.shadow_mode == "field"


def test_no_gap_under_shadows_in_the_light_dock(window):
    from PySide6.QtWidgets import QDockWidget, QWidget

    dock = window.findChild(QDockWidget, "Light")
    content = dock.widget()
    shown = [w for w in content.findChildren(QWidget) if w.isVisible() and w.parent() is content]
    bottom = max(w.geometry().bottom() for w in shown)
    assert content.height() - bottom <= 16, (content.height(), bottom)
    assert not window.light_panel.shadow_reason.isVisible()  # nothing to explain: no empty row


def test_export_progress_shows_a_percentage_and_the_time_left(qtbot, window):
    from hyperinr_app.gui.export_dialogs import progress_text, run_with_progress

    assert progress_text("Exporting", 1, 4, 3.0) == "Exporting: 25% · about 9 s left"
    assert progress_text("Exporting", 1, 40, 60.0).endswith("about 39 min left")
    step = threading.Event()

    def work(progress, cancel):  # a task thread reporting progress in four steps
        for k in range(1, 5):
            progress(k, 4)
            step.wait(10)
            step.clear()

    done = []
    dlg = run_with_progress(window, "Exporting frame", work, done.append)
    qtbot.waitUntil(lambda: "25%" in dlg.labelText(), timeout=10000)
    assert "left" in dlg.labelText() and dlg.value() == 25
    step.set()
    qtbot.waitUntil(lambda: "50%" in dlg.labelText(), timeout=10000)
    for _ in range(3):
        step.set()
        time.sleep(0.05)
    qtbot.waitUntil(lambda: bool(done), timeout=10000)


def test_a_hidden_window_refines_nothing(no_compile, qtbot, window):
    window.hide()
    qtbot.waitUntil(lambda: window.canvas.paused, timeout=5000)
    window.show()
    qtbot.waitUntil(lambda: not window.canvas.paused, timeout=5000)
