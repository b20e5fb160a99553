"""The napari viewer tests (tests/app/napari_viewer_cases.py) in a pytest process of their own.

Importing napari switches vispy to its PyOpenGL backend for the whole process, which the EGL export path
cannot share, so the main test process never imports napari (pyproject.toml keeps napari's pytest plugins
out of it) and these cases run separately, with napari's ``make_napari_viewer`` fixture.
"""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

CASES = Path(__file__).with_name("napari_viewer_cases.py")


@pytest.mark.skipif(
    importlib.util.find_spec("napari") is None, reason="napari is not installed (pip install '.[napari]')"
)
def test_napari_viewer_cases_in_their_own_process():
    r = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=-ra", str(CASES)],
        capture_output=True, text=True, timeout=900, cwd=CASES.parents[2],
    )
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-2000:]
    summary = r.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "failed" not in summary and "skipped" not in summary, summary


def test_the_main_test_process_keeps_vispys_own_gl_backend():
    """What importing napari's vispy layer would change for every later GL test of this process."""
    from vispy.gloo import gl

    assert "napari._vispy" not in sys.modules
    assert not gl.current_backend.__name__.endswith("glplus"), gl.current_backend.__name__
