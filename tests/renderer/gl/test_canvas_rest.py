"""At rest the canvas refines to REST_SPP samples per pixel (or until its noise is below half a display
step) and then stops: an idle canvas uses no CPU; a paused one (its window hidden) refines nothing."""

import time

import numpy as np
import pytest

from hyperinr_renderer import AnalyticField, TransferFunction, scenes
from hyperinr_renderer.fields import sample_field_grid

pytestmark = pytest.mark.gl

IDLE_S = 3.0
IDLE_CPU_SHARE = 0.05  # of one core, over the idle interval (the acceptance bound)


def test_refinement_stops_at_the_rest_target_and_an_idle_canvas_uses_no_cpu(gl_context):
    from vispy import app as vapp

    from hyperinr_renderer.gl.canvas import NOISE_STOP, REST_SPP, PathTracerCanvas

    assert 16 <= REST_SPP <= 256
    frames = []
    c = PathTracerCanvas(size=(40, 30), show=True)  # small, so that the target is reached in seconds
    try:
        c.set_volume(sample_field_grid(AnalyticField(scenes.blobs()), 16).numpy().astype(np.float16))
        c.set_transfer_function(TransferFunction.preset("viridis"))
        c.set_quality(32)
        c.events.frame_rendered.connect(lambda e: frames.append(e.spp))
        assert c.max_spp == REST_SPP  # the default target, not a test setting
        deadline = time.perf_counter() + 240
        while not c.refined:
            vapp.process_events()
            time.sleep(0.002)
            assert time.perf_counter() < deadline, f"never reached {REST_SPP} spp at rest (at {c.spp})"
        assert c.spp == REST_SPP or c.noise < NOISE_STOP
        spp = c.spp
        drawn = len(frames)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        while time.perf_counter() - wall0 < IDLE_S:
            vapp.process_events()
            time.sleep(0.05)
        cpu = time.process_time() - cpu0
        assert c.spp == spp and len(frames) == drawn, "the canvas kept drawing at rest"
        assert cpu < IDLE_CPU_SHARE * IDLE_S, f"{cpu:.2f} s of CPU in {IDLE_S} s idle"
        c._changed()  # anything visible changing starts refining again
        deadline = time.perf_counter() + 30
        while len(frames) == drawn and time.perf_counter() < deadline:
            vapp.process_events()
            time.sleep(0.002)
        assert len(frames) > drawn
    finally:
        c.close()


def test_refinement_stops_once_the_noise_is_below_the_stop_and_pauses_while_hidden(gl_context, monkeypatch):
    from vispy import app as vapp

    import hyperinr_renderer.gl.canvas as canvas_mod
    from hyperinr_renderer.gl.canvas import REST_SPP, PathTracerCanvas

    monkeypatch.setattr(canvas_mod, "NOISE_STOP", 0.02)  # coarse, so that it is reached long before REST_SPP
    frames = []
    c = PathTracerCanvas(size=(40, 30), show=True)
    try:
        c.set_volume(sample_field_grid(AnalyticField(scenes.blobs()), 16).numpy().astype(np.float16))
        c.set_transfer_function(TransferFunction.preset("viridis"))
        c.set_quality(32)
        c.events.frame_rendered.connect(lambda e: frames.append(e.spp))
        # Paused before it rests: nothing is refined.
        c.set_paused(True)
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < 2.0:
            vapp.process_events()
            time.sleep(0.01)
        paused_at = c.spp
        assert paused_at < 8, f"refined to {paused_at} spp while paused"
        c.set_paused(False)
        deadline = time.perf_counter() + 120
        while not c.refined:
            vapp.process_events()
            time.sleep(0.002)
            assert time.perf_counter() < deadline, f"never converged (at {c.spp} spp, noise {c.noise})"
        assert c.noise is not None and c.noise < 0.02 and 8 <= c.spp < REST_SPP
        drawn = len(frames)
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < 1.0:
            vapp.process_events()
            time.sleep(0.02)
        assert len(frames) == drawn, "the canvas kept drawing once converged"
        # A screenshot asks for its samples whatever the noise: refining goes on to max_spp.
        c.stop_when_converged = False
        c.max_spp = c.spp * 2
        c.update()
        deadline = time.perf_counter() + 120
        while c.spp < c.max_spp:
            vapp.process_events()
            time.sleep(0.002)
            assert time.perf_counter() < deadline, f"stopped at {c.spp} of {c.max_spp} spp"
    finally:
        c.close()
