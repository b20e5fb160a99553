"""Run work off the GUI thread and deliver the outcome back on it."""

from __future__ import annotations

import traceback
from collections.abc import Callable

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

__all__ = ["TaskRunner"]


class _Bridge(QObject):
    done = Signal(object, object)  # (callback, value)


class _Job(QRunnable):
    def __init__(self, fn, bridge, on_done, on_error, thread_init):
        super().__init__()
        self.fn, self.bridge, self.on_done, self.on_error = fn, bridge, on_done, on_error
        self.thread_init = thread_init

    def run(self) -> None:
        try:
            if self.thread_init is not None:
                self.thread_init()
            value = self.fn()
        except BaseException as exc:  # handed to the GUI as an error dialog, never lost
            exc.__hyperinr_traceback__ = traceback.format_exc()
            self.bridge.done.emit(self.on_error, exc)
        else:
            self.bridge.done.emit(self.on_done, value)


class TaskRunner(QObject):
    """``runner.submit(fn, on_done, on_error)`` runs ``fn()`` on a pool thread; the callbacks run on the
    thread that owns the runner (the GUI thread). :meth:`shutdown` waits for running work."""

    def __init__(self, parent=None, max_threads: int = 2, thread_init: Callable[[], None] | None = None):
        super().__init__(parent)
        self.thread_init = thread_init
        self.pool = QThreadPool()
        self.pool.setMaxThreadCount(max_threads)
        self._bridge = _Bridge()
        self._bridge.done.connect(self._deliver)

    def submit(self, fn: Callable[[], object], on_done: Callable, on_error: Callable) -> None:
        self.pool.start(_Job(fn, self._bridge, on_done, on_error, self.thread_init))

    @staticmethod
    def _deliver(callback, value) -> None:
        callback(value)

    def shutdown(self, timeout_ms: int = 30000) -> None:
        self.pool.clear()
        self.pool.waitForDone(timeout_ms)
