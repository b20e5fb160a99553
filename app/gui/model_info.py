"""View > Model info: the loaded model's configuration and how it was trained (teacher selection table,
held-out check), as ``hyperinr_core.train.summary`` describes it."""

from __future__ import annotations

from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QPlainTextEdit, QVBoxLayout, QWidget

from hyperinr_core.train.summary import describe_model


def model_info_text(model, shadow_model=None, model_path: str = "", shadow_path: str = "") -> str:
    """The text the dialog shows: the scalar model, then the shadow model when one is loaded."""
    if model is None:
        return "No model is loaded."
    text = describe_model(model, model_path)
    if shadow_model is not None:
        text += "\n\nShadow model\n" + describe_model(shadow_model, shadow_path)
    return text


class ModelInfoDialog(QDialog):
    """A read-only, selectable monospace view of :func:`model_info_text`."""

    def __init__(self, text: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Model info")
        self.text = QPlainTextEdit(text)
        self.text.setReadOnly(True)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.FixedFont))
        self.text.setLineWrapMode(QPlainTextEdit.NoWrap)
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(self.text)
        lay.addWidget(buttons)
        self.resize(900, 520)
