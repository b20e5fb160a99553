"""Small reusable widgets: a float slider with a spin box, the light-direction sphere, the opacity editor."""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QLinearGradient, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QDoubleSpinBox, QHBoxLayout, QSizePolicy, QSlider, QWidget

__all__ = ["FloatSlider", "LightSphere", "OpacityEditor"]

STEPS = 1000


class FloatSlider(QWidget):
    """A horizontal slider over [lo, hi] with a linked spin box; emits ``valueChanged(float)``."""

    valueChanged = Signal(float)

    def __init__(self, lo: float, hi: float, value: float, decimals: int = 2, suffix: str = "", parent=None):
        super().__init__(parent)
        self.lo, self.hi = float(lo), float(hi)
        self.slider = QSlider(Qt.Horizontal)
        self.slider.setRange(0, STEPS)
        self.spin = QDoubleSpinBox()
        self.spin.setRange(self.lo, self.hi)
        self.spin.setDecimals(decimals)
        self.spin.setSingleStep((self.hi - self.lo) / 100)
        self.spin.setSuffix(suffix)
        self.spin.setKeyboardTracking(False)
        self.spin.setMinimumWidth(82)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.slider, 1)
        lay.addWidget(self.spin)
        self._value = float(value)
        self._sync(self._value)
        self.slider.valueChanged.connect(self._from_slider)
        self.spin.valueChanged.connect(self._from_spin)

    def value(self) -> float:
        return self._value

    def setValue(self, v: float) -> None:
        v = min(max(float(v), self.lo), self.hi)
        if v != self._value:
            self._value = v
            self._sync(v)
            self.valueChanged.emit(v)

    def _sync(self, v: float) -> None:
        for w, val in ((self.slider, round((v - self.lo) / (self.hi - self.lo) * STEPS)), (self.spin, v)):
            w.blockSignals(True)
            w.setValue(val)
            w.blockSignals(False)

    def _from_slider(self, i: int) -> None:
        self.setValue(self.lo + (self.hi - self.lo) * i / STEPS)

    def _from_spin(self, v: float) -> None:
        self.setValue(v)

    def step(self, k: int) -> None:
        """Move by ``k`` hundredths of the range (arrow keys)."""
        self.setValue(self._value + k * (self.hi - self.lo) / 100)


class LightSphere(QWidget):
    """A shaded sphere seen from above (+z); dragging on it sets the light direction (upper hemisphere)."""

    directionChanged = Signal(float, float)  # azimuth, polar in degrees

    def __init__(self, parent=None):
        super().__init__(parent)
        self.azimuth, self.polar = 45.0, 45.0
        self.setMinimumSize(110, 110)
        self.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Fixed)
        self.setToolTip("Drag to move the light (seen from above; the centre is straight overhead)")

    def set_direction(self, azimuth: float, polar: float) -> None:
        self.azimuth, self.polar = azimuth, polar
        self.update()

    def _geometry(self) -> tuple[QPointF, float]:
        r = min(self.width(), self.height()) / 2 - 6
        return QPointF(self.width() / 2, self.height() / 2), r

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing)
        c, r = self._geometry()
        az, pol = math.radians(self.azimuth), math.radians(self.polar)
        lx, ly = math.sin(pol) * math.cos(az), math.sin(pol) * math.sin(az)
        grad = QLinearGradient(c + QPointF(lx * r, -ly * r), c - QPointF(lx * r, -ly * r))
        grad.setColorAt(0, QColor(235, 225, 200))
        grad.setColorAt(1, QColor(45, 45, 60))
        p.setBrush(QBrush(grad))
        p.setPen(QPen(QColor(120, 120, 130), 1))
        p.drawEllipse(c, r, r)
        dot = c + QPointF(lx * r, -ly * r)
        p.setBrush(QColor(255, 200, 60) if self.polar <= 90 else QColor(120, 120, 200))
        p.setPen(QPen(QColor(30, 30, 30), 1))
        p.drawEllipse(dot, 6, 6)

    def _set_from(self, pos) -> None:
        c, r = self._geometry()
        x, y = (pos.x() - c.x()) / r, -(pos.y() - c.y()) / r
        rho = min(math.hypot(x, y), 1.0)
        self.polar = math.degrees(math.asin(rho))
        self.azimuth = math.degrees(math.atan2(y, x)) % 360.0
        self.update()
        self.directionChanged.emit(self.azimuth, self.polar)

    def mousePressEvent(self, event) -> None:
        self._set_from(event.position())

    def mouseMoveEvent(self, event) -> None:
        if event.buttons() & Qt.LeftButton:
            self._set_from(event.position())


class OpacityEditor(QWidget):
    """Piecewise-linear opacity curve over the data histogram, coloured by the colormap.

    Drag a control point to move it; double-click to add one; right-click a point to remove it (the end
    points stay). Emits ``pointsChanged(list)`` with ``[(value, alpha), ...]``, alpha in [0, ``alpha_max``].
    """

    pointsChanged = Signal(list)
    PICK = 8.0

    def __init__(self, parent=None, alpha_max: float = 1.0):
        super().__init__(parent)
        self.points: list[list[float]] = [[0.0, 0.0], [1.0, 0.5]]
        self.alpha_max = alpha_max
        self.histogram: np.ndarray | None = None
        self.colors: np.ndarray | None = None  # (n, 3) in [0, 1]
        self._drag: int | None = None
        self.setMinimumSize(220, 120)
        self.setToolTip("Opacity: drag points, double-click to add, right-click to remove")

    def set_points(self, points, emit: bool = False) -> None:
        self.points = sorted([float(v), float(a)] for v, a in points)
        self.update()
        if emit:
            self.pointsChanged.emit([tuple(p) for p in self.points])

    def set_histogram(self, counts: np.ndarray | None) -> None:
        self.histogram = None if counts is None else np.log1p(np.asarray(counts, float))
        self.update()

    def set_colors(self, colors: np.ndarray) -> None:
        self.colors = np.asarray(colors)
        self.update()

    # -- geometry --------------------------------------------------------------------------------------
    def _rect(self) -> QRectF:
        return QRectF(8, 6, self.width() - 16, self.height() - 14)

    def _to_px(self, v: float, a: float) -> QPointF:
        r = self._rect()
        return QPointF(r.left() + v * r.width(), r.bottom() - a / self.alpha_max * r.height())

    def _from_px(self, pos) -> tuple[float, float]:
        r = self._rect()
        v = (pos.x() - r.left()) / r.width()
        a = (r.bottom() - pos.y()) / r.height() * self.alpha_max
        return min(max(v, 0.0), 1.0), min(max(a, 0.0), self.alpha_max)

    def _pick(self, pos) -> int | None:
        for i, (v, a) in enumerate(self.points):
            q = self._to_px(v, a)
            if abs(q.x() - pos.x()) <= self.PICK and abs(q.y() - pos.y()) <= self.PICK:
                return i
        return None

    # -- painting --------------------------------------------------------------------------------------
    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing)
        r = self._rect()
        p.fillRect(self.rect(), QColor(32, 32, 38))
        if self.colors is not None:
            grad = QLinearGradient(r.left(), 0, r.right(), 0)
            n = len(self.colors)
            for i in range(0, n, max(1, n // 32)):
                c = self.colors[i]
                grad.setColorAt(i / (n - 1), QColor.fromRgbF(float(c[0]), float(c[1]), float(c[2]), 0.35))
            p.fillRect(r, QBrush(grad))
        if self.histogram is not None and self.histogram.max() > 0:
            h = self.histogram / self.histogram.max()
            bw = r.width() / len(h)
            p.setPen(Qt.NoPen)
            p.setBrush(QColor(200, 200, 210, 90))
            for i, v in enumerate(h):
                p.drawRect(QRectF(r.left() + i * bw, r.bottom() - v * r.height(), bw, v * r.height()))
        path = QPainterPath(self._to_px(*self.points[0]))
        for v, a in self.points[1:]:
            path.lineTo(self._to_px(v, a))
        p.setPen(QPen(QColor(250, 250, 250), 2))
        p.setBrush(Qt.NoBrush)
        p.drawPath(path)
        p.setBrush(QColor(255, 170, 60))
        p.setPen(QPen(QColor(20, 20, 20), 1))
        for v, a in self.points:
            p.drawEllipse(self._to_px(v, a), 5, 5)

    # -- interaction -----------------------------------------------------------------------------------
    def mousePressEvent(self, event) -> None:
        i = self._pick(event.position())
        if event.button() == Qt.RightButton and i is not None and 0 < i < len(self.points) - 1:
            del self.points[i]
            self.update()
            self.pointsChanged.emit([tuple(q) for q in self.points])
        elif event.button() == Qt.LeftButton:
            self._drag = i

    def mouseDoubleClickEvent(self, event) -> None:
        v, a = self._from_px(event.position())
        self.points.append([v, a])
        self.set_points(self.points, emit=True)

    def mouseMoveEvent(self, event) -> None:
        if self._drag is None:
            return
        v, a = self._from_px(event.position())
        i = self._drag
        lo = self.points[i - 1][0] if i > 0 else 0.0
        hi = self.points[i + 1][0] if i < len(self.points) - 1 else 1.0
        if i == 0:
            v = 0.0
        elif i == len(self.points) - 1:
            v = 1.0
        self.points[i] = [min(max(v, lo), hi), a]
        self.update()
        self.pointsChanged.emit([tuple(q) for q in self.points])

    def mouseReleaseEvent(self, event) -> None:
        self._drag = None
