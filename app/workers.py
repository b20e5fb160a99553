"""The one background worker of the explorer: a thread serving the newest request ("latest request wins").

Dragging a slider asks for a new volume (or image) every few milliseconds; serving each in turn would queue
up stale work. A :class:`LatestRequestWorker` keeps one pending request: a new one replaces it, and a
subclass refining a result coarse to fine checks :meth:`~LatestRequestWorker.newer_waiting` between rungs to
drop the refinement of a superseded request. Results go to ``on_result`` on the worker thread; the explorer
forwards them to the GUI thread (docs/ARCHITECTURE.md, "Data flow of one interactive frame"). No Qt here.

Subclasses: :class:`~hyperinr_app.controller.GenerationWorker` (volumes) and
:class:`~hyperinr_app.nvs.NVSWorker` (novel-view images).
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from typing import Any

__all__ = ["LatestRequestWorker", "lower_thread_priority", "BACKGROUND_NICENESS"]

BACKGROUND_NICENESS = 5


def lower_thread_priority(niceness: int = BACKGROUND_NICENESS) -> bool:
    """Lower the calling thread's scheduling priority (Linux: per-thread nice), so that on a busy machine the
    GUI thread and the GL rasteriser win the cores over background generation: a dragged slider stays smooth
    and the volumes arrive a little later. Best effort; returns False where the platform does not allow it."""
    import os

    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + int(niceness)))
        return True
    except (AttributeError, OSError):
        return False


class LatestRequestWorker:
    """One daemon thread named ``name`` serving the newest request passed to :meth:`request`.

    Subclasses implement :meth:`serve` (call ``self.on_result`` once per result) and :meth:`error_result`
    (the result reporting a failed request; a failure never kills the thread). Optional hooks:
    :meth:`setup` (first thing on the thread), :meth:`chore_pending` / :meth:`chore` (work to do between
    requests, e.g. switching decoders). The thread runs at lowered priority with ``threads`` torch threads.
    """

    def __init__(self, on_result: Callable[[Any], None], name: str, threads: int | None = 1):
        self.on_result = on_result
        self.threads = threads
        self.cv = threading.Condition()  # guards the pending request, the stop flag and subclass wishes
        self._pending = None
        self._stop = False
        self._serial = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    # -- any thread ------------------------------------------------------------------------------------------
    def request(self, req) -> int:
        """Queue ``req`` (replacing any request not yet started); sets and returns its serial number."""
        with self.cv:
            self._serial += 1
            req.serial = self._serial
            self._pending = req
            self.cv.notify()
        return req.serial

    def newer_waiting(self) -> bool:
        """Whether a newer request (or the stop) is waiting: a refinement in progress may stop early."""
        with self.cv:
            return self._pending is not None or self._stop

    def close(self, timeout: float = 10.0) -> None:
        """Stop the thread (after the request it is serving) and wait up to ``timeout`` seconds for it."""
        with self.cv:
            self._stop = True
            self.cv.notify()
        self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    # -- hooks (worker thread) -------------------------------------------------------------------------------
    def setup(self) -> None:
        """Called once on the worker thread before the first request."""

    def chore_pending(self) -> bool:
        """Called with :attr:`cv` held: whether :meth:`chore` has work even without a request."""
        return False

    def chore(self) -> None:
        """Work between requests, when :meth:`chore_pending` said so (called without the lock)."""

    def serve(self, req) -> None:
        raise NotImplementedError

    def error_result(self, req, message: str, trace: str):
        raise NotImplementedError

    # -- the thread ------------------------------------------------------------------------------------------
    def _run(self) -> None:
        lower_thread_priority()
        if self.threads:
            import torch

            torch.set_num_threads(self.threads)
        self.setup()
        while True:
            with self.cv:
                while self._pending is None and not self._stop and not self.chore_pending():
                    self.cv.wait()
                if self._stop:
                    return
                req, self._pending = self._pending, None
                chore = self.chore_pending()
            if chore:
                self.chore()
            if req is None:
                continue
            try:
                self.serve(req)
            except Exception as exc:  # reported to the GUI, never kills the worker
                self.on_result(self.error_result(req, f"{type(exc).__name__}: {exc}", traceback.format_exc()))
