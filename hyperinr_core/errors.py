"""Errors users can act on. The CLI prints them as one line and exits with code 2; the GUI shows a dialog.

A message may name a setting the user can change as ``{name}`` (for example ``{force}``), given as a keyword
with its library spelling (``force="force=True"``). ``str(error)`` reads in the library's terms; the CLI
renders the same message with its own flags (:meth:`HyperINRError.render`), so the core never names a flag.
"""

from __future__ import annotations

import os
from collections.abc import Callable


class HyperINRError(Exception):
    """Base class of errors caused by user input (files, arguments), not by bugs."""

    def __init__(self, message: str = "", **settings: str):
        self.template = message
        self.settings = settings
        super().__init__(self.render())

    def render(self, spell: Callable[[str, str], str] | None = None) -> str:
        """The message with every ``{name}`` replaced by ``spell(name, library_spelling)`` (default: the
        library spelling)."""
        text = self.template
        for name, library in self.settings.items():
            text = text.replace("{" + name + "}", spell(name, library) if spell else library)
        return text


class FileFormatError(HyperINRError, ValueError):
    """A file the program was handed is missing, truncated, malformed or of the wrong kind.

    The message always names the file and the problem: ``"<file>: <problem>"``.
    """

    def __init__(self, path: str | os.PathLike, problem: str, **settings: str):
        self.path = os.fspath(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}", **settings)
