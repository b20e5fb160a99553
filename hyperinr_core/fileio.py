"""Output files: check where they go before any work, then write them atomically.

:func:`prepare_output` is what every command that writes calls first: it creates missing parent folders
(with the user's umask, like ``mkdir -p``) and proves the folder takes a new file, so a long render never
ends in a traceback about the output path. :func:`atomic_path` writes to a temporary file beside the target,
then renames it: a crash, Ctrl-C or full disk never leaves a half-written file under the final name and never
destroys the previous version of it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

from hyperinr_core.errors import HyperINRError

__all__ = ["atomic_path", "prepare_output", "umask_mode"]


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def umask_mode(directory: bool = False) -> int:
    """The mode a new file (``0o666``) or folder (``0o777``) gets under the current umask."""
    return (0o777 if directory else 0o666) & ~_umask()


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def prepare_output(path: str | os.PathLike, folder: bool = False) -> Path:
    """Make sure ``path`` can be written, before any work is done; returns it as a :class:`Path`.

    Missing parent folders are created (umask-default modes). The parent must then accept a new file: this
    is tried, not guessed from permission bits, so read-only mounts, ``/proc`` and the like are caught.
    ``folder=True`` is for outputs that are folders (a PNG sequence). An existing output is left alone:
    whether it may be replaced is the caller's rule. Raises :class:`HyperINRError` naming the path and the
    reason.
    """
    target = Path(path)
    if str(path) == "" or target.name in ("", ".", ".."):
        raise HyperINRError(f"{path!r}: not a file name")
    if target.is_dir() and not folder:
        raise HyperINRError(f"{target}: is a folder; give a file name")
    if target.exists() and folder and not target.is_dir():
        raise HyperINRError(f"{target}: is a file; give a new folder name")
    parent = target.parent
    for p in (parent, *parent.parents):  # the nearest existing ancestor must be a folder
        if p.exists():
            if not p.is_dir():
                raise HyperINRError(f"{target}: cannot write there: {p} is a file, not a folder")
            break
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise HyperINRError(f"{target}: cannot create the folder {parent}: {_reason(exc)}") from None
    try:
        with _temporary(parent, f".{target.name}.", ".probe"):
            pass
    except OSError as exc:
        raise HyperINRError(f"{target}: cannot write in {parent}: {_reason(exc)}") from None
    return target


def reserve_name(parent: str | os.PathLike, prefix: str, suffix: str = "") -> Path:
    """A fresh name in ``parent`` for a temporary file or folder; nothing is created. A writer takes the name
    first and creates the temporary inside its ``try``, so that a Ctrl-C at any moment, even between the
    two, leaves nothing behind (``mkstemp`` creates before the caller can guard it)."""
    return Path(parent) / f"{prefix}{secrets.token_hex(5)}{suffix}"


def create_exclusive(path: str | os.PathLike) -> None:
    """Create ``path`` as a new empty file (an error if it exists), with the umask-default mode."""
    os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, umask_mode()))


def remove_temporary(path: str | os.PathLike) -> bool:
    """Remove a temporary file or folder, if it is there; False when it could not be. One that cannot go (its
    folder turned read-only meanwhile, say) is named in a warning on stderr, never raised: the error that
    led here is the one to report. A Ctrl-C (or SIGTERM) that lands during the removal lets it finish first."""
    p = Path(path)
    try:
        return _remove(p)
    except KeyboardInterrupt:
        _remove(p)
        raise


def _remove(p: Path) -> bool:
    try:
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        else:
            p.unlink()
    except FileNotFoundError:
        return True
    except OSError as exc:
        logging.getLogger("hyperinr").warning(
            "could not remove the temporary %s (%s): remove it by hand", p, _reason(exc))
        return False
    return True


@contextlib.contextmanager
def _temporary(parent: Path, prefix: str, suffix: str) -> Iterator[Path]:
    """A new empty file in ``parent``, removed on leaving unless it was moved away."""
    path = reserve_name(parent, prefix, suffix)
    try:
        create_exclusive(path)
        yield path
    finally:
        try:
            remove_temporary(path)
        except KeyboardInterrupt:  # landed before the removal began: remove, then stop
            remove_temporary(path)
            raise


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path in ``path``'s directory; on success rename it to ``path``.

    The temporary name keeps ``path``'s suffix (or ``suffix``) so that writers picking a format from the
    extension (imageio, h5py) still work. On any exception the temporary file is removed and ``path`` is
    left as it was. The file gets the umask-default mode. Path problems raise :class:`HyperINRError`
    (see :func:`prepare_output`).
    """
    target = prepare_output(path)
    sfx = suffix if suffix is not None else "".join(target.suffixes[-1:])
    with _temporary(target.parent, f".{target.name}.", f".part{sfx}") as tmp_path:
        yield tmp_path
        os.replace(tmp_path, target)


def refuse_existing(path: str | os.PathLike, force: bool) -> None:
    """The output policy of every command that writes: an existing output is replaced only when asked
    (``force``); checked before any work. Raises :class:`HyperINRError` naming the path."""
    target = Path(path)
    if (target.exists() or target.is_symlink()) and not force:
        kind = "folder" if target.is_dir() else "file"
        raise HyperINRError(
            f"{target}: the {kind} exists; choose another name or replace it ({{force}})", force="force=True"
        )
