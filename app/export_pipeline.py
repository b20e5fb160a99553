"""Streaming animation exports: prepare, render and write frames at once, in bounded memory.

:func:`run_pipeline` runs ``prepare(k)`` (generate + decode, torch) on a producer thread, ``render(k, item)``
(GL or torch path tracing) on the calling thread (a GL context belongs to the thread that made it) and
``write(k, image)`` (the encoder) on a writer thread. Two small queues connect them, so at most ``depth``
prepared frames and ``depth`` finished images wait at any time, whatever the frame count: the next frame's
volume is decoded while this one renders, and the encoder never holds the renderer up.

Errors and cancellation stop every stage: the first error is raised on the calling thread (cancellation
as :class:`Cancelled`) once the writer has stopped, so the caller can remove a half-written file safely.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

__all__ = ["Cancelled", "run_pipeline"]

_DONE = object()


class Cancelled(Exception):
    """The user cancelled an export; nothing was written."""


def _put(q: queue.Queue, item, stop: threading.Event) -> bool:
    """Put ``item`` unless ``stop`` is set first; True when it went in."""
    while not stop.is_set():
        try:
            q.put(item, timeout=0.05)
            return True
        except queue.Full:
            continue
    return False


def _get(q: queue.Queue, stop: threading.Event, cancel: Callable[[], bool] | None = None):
    """The next item; None when ``stop`` is set (or ``cancel()`` is true) first."""
    while not stop.is_set():
        if cancel is not None and cancel():
            return None
        try:
            return q.get(timeout=0.05)
        except queue.Empty:
            continue
    return None


def run_pipeline(
    n: int,
    prepare: Callable[[int], object],
    render: Callable[[int, object], object],
    write: Callable[[int, object], None],
    cancel: Callable[[], bool] | None = None,
    depth: int = 2,
) -> None:
    """Prepare, render and write frames ``0..n-1`` in order, the three stages overlapping (see module doc)."""
    stop = threading.Event()
    errors: list[BaseException] = []
    prepared: queue.Queue = queue.Queue(maxsize=max(1, depth))
    rendered: queue.Queue = queue.Queue(maxsize=max(1, depth))

    def fail(exc: BaseException) -> None:
        errors.append(exc)
        stop.set()

    def producer() -> None:
        try:
            for k in range(n):
                if stop.is_set() or not _put(prepared, (k, prepare(k)), stop):
                    return
        except BaseException as exc:  # handed to the calling thread
            fail(exc)

    def writer() -> None:
        try:
            while True:
                item = _get(rendered, stop)
                if item is None or item is _DONE:
                    return
                write(*item)
        except BaseException as exc:  # handed to the calling thread
            fail(exc)

    threads = [threading.Thread(target=producer, name="export-prepare", daemon=True),
               threading.Thread(target=writer, name="export-write", daemon=True)]
    for t in threads:
        t.start()
    try:
        for k in range(n):
            item = _get(prepared, stop, cancel)
            if item is None:
                break
            image = render(k, item[1])
            if not _put(rendered, (k, image), stop):
                break
        else:
            _put(rendered, _DONE, stop)
            threads[1].join()
        if cancel is not None and cancel() and not errors:
            raise Cancelled()
        if errors:
            raise errors[0]
    except BaseException:
        stop.set()
        raise
    finally:
        # The writer may hold the output open: wait for it. The producer only decodes; it stops after its
        # current frame and writes nothing, so it is not waited for long.
        threads[1].join()
        threads[0].join(timeout=0.5)
