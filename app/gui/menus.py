"""The explorer's menus: File (open, open recent, exports, quit) and View (reset camera, model info, and a
toggle per dock, added by the window as it creates them)."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from PySide6.QtGui import QAction, QKeySequence

__all__ = ["Menus"]


class Menus:
    """Builds the menu bar of ``window``, whose public methods the actions call: ``open_dialog``,
    ``open_recent(path)``, ``export_frame_dialog``, ``export_animation_dialog``, ``close``,
    ``reset_camera`` and ``show_model_info``. ``saved`` is the window's
    :class:`~hyperinr_app.gui.persist.SavedState` (the recent files)."""

    def __init__(self, window, saved):
        self.window, self.saved = window, saved
        m = window.menuBar().addMenu("&File")
        self.recent_menu = None
        for text, key, slot in (
            ("&Open…", QKeySequence.Open, window.open_dialog),
            (None, None, None),
            ("Export &frame…", "Ctrl+E", window.export_frame_dialog),
            ("Export &animation…", "Ctrl+Shift+E", window.export_animation_dialog),
            ("&Quit", QKeySequence.Quit, window.close),
        ):
            if text is None:
                self.recent_menu = m.addMenu("Open &recent")
                continue
            m.addAction(self.action(text, slot, key))
        self.refresh_recent()
        self.view_menu = window.menuBar().addMenu("&View")
        self.view_menu.addAction(self.action("&Reset camera", window.reset_camera, "Ctrl+R"))
        self.view_menu.addAction(self.action("Model &info…", window.show_model_info))
        self.view_menu.addSeparator()

    def action(self, text: str, slot, key=None) -> QAction:
        a = QAction(text, self.window)
        if key is not None:
            a.setShortcut(key)
        a.triggered.connect(slot)
        return a

    def refresh_recent(self) -> None:
        """Rebuild File > Open recent from the saved list."""
        menu = self.recent_menu
        menu.clear()
        recent = self.saved.recent_files()
        for i, p in enumerate(recent):
            a = menu.addAction(f"&{i + 1} {Path(p).name}")
            a.setToolTip(p)
            a.setData(p)
            a.triggered.connect(partial(self.window.open_recent, p))
        if recent:
            menu.addSeparator()
        clear = menu.addAction("Clear list")
        clear.setEnabled(bool(recent))
        clear.triggered.connect(lambda: (self.saved.clear_recent(), self.refresh_recent()))
