"""GL exports (offscreen, EGL where it exists): agreement with the torch reference, cancellation, the CLI's
renderer choice and fallback, and a GL export on a worker thread. Run under xvfb-run like the other GL tests
(EGL needs no display, the Qt fallback does)."""

import math
import threading
from pathlib import Path

import numpy as np
import pytest

from hyperinr_app.cli import main

pytestmark = pytest.mark.gl

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = str(ROOT / "assets" / "demo.json")


def psnr(a, b) -> float:
    mse = float((((a.astype(np.float64) - b.astype(np.float64)) / 255.0) ** 2).mean())
    return math.inf if mse == 0 else -10 * math.log10(mse)


@pytest.fixture(scope="module")
def demo_scene():
    import argparse

    from hyperinr_app.commands.export import build_scene

    ns = argparse.Namespace(model=None, bundle=BUNDLE, param=["t=6"], tf=None, camera="30,20",
                            light="60,40", shadow="field", shadow_model=None)
    return build_scene(ns)


def test_gl_and_torch_exports_of_the_same_view_agree(demo_scene):
    """The demo bundle with field shadows: GL on the decoded texture, torch on the INR itself."""
    from hyperinr_app.export import render_frame
    from hyperinr_renderer.gl.offscreen import gl_unavailable_reason

    assert gl_unavailable_reason() is None
    size = (48, 36)
    gl = render_frame(demo_scene, size, 16, renderer="gl", volume_res=96)
    ref = render_frame(demo_scene, size, 16, renderer="torch")
    assert gl.shape == ref.shape == (36, 48, 3)
    assert ref.std() > 10  # the volume is in view, not just background
    assert psnr(gl, ref) >= 30.0
    # and the comparison can fail: another timestep is a different image
    from dataclasses import replace

    other = render_frame(replace(demo_scene, theta=[1.0]), size, 16, renderer="gl", volume_res=96)
    assert psnr(other, ref) < 30.0


@pytest.mark.parametrize("name", ["anim.mp4", "frames"])
def test_cancel_mid_animation_leaves_no_file(demo_scene, tmp_path, name):
    from hyperinr_app.export import Cancelled, Sweep, export_animation

    cancel = threading.Event()
    seen = []

    def progress(done, total):
        seen.append(done)
        if done >= 2 * 2 + 1:  # in the third frame
            cancel.set()

    out = tmp_path / name
    with pytest.raises(Cancelled):
        export_animation(demo_scene, Sweep("param", 0.0, 10.0, 20, "t"), out, (32, 24), 2, 12.0, progress,
                         cancel.is_set, renderer="gl", volume_res=32)
    assert seen and max(seen) < 20 * 2  # it stopped early
    assert list(tmp_path.iterdir()) == []  # no output, no temporary


def test_export_animation_streams_all_frames_in_order(demo_scene, tmp_path):
    import imageio.v3 as iio

    from hyperinr_app.export import Sweep, export_animation

    out = export_animation(demo_scene, Sweep("orbit", 0.0, 90.0, 3), tmp_path / "orbit", (32, 24), 1,
                           renderer="gl", volume_res=32)
    frames = [iio.imread(p) for p in sorted(out.iterdir())]
    assert len(frames) == 3 and all(f.shape == (24, 32, 3) for f in frames)
    assert np.abs(frames[0].astype(int) - frames[2].astype(int)).mean() > 1  # the camera moved


def test_a_long_sweep_reports_the_cost_of_every_frame_before_the_first(demo_scene, tmp_path):
    from hyperinr_app.export import COST_MIN_FRAMES, Sweep, export_animation

    calls = []
    n = COST_MIN_FRAMES
    export_animation(demo_scene, Sweep("param", 0.0, 10.0, n, "t"), tmp_path / "sweep", (32, 24), 1,
                     progress=lambda d, t: calls.append(("progress", d)), renderer="gl", volume_res=16,
                     costs=lambda c: calls.append(("costs", c)))
    assert calls[0][0] == "costs" and len(calls[0][1]) == n and all(c > 0 for c in calls[0][1])
    assert [c for c in calls if c[0] == "costs"] == calls[:1] and len(calls) == 1 + n


def test_gl_export_on_a_worker_thread(demo_scene):
    """The explorer exports from a task thread: the offscreen context belongs to that thread."""
    from hyperinr_app.export import render_frame

    box = []
    t = threading.Thread(target=lambda: box.append(render_frame(demo_scene, (24, 16), 2, volume_res=32)))
    t.start()
    t.join(120)
    assert box and box[0].shape == (16, 24, 3) and box[0].std() > 0


def test_cli_export_frame_with_gl_and_a_bad_volume_resolution(tmp_path, capsys):
    out = tmp_path / "f.png"
    rc = main(["export-frame", "--bundle", BUNDLE, "--param", "t=5", "--shadow", "field", "--size", "40x30",
               "--spp", "2", "--volume-res", "32", "--out", str(out)])
    assert rc == 0 and out.exists()
    assert "gl)" in capsys.readouterr().out
    rc = main(["export-frame", "--bundle", BUNDLE, "--volume-res", "1", "--size", "8x6", "--out",
               str(tmp_path / "g.png")])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "--volume-res" in err and "Traceback" not in err


def test_render_with_gl(tmp_path, capsys):
    import imageio.v3 as iio

    out = tmp_path / "r.png"
    rc = main(["render", "--model", str(ROOT / "assets" / "demo_tgv.hinr"), "--param", "t=6", "--size", "40x30",
               "--spp", "2", "--volume-res", "32", "--out", str(out)])
    assert rc == 0 and iio.imread(out).shape == (30, 40, 3)
    assert "gl" in capsys.readouterr().out


def test_without_gl_the_cli_falls_back_to_torch_with_one_line(tmp_path, capsys, monkeypatch):
    import hyperinr_renderer.gl.offscreen as offscreen

    monkeypatch.setattr(offscreen, "gl_unavailable_reason", lambda: "EGL: no display")
    out = tmp_path / "f.png"
    rc = main(["export-frame", "--model", str(ROOT / "assets" / "demo_tgv.hinr"), "--param", "t=5",
               "--size", "8x6", "--spp", "1", "--out", str(out)])
    captured = capsys.readouterr()
    assert rc == 0 and out.exists() and "torch)" in captured.out
    notes = [line for line in captured.err.splitlines() if "OpenGL" in line]
    assert len(notes) == 1 and "torch" in notes[0] and "EGL: no display" in notes[0]


def test_the_explorer_after_a_gl_render_on_the_main_thread(tmp_path):
    """An EGL context left current on the main thread made the explorer's Qt (GLX) canvas crash in Mesa: the
    offscreen renderer unbinds it on close. In a subprocess, so a crash is a failure, not a dead test run."""
    import subprocess
    import sys

    model, shot, img = ROOT / "assets" / "demo_tgv.hinr", tmp_path / "shot.png", tmp_path / "r.png"
    code = (
        "import sys\n"
        "from hyperinr_app.cli import main\n"
        "from hyperinr_app.explorer_main import main as explorer\n"
        f"assert main(['render', '--model', {str(model)!r}, '--size', '40x30', '--spp', '2', "
        f"'--volume-res', '32', '--out', {str(img)!r}]) == 0\n"
        f"sys.exit(explorer([{BUNDLE!r}, '--screenshot', {str(shot)!r}, '--spp', '2']))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert img.exists() and shot.exists()


def test_a_stop_while_folders_swap_puts_the_old_one_back(demo_scene, tmp_path, monkeypatch):
    """--force on a PNG folder: the old folder steps aside, the new one moves in. Stopped between the two
    moves, the old folder returns to its name and nothing hidden stays behind."""
    import hyperinr_app.export as export_mod
    from hyperinr_app.export import Sweep, export_animation

    out = tmp_path / "frames"
    out.mkdir()
    (out / "mine.txt").write_text("the user's")
    real, calls = export_mod.os.replace, []

    def replace(src, dst):
        calls.append(dst)
        if len(calls) == 2:  # the new folder's move into place
            raise KeyboardInterrupt
        real(src, dst)

    monkeypatch.setattr(export_mod.os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        export_animation(demo_scene, Sweep("orbit", 0.0, 90.0, 2), out, (16, 12), 1, renderer="torch",
                         replace=True)
    monkeypatch.setattr(export_mod.os, "replace", real)
    assert (out / "mine.txt").read_text() == "the user's"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames"]
