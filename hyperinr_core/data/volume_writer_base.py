"""What every volume writer of ``hyperinr decode`` shares: a temporary beside the target, moved into place
only once complete, removed when stopped (:mod:`hyperinr_core.data.volume_writers` lists the formats).

Outputs may be files (``.npy``, ``.nc``) or folders (``.zarr``), with companions (a sidecar, a ``.pvd``'s
folder of frames). Each temporary gets its name before it is created inside the writer's ``try``, so a Ctrl-C
at any moment leaves nothing; a folder replacing an existing one steps the old one aside only once the new
one is whole, and puts it back when stopped in between.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hyperinr_core.errors import HyperINRError
from hyperinr_core.fileio import create_exclusive, remove_temporary, reserve_name, umask_mode

__all__ = ["VolumeWriter", "move_into_place", "swept_parameter"]


class VolumeWriter:
    """Base: a temporary path beside ``path``, replaced into place on :meth:`close`.

    A subclass whose output is a folder (``tmp_is_folder``) gets a temporary folder, private (0700) while it
    fills; companions (a sidecar, a folder of frames beside the file) get temporaries of their own through
    :meth:`_companion`, moved into place before the main output and removed with it on :meth:`abort`.
    """

    tmp_is_folder = False

    def __init__(self, path: str | os.PathLike, shape: Sequence[int], param_names: Sequence[str],
                 values: np.ndarray, name: str = "value"):
        self.path = Path(path)
        self.shape = tuple(int(s) for s in shape)
        self.names = [str(n) for n in param_names]
        self.values = np.asarray(values, dtype=np.float64).reshape(len(values), len(self.names))
        self.name = name
        self.count = 0
        self._preflight()
        self._companions: list[tuple[Path, Path]] = []  # (temporary, final), moved before self.tmp
        self.tmp = reserve_name(self.path.resolve().parent, f".{self.path.name}.", ".part")
        try:
            if self.tmp_is_folder:
                os.mkdir(self.tmp, 0o700)
            else:
                create_exclusive(self.tmp)
            self._open()
        except BaseException:  # a full disk, a bad shape, Ctrl-C: no temporary stays behind
            self.abort()
            raise

    def _preflight(self) -> None:
        """Refuse what cannot be written before anything is created (subclasses: a missing library)."""

    def _open(self) -> None:
        """Open the temporary file (subclasses)."""

    @property
    def n(self) -> int:
        return len(self.values)

    def write(self, frame: np.ndarray) -> None:
        frame = np.asarray(frame, dtype=np.float32)
        if frame.shape != self.shape:
            raise ValueError(f"frame of shape {frame.shape}, expected {self.shape}")
        if self.count >= self.n:
            raise ValueError(f"all {self.n} frames are written")
        self._write(self.count, frame)
        self.count += 1

    def _write(self, k: int, frame: np.ndarray) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _finish(self) -> None:
        """Complete the temporary file (and sidecar) before it is moved into place."""

    def sidecar(self) -> dict:
        return {"param_names": self.names, "params": self.values.tolist()}

    def _companion(self, path: Path, folder: bool = False) -> Path:
        """A temporary (file name, or a new private folder) that :meth:`close` moves onto ``path``."""
        tmp = reserve_name(path.resolve().parent, f".{path.name}.", ".part")
        self._companions.append((tmp, path))  # known before it exists: abort() removes it whenever stopped
        if folder:
            os.mkdir(tmp, 0o700)
        return tmp

    def _write_sidecar(self, path: Path, meta: dict) -> None:
        with open(self._companion(path), "x") as f:
            json.dump(meta, f, indent=1)

    def close(self) -> Path:
        if self.count != self.n:
            raise HyperINRError(f"{self.path}: {self.count} of {self.n} frames written; nothing was kept")
        self._finish()
        for tmp, final in self._companions:
            move_into_place(tmp, final)
        move_into_place(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        for p in (getattr(self, "tmp", None), *(t for t, _ in getattr(self, "_companions", []))):
            if p is not None:
                remove_temporary(p)

    def __enter__(self) -> VolumeWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()


def move_into_place(tmp: Path, target: Path) -> None:
    """Rename ``tmp`` onto ``target``. A folder gets the mode new folders get, and replaces an existing
    one: the old one steps aside only once the new one is whole, and comes back if stopped in between."""
    if not tmp.is_dir():
        os.replace(tmp, target)
        return
    os.chmod(tmp, umask_mode(directory=True))
    if not (target.exists() or target.is_symlink()):
        os.replace(tmp, target)
        return
    old = reserve_name(target.absolute().parent, f".{target.name}.old.")
    try:
        os.mkdir(old, 0o700)
        os.replace(target, old / target.name)
        os.replace(tmp, target)
    except BaseException:
        if (old / target.name).exists() and not target.exists():
            os.replace(old / target.name, target)
        raise
    finally:
        shutil.rmtree(old, ignore_errors=True)


def swept_parameter(path: Path, names: Sequence[str], values: np.ndarray, what: str) -> int | None:
    """The column of the one parameter a sweep varies (None for a single volume); a sweep varying several
    is an error naming ``path`` (``what``: the format, for the message)."""
    if len(values) == 1:
        return None
    varying = [j for j in range(len(names)) if np.ptp(values[:, j]) > 0]
    if len(varying) != 1:
        raise HyperINRError(f"{path}: a {what} sweep varies one parameter; these frames vary {len(varying)}")
    return varying[0]
