"""Run work off the GUI thread and deliver the outcome back on it.

Pool threads are plain Python threads (``concurrent.futures``), not a ``QThreadPool``: they never hold, emit
or free a Qt object. The callbacks (which usually close over widgets) stay on the GUI thread in a table
until the outcome arrives through an :class:`~app.gui.inbox.Inbox`, so the last reference to anything Qt is
always dropped there.
"""

from __future__ import annotations

import functools
import itertools
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait

from PySide6.QtCore import QObject

from .inbox import Inbox

__all__ = ["TaskRunner"]


def _deliver(jobs: dict, key: int, box: list) -> None:
    """GUI thread: run the job's callback with its outcome."""
    job = jobs.pop(key, None)
    if job is None:
        return  # shut down meanwhile
    _fn, on_done, on_error = job
    ok, value = box.pop()
    (on_done if ok else on_error)(value)


def _run(jobs: dict, post: Callable, key: int) -> None:
    """Pool thread: run the job's function; hand the outcome over in a box the GUI thread empties."""
    fn = jobs[key][0]
    try:
        box = [(True, fn())]
    except BaseException as exc:  # handed to the GUI as an error dialog, never lost
        exc.__hyperinr_traceback__ = traceback.format_exc()
        box = [(False, exc)]
        del exc
    del fn
    post(key, box)


class TaskRunner(QObject):
    """``runner.submit(fn, on_done, on_error)`` runs ``fn()`` on a pool thread; the callbacks run on the
    thread that owns the runner (the GUI thread). :meth:`shutdown` waits for running work."""

    def __init__(self, parent=None, max_threads: int = 2, thread_init: Callable[[], None] | None = None):
        super().__init__(parent)
        self.inbox = Inbox(self)
        self._pool = ThreadPoolExecutor(
            max_threads, thread_name_prefix="hyperinr-task", initializer=thread_init
        )
        self._jobs: dict[int, tuple] = {}
        self._keys = itertools.count()
        self._futures: set = set()
        self._post = functools.partial(self.inbox.post, _deliver, self._jobs)  # plain Python, no Qt
        self._closed = False

    def submit(self, fn: Callable[[], object], on_done: Callable, on_error: Callable) -> None:
        if self._closed:
            raise RuntimeError("the task runner is shut down")
        key = next(self._keys)
        self._jobs[key] = (fn, on_done, on_error)
        fut = self._pool.submit(_run, self._jobs, self._post, key)
        self._futures.add(fut)
        fut.add_done_callback(self._futures.discard)

    @property
    def pending(self) -> int:
        """Jobs submitted whose callbacks have not run yet."""
        return len(self._jobs)

    @property
    def running(self) -> int:
        """Jobs whose function is queued or running on a pool thread."""
        return sum(not f.done() for f in list(self._futures))

    def shutdown(self, timeout_ms: int = 30000) -> None:
        """Cancel queued jobs, wait up to ``timeout_ms`` for running ones; their callbacks are dropped."""
        self._closed = True
        for f in list(self._futures):
            f.cancel()
        _done, running = wait(list(self._futures), timeout=timeout_ms / 1000)
        self._pool.shutdown(wait=not running)
        self.inbox.close()
        self._jobs.clear()
