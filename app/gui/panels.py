"""The explorer's docks except the transfer function's (:mod:`hyperinr_app.gui.tf_panel`): parameters, light
and shadows, render settings, and the status line. Each reads and writes the
:class:`~hyperinr_app.session.ExplorerSession` and follows its events; none knows the main window."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QCheckBox,
    QColorDialog,
    QComboBox,
    QFormLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QToolButton,
    QWidget,
)

from hyperinr_app.gui.widgets import FloatSlider, LightSphere

__all__ = ["ParamPanel", "LightPanel", "RenderPanel", "StatusLine"]


def set_quietly(widget, value) -> None:
    """``widget.setValue(value)`` without emitting its change signal (a view following the session)."""
    widget.blockSignals(True)
    widget.setValue(value)
    widget.blockSignals(False)


class ParamPanel(QWidget):
    """A slider per parameter of the volume model, and Play (sweeps the first parameter, wrapping round)."""

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        self.form = QFormLayout(self)
        self.sliders: dict[str, FloatSlider] = {}
        self.play_timer = QTimer(self)
        self.play_timer.setInterval(80)
        self.play_timer.timeout.connect(self.advance)
        self.play_button = None
        self.message = QLabel("Open a model or bundle (File > Open).")
        self.message.setWordWrap(True)
        self.form.addRow(self.message)
        session.model_changed.connect(self.rebuild)
        session.params_changed.connect(self.follow)

    def show_message(self, text: str) -> None:
        """A note in place of the sliders (until a model opens)."""
        if self.message is not None:
            self.message.setText(text)

    def _clear(self) -> None:
        self.play_timer.stop()
        while self.form.rowCount():
            self.form.removeRow(0)
        self.sliders, self.play_button, self.message = {}, None, None

    def rebuild(self) -> None:
        s = self.session
        self._clear()
        if s.model is None:
            m = s.nvs_model
            if m is not None:
                self.message = QLabel(f"Novel view synthesis model: {m.n_encoders} encoders over "
                                      f"({', '.join(m.cfg.param_names)}). The view direction sliders are "
                                      "under the image.")
                self.message.setWordWrap(True)
                self.form.addRow(self.message)
            return
        cfg = s.model.cfg
        for name, lo, hi in zip(cfg.param_names, cfg.param_lo, cfg.param_hi, strict=True):
            slider = FloatSlider(lo, hi, s.params[name], 3)
            slider.valueChanged.connect(lambda v, name=name: self.session.set_param(name, v))
            self.sliders[name] = slider
            self.form.addRow(name, slider)
        self.play_button = QToolButton()
        self.play_button.setText("▶ Play")
        self.play_button.setCheckable(True)
        self.play_button.toggled.connect(self.toggle_play)
        self.form.addRow(self.play_button)
        info = QLabel(f"{s.model.n_encoders} encoders · {cfg.encoding.n_params:,} parameters each")
        info.setStyleSheet("color: gray;")
        self.form.addRow(info)

    def follow(self, params: dict) -> None:
        for name, slider in self.sliders.items():
            if name in params and slider.value() != params[name]:
                set_quietly(slider, params[name])

    def toggle_play(self, on: bool) -> None:
        self.play_button.setText("⏸ Pause" if on else "▶ Play")
        self.play_timer.start() if on else self.play_timer.stop()

    def advance(self) -> None:
        if not self.sliders:
            return
        s = next(iter(self.sliders.values()))
        s.setValue(s.lo if s.value() >= s.hi else s.value() + (s.hi - s.lo) / 100)

    def step(self, k: int) -> bool:
        """Arrow keys: move the first parameter by ``k`` hundredths of its range; False without a model."""
        if not self.sliders:
            return False
        next(iter(self.sliders.values())).step(k)
        return True

    def stop(self) -> None:
        self.play_timer.stop()


class LightPanel(QWidget):
    """The light direction (a sphere to drag, azimuth and polar sliders) and the shadow mode, with the reason
    when field shadows cannot be shown."""

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        light = session.light
        form = QFormLayout(self)
        self.sphere = LightSphere()
        self.sphere.set_direction(light.azimuth, light.polar)
        self.sphere.directionChanged.connect(lambda az, polar: session.set_light(azimuth=az, polar=polar))
        self.azimuth = FloatSlider(0, 360, light.azimuth, 1, "°")
        self.polar = FloatSlider(0, 180, light.polar, 1, "°")
        self.azimuth.valueChanged.connect(lambda v: session.set_light(azimuth=v))
        self.polar.valueChanged.connect(lambda v: session.set_light(polar=v))
        self.shadow_combo = QComboBox()
        self.shadow_combo.addItems(["none", "rays", "field"])
        self.shadow_combo.setCurrentText(session.shadow_mode)
        self.shadow_combo.currentTextChanged.connect(session.set_shadow_mode)
        self.shadow_reason = QLabel()
        self.shadow_reason.setWordWrap(True)
        self.shadow_reason.setStyleSheet("color: #b0a070;")
        form.addRow(self.sphere)
        form.addRow("Azimuth", self.azimuth)
        form.addRow("Polar", self.polar)
        form.addRow("Shadows", self.shadow_combo)
        form.addRow(self.shadow_reason)
        session.light_changed.connect(self.follow_light)
        session.shadow_mode_changed.connect(self.follow_mode)
        session.shadow_availability_changed.connect(self.show_availability)
        self.show_availability(session.field_unavailable_reason())

    def follow_light(self, light) -> None:
        set_quietly(self.azimuth, light.azimuth)
        set_quietly(self.polar, light.polar)
        self.sphere.set_direction(light.azimuth, light.polar)

    def follow_mode(self, mode: str) -> None:
        self.shadow_combo.blockSignals(True)
        self.shadow_combo.setCurrentText(mode)
        self.shadow_combo.blockSignals(False)

    def show_availability(self, reason: str | None) -> None:
        item = self.shadow_combo.model().item(2)
        item.setEnabled(reason is None)
        item.setToolTip(reason or "one shadow-INR lookup per sample")
        self.shadow_reason.setText(reason or "")
        self.shadow_reason.setVisible(bool(reason))  # an empty row would leave a gap under "Shadows"


class RenderPanel(QWidget):
    """Quality (ray-marching steps), progressive refinement at rest and the background: canvas settings."""

    def __init__(self, canvas, parent=None):
        super().__init__(parent)
        self.canvas = canvas
        form = QFormLayout(self)
        self.quality = QSpinBox()
        self.quality.setRange(16, 1024)
        self.quality.setValue(256)
        self.quality.setSuffix(" steps/unit")
        self.quality.valueChanged.connect(canvas.set_quality)
        self.progressive = QCheckBox("accumulate samples at rest")
        self.progressive.setChecked(True)
        self.progressive.toggled.connect(canvas.set_progressive)
        self.bg_button = QPushButton("Background…")
        self.bg_button.clicked.connect(self.pick_background)
        form.addRow("Quality", self.quality)
        form.addRow("Progressive", self.progressive)
        form.addRow(self.bg_button)

    def pick_background(self) -> None:
        from PySide6.QtGui import QColor

        c = QColorDialog.getColor(QColor(20, 20, 26), self, "Background")
        if c.isValid():
            self.canvas.set_background((c.redF(), c.greenF(), c.blueF()))


class StatusLine(QLabel):
    """Generation and frame timings. The text changes with every frame; repainting it (and with it the GL
    window's composition) that often costs the event loop more than the text is worth: at most 5 updates a
    second (:meth:`schedule`)."""

    def __init__(self, session, canvas, parent=None):
        super().__init__("no model", parent)
        self.session, self.canvas = session, canvas
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(200)
        self.timer.timeout.connect(self.refresh)

    def schedule(self, *_args) -> None:
        if not self.timer.isActive():
            self.timer.start()

    def refresh(self) -> None:
        s = self.session.stats
        self.setText(
            f"generate {s['gen']:.2f} ms · decode {s['decode']:.0f} ms ({s['res']}³) · "
            f"frame {self.canvas.last_frame_ms:.0f} ms · {self.canvas.spp} spp"
        )

    def stop(self) -> None:
        self.timer.stop()
