"""Hand calls from any thread to the GUI thread without touching Qt from that thread.

Worker threads (generation, exports, file loading) must not emit Qt signals or own Qt objects: PySide emits
from foreign threads at a high rate have corrupted reference counts (``Fatal Python error: bool_dealloc``),
and a ``QRunnable`` deleted on a pool thread freed Python wrappers there, which deadlocked against the GUI
thread (the pool thread waited for the GIL inside ``QObject::disconnect`` while the GUI thread held the GIL
and waited for that connection's mutex).

An :class:`Inbox` is a plain Python queue plus a socket pair: :meth:`Inbox.post` (any thread) appends the
call and writes one byte; a ``QSocketNotifier`` on the GUI thread wakes on that byte and runs the queued
calls there. The posting thread calls no Qt function at all, and nothing polls.
"""

from __future__ import annotations

import collections
import socket
import traceback
from collections.abc import Callable

from PySide6.QtCore import QObject, QSocketNotifier

__all__ = ["Inbox", "Mailbox"]


class Mailbox:
    """The thread-side half of an :class:`Inbox`: pure Python, safe to call from any thread."""

    def __init__(self):
        self.calls: collections.deque = collections.deque()
        self.reader, self.writer = socket.socketpair()
        self.reader.setblocking(False)
        self.writer.setblocking(False)
        self.closed = False

    def post(self, fn: Callable, *args) -> None:
        """Run ``fn(*args)`` on the GUI thread soon (dropped once the inbox is closed)."""
        if self.closed:
            return
        self.calls.append((fn, args))
        try:
            self.writer.send(b"\0")
        except (BlockingIOError, InterruptedError):
            pass  # the socket buffer is full: a wake-up is already pending
        except OSError:
            pass  # closed meanwhile (the window is shutting down)

    def close(self) -> None:
        self.closed = True
        self.calls.clear()
        for s in (self.reader, self.writer):
            try:
                s.close()
            except OSError:
                pass


class Inbox(QObject):
    """Create on the GUI thread; pass :attr:`post` (or :attr:`mailbox`) to worker threads."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.mailbox = Mailbox()
        self._draining = False
        self._notifier = QSocketNotifier(self.mailbox.reader.fileno(), QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self.drain)
        self.destroyed.connect(self.mailbox.close)

    @property
    def post(self) -> Callable:
        return self.mailbox.post

    def drain(self, *_args) -> None:
        """Run every queued call (GUI thread). Re-entrant calls (a modal dialog's ``setValue`` processes
        events) return at once; the outer drain picks up what arrived meanwhile."""
        if self._draining or self.mailbox.closed:
            return
        self._draining = True
        try:
            try:
                while self.mailbox.reader.recv(4096):
                    pass
            except (BlockingIOError, InterruptedError, OSError):
                pass
            calls = self.mailbox.calls
            while calls:
                fn, args = calls.popleft()
                try:
                    fn(*args)
                except Exception:  # noqa: BLE001 - one failing callback must not starve the others
                    traceback.print_exc()
                del fn, args
        finally:
            self._draining = False

    def close(self) -> None:
        """Stop delivering; later posts are dropped."""
        self._notifier.setEnabled(False)
        self.mailbox.close()
