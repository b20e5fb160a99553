"""The transfer-function dock: colormap, presets (and the bundle's own TF), the opacity editor over the shown
volume's histogram, "Fit to volume", and loading and saving TF files. It reads and writes the
:class:`~hyperinr_app.session.ExplorerSession`'s transfer function and follows its changes."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtWidgets import QComboBox, QFileDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from hyperinr_app.gui.widgets import OpacityEditor

__all__ = ["TFPanel", "BUNDLE_TF_ITEM"]

BUNDLE_TF_ITEM = "as in the bundle"


class TFPanel(QWidget):
    """``submit(fn, on_done, on_error)`` runs file reads and writes off the GUI thread; ``show_error(title,
    exc)`` and ``message(text, ms)`` report to the user; ``last_dir()`` is where file dialogs open."""

    def __init__(self, session, submit: Callable, show_error: Callable, message: Callable,
                 last_dir: Callable[[], str], parent=None):
        super().__init__(parent)
        from hyperinr_renderer.transfer import COLORMAPS, presets

        self.session = session
        self.submit, self.show_error, self.message, self.last_dir = submit, show_error, message, last_dir
        self._editing = False  # the change comes from this panel's own editor: leave its points alone
        lay = QVBoxLayout(self)
        row = QHBoxLayout()
        self.cmap_combo = QComboBox()
        self.cmap_combo.addItems(sorted(COLORMAPS))
        self.cmap_combo.currentTextChanged.connect(self.set_colormap)
        self.preset_combo = QComboBox()
        self.preset_combo.addItems(["preset…", *presets()])
        self.preset_combo.activated.connect(self.apply_preset)
        row.addWidget(QLabel("Colormap"))
        row.addWidget(self.cmap_combo, 1)
        row.addWidget(self.preset_combo)
        lay.addLayout(row)
        self.opacity = OpacityEditor(alpha_max=0.5)
        self.opacity.pointsChanged.connect(self.set_opacity)
        lay.addWidget(self.opacity)
        row = QHBoxLayout()
        buttons = []
        for text, slot, tip in (
            ("Fit to volume", self.fit,
             "Stretch the opacity curve over the value range of the volume shown now"),
            ("Load…", self.load_dialog, "Load a transfer function (JSON)"),
            ("Save…", self.save_dialog, "Save the transfer function (JSON)"),
        ):
            b = QPushButton(text)
            b.setToolTip(tip)
            b.clicked.connect(slot)
            row.addWidget(b)
            buttons.append(b)
        self.fit_button = buttons[0]
        lay.addLayout(row)
        self.follow(session.tf)
        session.tf_changed.connect(self.follow)
        session.model_changed.connect(lambda: self.set_bundle_item(session.bundle_tf is not None))
        session.volume_ready.connect(self.follow_histogram)

    # -- following the session -------------------------------------------------------------------------------
    def follow(self, tf) -> None:
        for w in (self.cmap_combo, self.opacity):
            w.blockSignals(True)
        self.cmap_combo.setCurrentText(tf.colormap)
        if not self._editing:
            self.opacity.set_points(tf.opacity)
        self.opacity.set_colors(tf.colors(np.linspace(0, 1, 64)))
        for w in (self.cmap_combo, self.opacity):
            w.blockSignals(False)

    def follow_histogram(self, result) -> None:
        if result.histogram is not None:  # final volumes: the editor draws over the shown volume's values
            self.opacity.set_histogram(result.histogram)

    def set_bundle_item(self, present: bool) -> None:
        i = self.preset_combo.findText(BUNDLE_TF_ITEM)
        if present and i < 0:
            self.preset_combo.insertItem(1, BUNDLE_TF_ITEM)
        elif not present and i >= 0:
            self.preset_combo.removeItem(i)

    # -- editing -------------------------------------------------------------------------------------------
    def set_colormap(self, name: str) -> None:
        from dataclasses import replace

        self.session.set_tf(replace(self.session.tf, colormap=name))

    def set_opacity(self, points: list) -> None:
        self._editing = True
        try:
            self.session.set_tf(self.session.tf.with_opacity(points))
        finally:
            self._editing = False

    def apply_preset(self, index: int) -> None:
        from hyperinr_renderer.transfer import TransferFunction

        if index <= 0:
            return
        name = self.preset_combo.itemText(index)
        if name == BUNDLE_TF_ITEM and self.session.bundle_tf is not None:
            self.session.set_tf(self.session.bundle_tf)
        else:
            self.session.set_tf(TransferFunction.preset(name))
        self.preset_combo.setCurrentIndex(0)

    def fit(self) -> None:
        rng = self.session.fit_opacity()
        if rng is not None:
            self.message(f"opacity curve fitted to this volume's values {rng[0]:.3f}…{rng[1]:.3f}", 6000)

    # -- files -----------------------------------------------------------------------------------------------
    def load_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load transfer function", self.last_dir(),
                                              "JSON (*.json)")
        if not path:
            return
        from hyperinr_renderer.transfer import TransferFunction

        self.submit(lambda: TransferFunction.from_json(path), self.session.set_tf,
                    lambda exc: self.show_error("Cannot load the transfer function", exc))

    def save_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save transfer function", self.last_dir(),
                                              "JSON (*.json)")
        if path:
            tf = self.session.tf
            self.submit(lambda: tf.to_json(path), lambda _v: None,
                        lambda exc: self.show_error("Cannot save the transfer function", exc))
