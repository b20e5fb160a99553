"""What the explorer remembers between runs (QSettings): recent files, the last folder, the window layout and
each opened file's transfer function. A scripted run (``--screenshot``) neither reads nor writes any of it:
:class:`SavedState` with ``enabled=False``."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QSettings

__all__ = ["settings", "SavedState", "RECENT_MAX", "source_key"]

SETTINGS_ORG = os.environ.get("HYPERINR_SETTINGS_ORG", "HyperINR")
SETTINGS_APP = "Explorer"
RECENT_MAX = 8


def settings() -> QSettings:
    return QSettings(SETTINGS_ORG, SETTINGS_APP)


def source_key(path: str | os.PathLike) -> str:
    """Settings key of an opened file (its resolved path, hashed: keys must not contain separators)."""
    import hashlib

    return hashlib.sha1(str(Path(path).resolve()).encode()).hexdigest()[:16]


class SavedState:
    """The saved session. With ``enabled=False`` nothing is read that changes what is shown, and nothing is
    written."""

    def __init__(self, enabled: bool = True):
        self.enabled = bool(enabled)

    # -- files ---------------------------------------------------------------------------------------------
    def last_dir(self) -> str:
        return str(settings().value("last_dir", str(Path.home())))

    def recent_files(self) -> list[str]:
        value = settings().value("recent_files", [])
        if isinstance(value, str):  # QSettings returns a one-element list as a plain string
            value = [value]
        return [str(v) for v in (value or [])]

    def remember(self, path: str | os.PathLike) -> None:
        """``path`` goes to the top of the recent files, its folder becomes the last folder."""
        if not self.enabled:
            return
        p = str(Path(path).resolve())
        settings().setValue("last_dir", str(Path(p).parent))
        settings().setValue("recent_files", [p, *[r for r in self.recent_files() if r != p]][:RECENT_MAX])

    def forget(self, path: str) -> None:
        settings().setValue("recent_files", [r for r in self.recent_files() if r != path])

    def clear_recent(self) -> None:
        settings().remove("recent_files")

    # -- transfer functions ------------------------------------------------------------------------------
    def saved_tf(self, source: str | None):
        """The transfer function last used with ``source`` (None if none, or not restoring the session)."""
        if not self.enabled or source is None:
            return None
        import json

        from hyperinr_renderer.transfer import TransferFunction

        text = settings().value(f"transfer_functions/{source_key(source)}")
        if not text:
            return None
        try:
            return TransferFunction.from_dict(json.loads(str(text)), source="the saved session")
        except Exception:  # noqa: BLE001 - a damaged setting is dropped, never an error dialog at startup
            settings().remove(f"transfer_functions/{source_key(source)}")
            return None

    def save_tf(self, source: str | None, tf) -> None:
        if not self.enabled or source is None:
            return
        import json

        settings().setValue(f"transfer_functions/{source_key(source)}", json.dumps(tf.to_dict()))

    # -- window layout -----------------------------------------------------------------------------------
    def restore_window(self, window) -> None:
        """Geometry and dock layout of ``window`` (a default size when there is none, or not restoring)."""
        s = settings()
        geo = s.value("geometry") if self.enabled else None
        state = s.value("window_state") if self.enabled else None
        if geo is not None:
            window.restoreGeometry(geo)
        else:
            window.resize(1280, 800)
        if state is not None:
            window.restoreState(state)

    def save_window(self, window) -> None:
        if self.enabled:
            settings().setValue("geometry", window.saveGeometry())
            settings().setValue("window_state", window.saveState())
