"""The explorer session without Qt: it and its workers import with Qt and vispy unimportable, and drive a
model headlessly (open, move a parameter, get the volume through the worker; the same for an NVS model).
docs/ARCHITECTURE.md, "Data flow of one interactive frame"."""

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
BLOCKED = ("PySide6", "PyQt5", "PyQt6", "vispy", "superqt", "OpenGL")
QT_FREE = ("hyperinr_app.session", "hyperinr_app.events", "hyperinr_app.workers", "hyperinr_app.controller",
           "hyperinr_app.nvs")


def volume_model(shadow: bool = False, tf_fingerprint: str | None = None):
    from hyperinr_core import HashGridConfig, HyperINR, HyperINRConfig, MLPConfig

    g = torch.Generator().manual_seed(0)
    if shadow:
        enc = HashGridConfig(3, 2, 2, 8, 4, 2.0)
        meta = {"tf_fingerprint": tf_fingerprint} if tf_fingerprint else {}
        cfg = HyperINRConfig(enc, MLPConfig(4, 1, 16, 1), ["t", "azimuth", "polar"], [0, 0, 0],
                             [10, 360, 180], k_neighbours=4, metadata=meta)
        return HyperINR(cfg, np.random.default_rng(0).uniform(0, 1, (6, 3)), generator=g)
    enc = HashGridConfig(3, 2, 2, 9, 4, 2.0)
    cfg = HyperINRConfig(enc, MLPConfig(4, 1, 16, 1), ["t"], [0.0], [10.0])
    return HyperINR(cfg, np.linspace(0, 1, 3)[:, None], generator=g)


HEADLESS = textwrap.dedent(
    f"""
    import sys, threading

    class Block:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {BLOCKED!r}:
                raise ImportError("blocked for the headless session test: " + name)
            return None

    sys.meta_path.insert(0, Block())
    import importlib
    for name in {QT_FREE!r}:
        importlib.import_module(name)

    import numpy as np, torch
    from hyperinr_core import HashGridConfig, HyperINR, HyperINRConfig, MLPConfig
    from hyperinr_app.session import ExplorerSession

    g = torch.Generator().manual_seed(0)
    model = HyperINR(HyperINRConfig(HashGridConfig(3, 2, 2, 9, 4, 2.0), MLPConfig(4, 1, 16, 1), ["t"], [0.0],
                                    [10.0]), np.linspace(0, 1, 3)[:, None], generator=g)
    nvs = HyperINR(HyperINRConfig(HashGridConfig(2, 2, 2, 8, 4, 2.0), MLPConfig(4, 3, 16, 1),
                                  ["theta", "phi"], [20.0, 0.0], [160.0, 180.0], k_neighbours=3, task="nvs",
                                  metadata={{"frame_shape": [12, 16, 3]}}),
                   np.random.default_rng(0).uniform(0, 1, (5, 2)), generator=g)

    session = ExplorerSession(resolutions=(8, 12))
    finals, images, changed = [], [], []
    got = threading.Event()
    session.model_changed.connect(lambda: changed.append(session.active_model))
    session.volume_ready.connect(lambda r: (finals.append(r), got.set()) if r.final else None)
    session.image_ready.connect(lambda r: (images.append(r), got.set()) if r.final else None)

    session.set_model(None, model)
    assert got.wait(120), "no volume"
    got.clear()
    session.set_param("t", 7.5)
    assert got.wait(120), "no volume after the parameter moved"
    assert [r.request.theta for r in finals] == [[5.0], [7.5]], finals
    assert finals[-1].volume.shape == (12, 12, 12) and finals[-1].error is None
    assert session.histogram is finals[-1].histogram and session.stats["res"] == 12

    got.clear()
    session.open_nvs(None, nvs)
    assert session.worker is None and session.model is None
    assert got.wait(120), "no NVS image"
    assert images[-1].image.shape == (12, 16, 3) and images[-1].request.theta == [90.0, 90.0]
    assert changed == [model, nvs]
    session.close()
    assert not any(t.name.startswith("hyperinr") and t.is_alive() for t in threading.enumerate())
    gui = sorted(m for m in sys.modules if m.split(".")[0] in {BLOCKED!r})
    assert not gui, gui
    print("ok")
    """
)


def test_the_session_and_its_workers_run_headless_with_qt_unimportable():
    r = subprocess.run([sys.executable, "-c", HEADLESS], cwd=ROOT, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.strip().endswith("ok")


def test_events_call_their_callbacks_in_order_and_disconnect():
    from hyperinr_app.events import Event

    e, seen = Event("x"), []
    a = e.connect(lambda v: seen.append(("a", v)))
    e.connect(lambda v: seen.append(("b", v)))
    e.emit(1)
    e.disconnect(a)
    e.disconnect(a)  # not connected any more: ignored
    e.emit(2)
    assert seen == [("a", 1), ("b", 1), ("b", 2)]


@pytest.fixture
def session():
    from hyperinr_app.session import ExplorerSession

    queue = []
    s = ExplorerSession(post=lambda fn, *a: queue.append((fn, a)), resolutions=(8,))
    s.queue = queue  # what the workers posted; a test runs it as the GUI thread would
    yield s
    s.close()


def run_posted(session, until, timeout=60.0):
    """Run what the workers posted, as the GUI thread would, until ``until()`` holds."""
    pause = threading.Event()
    for _ in range(int(timeout / 0.02)):
        while session.queue:
            fn, args = session.queue.pop(0)
            fn(*args)
        if until():
            return
        pause.wait(0.02)
    raise AssertionError("the worker posted nothing")


def test_field_shadows_follow_the_shadow_model_and_the_transfer_function(session):
    tf = session.tf
    modes, reasons = [], []
    session.shadow_mode_changed.connect(modes.append)
    session.shadow_availability_changed.connect(reasons.append)
    session.set_model(None, volume_model(), volume_model(True, tf.fingerprint()))
    assert session.shadow_mode == "field" and modes == ["field"] and reasons[-1] is None
    session.set_tf(tf.with_opacity([(0.0, 0.0), (1.0, 0.9)]))  # the shadow model was made for another TF
    assert session.shadow_mode == "none" and "transfer function" in reasons[-1]
    session.set_tf(tf)
    assert session.field_unavailable_reason() is None and session.shadow_mode == "none"  # no surprise switch


def test_parameters_light_and_late_results(session):
    session.set_model(None, volume_model())
    run_posted(session, lambda: session.histogram is not None)
    with pytest.raises(KeyError):
        session.set_param("nope", 1.0)
    seen = []
    session.params_changed.connect(seen.append)
    session.set_params(t=99.0)
    assert seen == [{"t": 10.0}] and session.theta() == [10.0]  # clamped to the model's range
    session.set_light(azimuth=200.0)
    assert session.light.azimuth == 200.0
    # Results of a model replaced meanwhile are dropped, not shown over the new model's.
    session.queue.clear()
    session.set_model(None, volume_model())  # waits for the old worker: all it made is posted by now
    shown = []
    session.volume_ready.connect(shown.append)
    run_posted(session, lambda: bool(shown))
    assert all(r.request.theta == [5.0] for r in shown)  # the new model's start, never t = 10
    assert session.fit_opacity() == session.data_range()
