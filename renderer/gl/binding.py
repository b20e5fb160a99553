"""Refuse a Qt binding known to corrupt the interpreter, before it can abort a session.

PySide6 6.12.0 returns ``None`` from void methods without taking a reference to it. From Python 3.12 on
``None`` is immortal and nothing happens; on Python 3.11 every such call (``QTimer.start``,
``QWidget.update``, ``processEvents`` ...) lowers ``None``'s reference count by one, and after a few minutes
of interaction the interpreter aborts with ``Fatal Python error: none_dealloc``. ``setup.cfg`` excludes that
release; this check, run by :func:`renderer.gl.canvas.ensure_app` before any Qt window exists, catches an
environment that has it anyway.
"""

from __future__ import annotations

import sys

from hyperinr_core.errors import HyperINRError

_checked = False  # a sound binding stays sound: check once a process


def none_references_dropped(calls: int = 64) -> int:
    """How many references to ``None`` ``calls`` void Qt calls lose (0 for a sound binding)."""
    from PySide6.QtCore import QObject

    obj = QObject()
    before = sys.getrefcount(None)
    for _ in range(calls):
        obj.setObjectName("probe")  # void
    return max(0, before - sys.getrefcount(None))


def check_qt_binding() -> None:
    """Raise :class:`HyperINRError` naming the fix when the installed PySide6 corrupts reference counts."""
    global _checked
    if _checked or sys.version_info >= (3, 12):  # from 3.12 on None is immortal
        return
    lost = none_references_dropped()
    if lost:
        import PySide6

        raise HyperINRError(
            f"PySide6 {PySide6.__version__} drops a reference to None on every void call under Python "
            f"{sys.version_info.major}.{sys.version_info.minor} (lost {lost} in 64 calls); a Qt window "
            "would abort the process within minutes. Install another release: "
            "pip install 'PySide6-Essentials>=6.6,!=6.12.0'"
        )
    _checked = True
