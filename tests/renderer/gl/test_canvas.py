"""PathTracerCanvas: the API the explorer embeds, progressive/banded accumulation, interaction."""

import numpy as np
import pytest

from hyperinr_renderer import AnalyticField, Camera, Light, TransferFunction, scenes
from hyperinr_renderer.fields import sample_field_grid

pytestmark = pytest.mark.gl


@pytest.fixture(scope="module")
def volume():
    return sample_field_grid(AnalyticField(scenes.blobs()), 20).numpy()


@pytest.fixture
def canvas(gl_context, volume):
    from hyperinr_renderer.gl import PathTracerCanvas

    c = PathTracerCanvas(size=(48, 40), show=False)
    c.set_volume(volume.astype(np.float16))
    c.set_transfer_function(TransferFunction.preset("viridis"))
    c.set_light(Light())
    c.set_quality(64)
    yield c
    c.close()


def test_banded_frames_equal_whole_frames(canvas):
    from hyperinr_renderer.gl.tracer import AccumulationTarget

    canvas.set_current()
    whole, banded = AccumulationTarget(48, 40), AccumulationTarget(48, 40)
    cam = canvas.camera
    canvas.tracer.trace(whole, cam, frames=2)
    calls = 0
    while banded.frames < 2:
        canvas.tracer.trace(banded, cam, bands=7)
        calls += 1
    assert calls == 14
    a, b = whole.read(), banded.read()
    assert a.max() > 0.1
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_render_image_and_events(canvas):
    seen = []
    canvas.events.camera_changed.connect(lambda e: seen.append(e.camera.azimuth))
    canvas.set_camera(Camera(azimuth=10.0))
    assert seen == [10.0] and canvas.camera.azimuth == 10.0 and canvas.camera is not None
    img = canvas.render_image(30, 20, spp=2)
    assert img.shape == (20, 30, 3) and img.dtype == np.uint8
    canvas.set_background((1.0, 0.0, 0.0))
    red = canvas.render_image(30, 20, spp=1)
    assert red[0, 0, 0] == 255 and red[0, 0, 1] == 0  # corner is background


def test_mouse_orbit_pan_zoom(canvas):
    from types import SimpleNamespace

    cam0 = canvas.camera.to_dict()
    canvas.on_mouse_press(SimpleNamespace(pos=(10, 10)))
    canvas.on_mouse_move(SimpleNamespace(pos=(30, 10), is_dragging=True, buttons=[1], button=1, modifiers=()))
    assert canvas.camera.azimuth != cam0["azimuth"]
    canvas.on_mouse_move(SimpleNamespace(pos=(30, 30), is_dragging=True, buttons=[2], button=2, modifiers=()))
    assert canvas.camera.target != tuple(cam0["target"])
    canvas.on_mouse_release(SimpleNamespace(pos=(30, 30)))
    canvas.on_mouse_wheel(SimpleNamespace(delta=(0, 2)))
    assert canvas.camera.distance < cam0["distance"]
    canvas.reset_camera()
    assert canvas.camera.to_dict() == canvas.home_camera().to_dict()


def test_home_camera_sees_the_whole_unit_cube():
    """Every corner of the volume projects inside the viewport (any aspect at least as wide as tall)."""
    import itertools

    from hyperinr_renderer.gl.canvas import PathTracerCanvas

    cam = PathTracerCanvas.home_camera()
    for aspect in (1.0, 4 / 3, 16 / 9):
        clip_from_world = cam.projection_matrix(aspect) @ cam.view_matrix()
        for corner in itertools.product((0.0, 1.0), repeat=3):
            c = clip_from_world @ np.array([*corner, 1.0])
            ndc = c[:3] / c[3]
            assert np.all(np.abs(ndc[:2]) < 1.0), (aspect, corner, ndc)


def test_shadow_mode_validation(canvas):
    from hyperinr_core.errors import HyperINRError

    with pytest.raises(HyperINRError):
        canvas.set_shadow_mode("soft")
    canvas.set_shadow_mode("field")  # no shadow volume yet: renders as 'none' instead of failing
    assert canvas.render_image(8, 8, spp=1).shape == (8, 8, 3)


def test_shaders_are_package_data():
    from importlib import resources

    names = {f.name for f in resources.files("hyperinr_shaders").iterdir()}
    assert {"pt_trace.frag.glsl", "pt_volume.glsl", "pt_random.glsl", "pt_quad.vert.glsl"} <= names
    from hyperinr_renderer.gl.shaders import shader_source

    src = shader_source("pt_trace.frag.glsl", {"SHADOW_MODE": 2})
    assert src.splitlines()[0].startswith("#version") and src.splitlines()[1] == "#define SHADOW_MODE 2"


def test_a_canvas_shown_at_construction_paints_without_errors(capfd):
    """show=True resizes and paints inside vispy's constructor, before ours has finished."""
    from vispy import app

    from hyperinr_renderer.gl.canvas import PathTracerCanvas

    c = PathTracerCanvas(size=(64, 48), show=True)
    app.process_events()
    c.close()
    app.process_events()
    err = capfd.readouterr().err
    assert "AttributeError" not in err and "Error invoking" not in err, err


def test_a_rest_timer_firing_early_still_ends_in_full_quality_frames(gl_context, volume):
    """Qt's coarse timers may fire a little before their interval; the canvas must still leave the interactive
    preview for full-quality accumulation (it used to stay at 1 spp forever)."""
    import time

    from vispy import app as vapp

    from hyperinr_renderer.gl import PathTracerCanvas

    c = PathTracerCanvas(size=(48, 40), show=True)
    try:
        c.set_volume(volume.astype(np.float16))
        c.set_quality(64)
        deadline = time.perf_counter() + 20
        while c.interactive or c.spp < 2:  # settle first
            vapp.process_events()
            time.sleep(0.005)
            assert time.perf_counter() < deadline, "the canvas never came to rest"
        c._changed()
        c._rest_timer.stop()  # as if the rest timer had fired ...
        c._on_rest()  # ... long before the rest delay was over
        vapp.process_events()
        assert c.interactive, "the frame drawn right after a change is interactive"
        deadline = time.perf_counter() + 20
        while (c.interactive or c.spp < 2) and time.perf_counter() < deadline:
            vapp.process_events()
            time.sleep(0.005)
        assert not c.interactive and c.spp >= 2
    finally:
        c.close()


def test_interactive_quality_picks_the_finest_level_within_the_budget():
    from hyperinr_renderer.gl.quality import InteractiveQuality

    q = InteractiveQuality(frame_budget_ms=30.0, headroom=1.0)
    assert q.level() == len(q.levels) // 2  # nothing measured yet
    q.observe(trace_ms=120.0, share=1.0, overhead_ms=0.0)  # a full-quality frame traces in 120 ms
    q.observe(trace_ms=120.0, share=1.0, overhead_ms=0.0)
    lvl = q.level()
    assert q.unit_ms * q.cost(lvl) <= 30.0 < q.unit_ms * q.cost(lvl - 1)
    assert q.bands(cap=100) == 4  # 120 ms in bands of at most 30 ms
    q.observe(trace_ms=1.0, share=1.0, overhead_ms=0.0)  # the scene got cheap: back to full quality soon
    q.observe(trace_ms=1.0, share=1.0, overhead_ms=0.0)
    q.observe(trace_ms=1.0, share=1.0, overhead_ms=0.0)
    assert q.level() == 0 and q.bands(cap=100) == 1
    slow = InteractiveQuality(frame_budget_ms=30.0)
    slow.observe(trace_ms=10_000.0, share=1.0, overhead_ms=50.0)  # nothing fits: the cheapest level
    assert slow.level() == len(slow.levels) - 1 and slow.bands(cap=7) == 7


_COLLECT_DURING_A_DRAW = """
import gc, sys, time
import numpy as np
from vispy import app
from hyperinr_renderer.gl.canvas import PathTracerCanvas

gc.disable()  # collect only where the script says so
for _ in range(3):
    old = PathTracerCanvas(size=(48, 40), show=True)
    old.set_volume(np.random.default_rng(0).random((16, 16, 16)).astype(np.float16))
    for _ in range(5):
        app.process_events()
    old.close()
    del old
canvas = PathTracerCanvas(size=(64, 48), show=True)
canvas.set_volume(np.random.default_rng(1).random((16, 16, 16)).astype(np.float16))
collected = []
canvas.events.draw.connect(lambda event: collected.append(gc.collect()) if not collected else None,
                           position="first")
deadline = time.perf_counter() + 60
while not collected and time.perf_counter() < deadline:
    app.process_events()
    time.sleep(0.005)
for _ in range(20):  # and the rest of that draw, and a few more
    app.process_events()
assert collected, "the canvas never drew"
canvas.close()
print("survived")
"""


def test_closed_canvases_collected_during_another_canvas_draw_do_not_crash(gl_context, tmp_path):
    """A closed canvas used to keep its QOpenGLWidget until a garbage collection, which could run in the
    middle of another canvas's draw: the widget's destructor made its own GL context current and the draw
    crashed the process (a segfault). Run in a subprocess so that a crash fails this test, not the whole
    run."""
    import subprocess
    import sys

    script = tmp_path / "collect_during_draw.py"
    script.write_text(_COLLECT_DURING_A_DRAW)
    proc = subprocess.run([sys.executable, "-X", "faulthandler", str(script)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0 and "survived" in proc.stdout, proc.stderr[-3000:]


def test_close_destroys_the_native_widget_and_timer_at_once(gl_context, volume):
    import shiboken6

    from hyperinr_renderer.gl import PathTracerCanvas

    c = PathTracerCanvas(size=(32, 24), show=True)
    c.set_volume(volume.astype(np.float16))  # arms the rest timer
    widget, timer = c.native, c._rest_timer._backend
    assert shiboken6.isValid(widget) and shiboken6.isValid(timer)
    c.close()
    assert not shiboken6.isValid(widget) and not shiboken6.isValid(timer)
    c.update()  # harmless after close, and so are a change and closing twice
    c.set_volume(volume.astype(np.float16))
    c.close()


def test_a_canvas_on_its_own_gl_window_draws_renders_and_grabs(gl_context, volume):
    """surface='window': a QOpenGLWindow in a window container (no GL composition of the other widgets). It
    renders offscreen before it is first shown (secondary context), accumulates on screen, and what it shows
    can be read back although a widget grab cannot see it."""
    import time

    import shiboken6
    from PySide6.QtGui import QKeyEvent
    from PySide6.QtWidgets import QVBoxLayout, QWidget
    from vispy import app as vapp

    from hyperinr_renderer.gl import PathTracerCanvas

    class Parent(QWidget):
        keys = []

        def keyPressEvent(self, event):
            self.keys.append(event.key())

    ref = PathTracerCanvas(size=(40, 30), show=False)
    c = PathTracerCanvas(size=(40, 30), show=False, surface="window")
    try:
        for x in (ref, c):
            x.set_volume(volume.astype(np.float16))
        before_show = c.render_image(24, 18, spp=2)
        np.testing.assert_array_equal(before_show, ref.render_image(24, 18, spp=2))  # the same GL program
        parent = Parent()
        QVBoxLayout(parent).addWidget(c.widget)
        assert c.widget is not c.native and c.widget.parent() is parent
        assert c.grab_view() is None  # nothing drawn yet
        parent.resize(90, 70)
        parent.show()
        deadline = time.perf_counter() + 30
        while (c.interactive or c.spp < 2) and time.perf_counter() < deadline:
            vapp.process_events()
            time.sleep(0.005)
        assert not c.interactive and c.spp >= 2, "the window never accumulated at rest"
        np.testing.assert_array_equal(c.render_image(24, 18, spp=2), before_show)
        view = c.grab_view()
        pw, ph = c.physical_size
        assert view.shape == (ph, pw, 3) and (pw, ph) == (c.widget.width(), c.widget.height())
        assert view.std() > 1.0  # the volume, not a blank frame
        # a key the canvas does not handle goes on to the widget around it, as from a QWidget canvas
        from PySide6.QtCore import QEvent, Qt

        c.native.keyPressEvent(QKeyEvent(QEvent.KeyPress, Qt.Key_Right, Qt.NoModifier))
        assert Parent.keys == [Qt.Key_Right]
        window, container = c.native, c.widget
    finally:
        ref.close()
        c.close()
    # the container stays, empty, and goes with its parent
    assert not shiboken6.isValid(window) and shiboken6.isValid(container)
    parent.close()
    del parent
    import gc

    gc.collect()
    assert not shiboken6.isValid(container)


def test_a_gl_window_deleted_with_its_parent_widget_leaves_a_canvas_that_closes_cleanly(gl_context, volume):
    import gc

    import shiboken6
    from PySide6.QtWidgets import QVBoxLayout, QWidget

    from hyperinr_renderer.gl import PathTracerCanvas

    c = PathTracerCanvas(size=(40, 30), show=False, surface="window")
    c.set_volume(volume.astype(np.float16))
    parent = QWidget()
    QVBoxLayout(parent).addWidget(c.widget)
    window = c.native
    del parent
    gc.collect()
    assert not shiboken6.isValid(window)
    c.close()  # no "already deleted" error
    c.update()
    assert c._closed


def test_unknown_surface_is_refused():
    from hyperinr_renderer.gl import PathTracerCanvas

    with pytest.raises(ValueError, match="surface"):
        PathTracerCanvas(size=(8, 8), surface="pbuffer")
