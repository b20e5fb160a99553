"""A tiny observer list, free of Qt: what the explorer session tells its views.

``event.connect(fn)`` registers a callback, ``event.emit(*args)`` calls every callback in the order they
were connected, on the emitting thread. The session emits on one thread only (the GUI thread in the
explorer: worker results reach it through the poster it was given), so callbacks may touch widgets.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["Event"]


class Event:
    """Callbacks called in connection order by :meth:`emit`; connecting one twice calls it twice."""

    def __init__(self, name: str = ""):
        self.name = name
        self.slots: list[Callable] = []

    def connect(self, fn: Callable) -> Callable:
        self.slots.append(fn)
        return fn

    def disconnect(self, fn: Callable) -> None:
        """Remove ``fn`` (its first connection); one not connected is ignored."""
        try:
            self.slots.remove(fn)
        except ValueError:
            pass

    def emit(self, *args) -> None:
        for fn in list(self.slots):  # a callback may disconnect itself
            fn(*args)

    def __repr__(self) -> str:
        return f"Event({self.name!r}, {len(self.slots)} callbacks)"
