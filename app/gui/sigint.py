"""Ctrl-C (SIGINT) in the terminal quits the explorer cleanly.

Python runs signal handlers only between bytecodes of the main thread, and Qt's event loop runs no Python
while it waits: the default handler would raise KeyboardInterrupt inside whatever Qt virtual override runs
next (a paint event: "Error calling Python override of QOpenGLWindow::event()"), which Qt swallows, and the
window keeps running. Here the C-level handler writes to a socket (``signal.set_wakeup_fd``) that a
``QSocketNotifier`` watches, so the event loop wakes at once; the Python handler only records the signal,
and the notifier's slot, at the top of the event loop, calls ``on_quit``.
"""

from __future__ import annotations

import signal
import socket
from collections.abc import Callable

from PySide6.QtCore import QObject, QSocketNotifier

__all__ = ["SigintQuit"]


class SigintQuit(QObject):
    """While installed, SIGINT calls ``on_quit()`` once on the GUI thread (create it on that thread)."""

    def __init__(self, on_quit: Callable[[], None], parent: QObject | None = None):
        super().__init__(parent)
        self.on_quit = on_quit
        self.hit = False
        self._quitting = False
        self._reader, self._writer = socket.socketpair()
        for s in (self._reader, self._writer):
            s.setblocking(False)
        self._old_fd = signal.set_wakeup_fd(self._writer.fileno(), warn_on_full_buffer=False)
        self._old_handler = signal.signal(signal.SIGINT, self._record)
        self._notifier = QSocketNotifier(self._reader.fileno(), QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._wake)

    def _record(self, _signum, _frame) -> None:
        self.hit = True  # nothing else here: this runs between any two bytecodes of the GUI thread

    def _wake(self, *_args) -> None:
        try:
            while data := self._reader.recv(64):  # set_wakeup_fd writes the signal numbers
                self.hit = self.hit or int(signal.SIGINT) in data
        except (BlockingIOError, InterruptedError, OSError):
            pass
        if self.hit and not self._quitting:  # a second Ctrl-C while quitting changes nothing
            self._quitting = True
            self.on_quit()

    def uninstall(self) -> None:
        """Give SIGINT back to the handler it had before."""
        if self._notifier is None:
            return
        self._notifier.setEnabled(False)
        self._notifier = None
        signal.signal(signal.SIGINT, self._old_handler)
        signal.set_wakeup_fd(self._old_fd)
        for s in (self._reader, self._writer):
            s.close()
