"""Dataset comparison: the ground-truth frame beside the HyperINR prediction and LERP of the training frames,
as mid-volume slices with PSNR, at any frame of the dataset (training or held out)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QDockWidget, QGridLayout, QHBoxLayout, QLabel, QSpinBox, QWidget


def _to_pixmap(a: np.ndarray, size: int = 192) -> QPixmap:
    g = (np.clip(a, 0, 1) * 255).astype(np.uint8)
    g = np.ascontiguousarray(g)
    img = QImage(g.data, g.shape[1], g.shape[0], g.strides[0], QImage.Format_Grayscale8).copy()
    return QPixmap.fromImage(img).scaled(size, size, Qt.KeepAspectRatio, Qt.SmoothTransformation)


class CompareDock(QDockWidget):
    """Compares against the session's model; ``submit(fn, on_done, on_error)`` runs the work off the GUI
    thread, ``show_error(title, exc)`` reports a failure."""

    def __init__(self, session, path, n_frames: int, submit, show_error, parent=None):
        super().__init__(f"Compare: {path}", parent)
        self.setObjectName("Compare")
        self.session, self.path = session, str(path)
        self.submit, self.show_error = submit, show_error
        w = QWidget()
        grid = QGridLayout(w)
        self.frame = QSpinBox()
        self.info = QLabel()
        top = QHBoxLayout()
        top.addWidget(QLabel("Frame"))
        top.addWidget(self.frame)
        top.addWidget(self.info, 1)
        grid.addLayout(top, 0, 0, 1, 4)
        self.images = {}
        for col, name in enumerate(("ground truth", "HyperINR", "LERP")):
            lab = QLabel()
            lab.setMinimumSize(192, 192)
            self.images[name] = lab
            grid.addWidget(QLabel(name), 1, col)
            grid.addWidget(lab, 2, col)
        grid.setColumnStretch(3, 1)  # the three slices side by side, packed to the left
        self.setWidget(w)
        self.frame.setRange(0, int(n_frames) - 1)
        self.frame.valueChanged.connect(self.refresh)
        self.refresh(0)

    def refresh(self, i: int) -> None:
        model, path = self.session.model, self.path

        def work():
            from hyperinr_core.data.dataset import open_dataset
            from hyperinr_core.eval.baselines import Lerp
            from hyperinr_core.eval.metrics import psnr
            from hyperinr_renderer.scene import Scene

            with open_dataset(path) as ds:
                lo, hi = ds.value_range
                gt = (ds.frame(i) - lo) / (hi - lo)
                theta = ds.params[i]
                pred = Scene(model, theta).volume(gt.shape).float().numpy()
                lerp = (Lerp(ds).predict(ds.normalized_params(ds.params[i : i + 1])[0]) - lo) / (hi - lo)
                train = bool(ds.train_mask[i])
            z = gt.shape[0] // 2
            return i, theta, train, gt[z], pred[z], lerp[z], psnr(pred, gt, 1.0), psnr(lerp, gt, 1.0)

        def done(v):
            i, theta, train, g, p, l_, p1, p2 = v
            for name, a in (("ground truth", g), ("HyperINR", p), ("LERP", l_)):
                self.images[name].setPixmap(_to_pixmap(a))
            kind = "training frame" if train else "held-out frame"
            self.info.setText(
                f"θ = {np.round(theta, 3).tolist()} ({kind}) · PSNR HyperINR {p1:.2f} dB · LERP {p2:.2f} dB"
            )

        self.submit(work, done, lambda exc: self.show_error("Comparison failed", exc))
