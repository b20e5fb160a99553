"""The command-line entry points: help without a display, benchmark dispatch, one-line errors."""

import json
import subprocess
import sys

from hyperinr_app.cli import main


def run_cli(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "hyperinr_app.cli", *args], capture_output=True, text=True, timeout=300, env=env
    )


def test_help_works_without_a_display_and_lists_commands():
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    r = run_cli("--help", env=env)
    assert r.returncode == 0
    assert "bench" in r.stdout
    r = subprocess.run(
        [sys.executable, "-m", "hyperinr_app.explorer_main", "--help"], capture_output=True, text=True, env=env, timeout=60
    )
    assert r.returncode == 0 and "--screenshot" in r.stdout


def test_help_does_not_import_torch():
    code = "import sys; from app.cli import build_parser; build_parser(); print('torch' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.stdout.strip() == "False", r.stderr


def test_bench_generation_prints_json(capsys):
    assert main(["bench", "generation", "--repeats", "3"]) == 0
    out = json.loads(capsys.readouterr().out)
    case = out["cases"]["1d_24_encoders"]
    assert case["generate"]["median_ms"] > 0 and case["floor"]["median_ms"] > 0
    assert out["machine"]["logical_cpus"] >= 1


def test_unknown_benchmark_is_one_line_exit_2():
    r = run_cli("bench", "nonexistent")
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "unknown benchmark" in r.stderr


def test_an_unavailable_backend_is_one_line_exit_2_before_any_work(tmp_path):
    """--backend on train/render/export/bench and HYPERINR_BACKEND: checked against the device up front."""
    import os

    out = tmp_path / "x.png"
    for args, env in (
        (("render", "--model", "assets/demo_tgv.hinr", "--device", "cpu", "--backend", "tcnn", "--out", str(out)),
         None),
        (("train", "--data", "missing.h5", "-o", str(tmp_path / "m.h5"), "--device", "cpu", "--backend",
          "triton"), None),
        (("export-frame", "--model", "assets/demo_tgv.hinr", "--out", str(out)),
         dict(os.environ, HYPERINR_BACKEND="fastest")),
    ):
        r = run_cli(*args, env=env)
        assert r.returncode == 2, r.stderr
        assert r.stderr.count("\n") == 1 and "backend" in r.stderr, r.stderr
        assert not out.exists()
