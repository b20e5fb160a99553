"""GL tests need an X display with OpenGL (run under ``xvfb-run``); without one they FAIL, never skip."""

import os

import pytest


@pytest.fixture(scope="session")
def gl_context():
    """Check that a GL context can be created; fail with a one-line reason otherwise."""
    if os.environ.get("QT_QPA_PLATFORM", "") == "offscreen":
        pytest.fail("QT_QPA_PLATFORM=offscreen cannot host a GL canvas; run under xvfb-run")
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        pytest.fail("no display for an OpenGL context: run the GL tests under "
                    "xvfb-run -a -s '-screen 0 1280x1024x24'")
    from hyperinr_renderer.gl.canvas import PathTracerCanvas

    try:
        canvas = PathTracerCanvas(size=(32, 32), show=False)
        from vispy.gloo import gl

        canvas.set_current()
        version = gl.glGetParameter(gl.GL_VERSION)
        canvas.close()
    except Exception as exc:  # noqa: BLE001 - any failure here means no usable GL
        pytest.fail(f"could not create an OpenGL context: {exc}")
    return version
