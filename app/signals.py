"""How a command meets SIGINT and SIGTERM: both take Ctrl-C's path (exports cancel and remove their
temporaries, training saves a checkpoint and stops), wherever the command is.

- SIGTERM calls the SIGINT handler in place (a training loop's graceful stop) or raises KeyboardInterrupt,
  not by raising SIGINT: a job a shell started in the background inherits SIGINT ignored, and SIGTERM would
  then be swallowed.
- A KeyboardInterrupt raised while a finalizer runs (a ``__del__``, a weakref callback during garbage
  collection, importlib's module-lock callbacks) is swallowed by Python ("Exception ignored in ..."), and
  the command would go on as if nothing happened. A signal that lands in a frame known to be one is sent
  again a moment later instead; one swallowed anyway reaches ``sys.unraisablehook``, which sends it again.
- A KeyboardInterrupt raised inside a C library's callback into Python (HDF5 converting a value through
  h5py, say) comes out as that library's error (a TypeError "operation not defined for data type class").
  :func:`interrupted` tells the caller that a signal is behind whatever error ended the command.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable

__all__ = ["interrupt_handlers", "restore", "interrupted"]

RETRY_S = 0.02
_RECEIVED = threading.Event()
_LAST: list[int] = []  # the last signal received
_INSTALLS = [0]  # counts installs and restores of the handlers: a re-send fires only within one install


def interrupted() -> bool:
    """Whether SIGINT or SIGTERM raised KeyboardInterrupt since the handlers were installed."""
    return _RECEIVED.is_set()


def _interrupt() -> None:
    _RECEIVED.set()
    raise KeyboardInterrupt
_FINALIZER_FILES = ("weakref.py", "_weakrefset.py")


def _in_finalizer(frame) -> bool:
    """Whether an exception raised at ``frame`` would end in a finalizer, which swallows it."""
    while frame is not None:
        code = frame.f_code
        if code.co_name == "__del__" or code.co_filename.endswith(_FINALIZER_FILES):
            return True
        frame = frame.f_back
    return False


def _again(signum: int) -> None:
    """Send ``signum`` again in a moment, unless the handlers have been put back by then (the command
    ended: the signal would meet whatever handler was there before)."""
    installed = _INSTALLS[0]

    def fire() -> None:
        if _INSTALLS[0] == installed:
            os.kill(os.getpid(), signum)

    threading.Timer(RETRY_S, fire).start()


def _resend_swallowed(previous):
    """``sys.unraisablehook`` that sends a signal again when the KeyboardInterrupt it raised was swallowed
    (nothing is printed); anything else goes to ``previous``."""

    def hook(unraisable) -> None:
        if isinstance(unraisable.exc_value, KeyboardInterrupt) and _RECEIVED.is_set() and _LAST:
            _again(_LAST[-1])
            return
        previous(unraisable)

    return hook


def _on_int(signum, frame) -> None:
    _LAST[:] = [signum]
    if _in_finalizer(frame):
        _again(signum)
        return
    _interrupt()


def _on_term(signum, frame) -> None:
    _LAST[:] = [signum]
    if _in_finalizer(frame):
        _again(signum)
        return
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler) and handler is not _on_int and handler is not signal.default_int_handler:
        handler(signal.SIGINT, frame)  # a handler of the command's own (the training loop's graceful stop)
    else:
        _interrupt()


def interrupt_handlers() -> Callable[[], None] | None:
    """Install both handlers (SIGINT only where Python's default is in place: one inherited ignored stays
    ignored) and the ``sys.unraisablehook`` that sends a swallowed one again. Returns what puts the previous
    ones back; None off the main thread, where none can be set."""
    if threading.current_thread() is not threading.main_thread():
        return None
    _RECEIVED.clear()
    _INSTALLS[0] += 1
    previous = {signal.SIGTERM: signal.signal(signal.SIGTERM, _on_term)}
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        previous[signal.SIGINT] = signal.signal(signal.SIGINT, _on_int)
    hook = sys.unraisablehook
    sys.unraisablehook = _resend_swallowed(hook)

    def restore_() -> None:
        _INSTALLS[0] += 1
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sys.unraisablehook = hook

    return restore_


def restore(undo: Callable[[], None] | None) -> None:
    if undo is not None:
        undo()
