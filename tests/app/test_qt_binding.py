"""The Qt binding must not corrupt reference counts (PySide6 6.12.0 under Python 3.11 did, and the explorer
aborted with ``none_dealloc`` after a few minutes of interaction)."""

import sys

import pytest


def test_void_qt_calls_keep_their_reference_to_none(qapp):
    from PySide6.QtCore import QTimer

    from hyperinr_renderer.gl.binding import none_references_dropped

    assert none_references_dropped(256) == 0
    timer = QTimer()
    before = sys.getrefcount(None)
    for _ in range(256):
        timer.start(1000)
        timer.stop()
        qapp.processEvents()
    assert sys.getrefcount(None) >= before - 8  # other code may release a few meanwhile; the bug loses 768


def test_a_binding_that_drops_references_is_refused_with_the_fix_named(monkeypatch):
    import hyperinr_renderer.gl.binding as binding
    from hyperinr_core.errors import HyperINRError

    if sys.version_info >= (3, 12):
        pytest.skip("None is immortal from Python 3.12 on: the check does nothing there")
    monkeypatch.setattr(binding, "_checked", False)
    monkeypatch.setattr(binding, "none_references_dropped", lambda calls=64: 64)
    with pytest.raises(HyperINRError, match=r"PySide6-Essentials>=6\.6,!=6\.12\.0"):
        binding.check_qt_binding()
    monkeypatch.setattr(binding, "none_references_dropped", lambda calls=64: 0)
    binding.check_qt_binding()
