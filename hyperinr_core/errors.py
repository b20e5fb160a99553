"""Errors users can act on. The CLI prints them as one line and exits with code 2; the GUI shows a dialog."""

from __future__ import annotations

import os


class HyperINRError(Exception):
    """Base class of errors caused by user input (files, arguments), not by bugs."""


class FileFormatError(HyperINRError, ValueError):
    """A file the program was handed is missing, truncated, malformed or of the wrong kind.

    The message always names the file and the problem: ``"<file>: <problem>"``.
    """

    def __init__(self, path: str | os.PathLike, problem: str):
        self.path = os.fspath(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")
