"""The napari dock widget: decode resolution, steps and the parameter value in model units, the shadow layer.

napari's dims sliders step through integer indices; beside each one this widget shows a real-valued slider
in the model's units, kept in sync both ways (moving it moves napari's slider to the nearest step). Changing
the resolution or the step count replaces the layer's lazy array (the parameter value stays where it was).
For a bundle, the shadow model's transmittance layer is shown or hidden here and its light direction set.

The widget finds its layers by ``layer.metadata["hyperinr"]`` (set by :mod:`app.napari.reader`).
"""

from __future__ import annotations

from contextlib import ExitStack

from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)
from superqt import QLabeledDoubleSlider

from hyperinr_app.napari.lazy import ParameterVolumes
from hyperinr_app.napari.reader import layer_geometry
from hyperinr_renderer.scene import light_values

__all__ = ["HyperINRWidget", "hyperinr_layers", "new_array", "set_array", "rebuild_layer"]


def hyperinr_layers(viewer, role: str = "scalar") -> list:
    """The viewer's layers opened by the HyperINR reader in ``role`` ("scalar" or "shadow")."""
    def role_of(lyr):
        return (lyr.metadata or {}).get("hyperinr", {}).get("role")

    return [lyr for lyr in viewer.layers if isinstance(lyr.data, ParameterVolumes) and role_of(lyr) == role]


def new_array(layer, steps=None, resolution=None) -> ParameterVolumes:
    """A HyperINR layer's array with other ``steps`` / ``resolution`` (same model, decoder, fixed values)."""
    old: ParameterVolumes = layer.data
    steps = old.steps if steps is None else steps
    resolution = old.resolution if resolution is None else resolution
    return ParameterVolumes(old.model, steps, resolution, axes=old.axes, fixed=old.fixed, decoder=old.decoder,
                            cache_size=old.cache_size)


def set_array(layer, new: ParameterVolumes) -> None:
    """Give ``layer`` the array ``new`` with the scale and translate that keep its place in the world.
    napari slices after each of the three changes: hold ``new`` (:meth:`ParameterVolumes.hold`) meanwhile
    and refresh the layer after, so it decodes once."""
    geo = layer_geometry(new, layer.metadata["hyperinr"]["extent"])
    layer.data = new
    layer.scale = geo["scale"]
    layer.translate = geo["translate"]


def rebuild_layer(layer, steps=None, resolution=None) -> ParameterVolumes:
    """Replace a HyperINR layer's array by one with other ``steps`` / ``resolution``; decodes once."""
    new = new_array(layer, steps, resolution)
    with new.hold():
        set_array(layer, new)
    layer.refresh()
    return new


class HyperINRWidget(QWidget):
    """Dock widget of the HyperINR plugin (npe2 ``widgets`` contribution; napari passes the viewer)."""

    def __init__(self, napari_viewer, parent=None):
        super().__init__(parent)
        self.viewer = napari_viewer
        self._syncing = False
        self.sliders: list[QLabeledDoubleSlider] = []
        self.step_spins: list[QSpinBox] = []
        self.step_labels: list[QLabel] = []

        self.layer_combo = QComboBox()
        # Layer names can be long (a bundle's title): they must not widen the dock over napari's canvas.
        self.layer_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.layer_combo.setMinimumContentsLength(16)
        self.resolution = QSpinBox()
        self.resolution.setRange(8, 1024)
        self.resolution.setKeyboardTracking(False)
        self.resolution.setToolTip("Longest side of the decoded grid (the others keep the training aspect)")
        self.params_box = QGroupBox("Parameters (model units)")
        self.params_form = QFormLayout(self.params_box)
        self.shadow_box = QGroupBox("Shadow (transmittance toward the light)")
        self.shadow_show = QCheckBox("Show the shadow layer")
        self.azimuth, self.polar = QDoubleSpinBox(), QDoubleSpinBox()
        for spin, hi in ((self.azimuth, 360.0), (self.polar, 180.0)):
            spin.setRange(0.0, hi)
            spin.setDecimals(1)
            spin.setSuffix("°")
            spin.setKeyboardTracking(False)
        sform = QFormLayout(self.shadow_box)
        sform.addRow(self.shadow_show)
        sform.addRow("Light azimuth", self.azimuth)
        sform.addRow("Light polar", self.polar)
        self.status = QLabel("Open a HyperINR model or bundle (File > Open)")
        self.status.setWordWrap(True)
        self.setMaximumWidth(460)

        top = QFormLayout()
        top.addRow("Model layer", self.layer_combo)
        top.addRow("Decode resolution", self.resolution)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.params_box)
        lay.addWidget(self.shadow_box)
        lay.addWidget(self.status)
        lay.addStretch(1)

        self.layer_combo.currentIndexChanged.connect(self._layer_changed)
        self.resolution.valueChanged.connect(self._resolution_changed)
        self.shadow_show.toggled.connect(self._shadow_toggled)
        self.azimuth.valueChanged.connect(self._light_changed)
        self.polar.valueChanged.connect(self._light_changed)
        self.viewer.layers.events.inserted.connect(self._refresh_layers)
        self.viewer.layers.events.removed.connect(self._refresh_layers)
        self.viewer.dims.events.current_step.connect(self._dims_changed)
        self._refresh_layers()

    # -- the layer being controlled ------------------------------------------------------------------------
    def layer(self):
        """The selected HyperINR (scalar) layer, or None."""
        name = self.layer_combo.currentText()
        return next((lyr for lyr in hyperinr_layers(self.viewer) if lyr.name == name), None)

    def shadow_layer(self):
        """The shadow layer opened from the same file as :meth:`layer`, or None."""
        lyr = self.layer()
        if lyr is None:
            return None
        path = lyr.metadata["hyperinr"]["path"]
        return next((s for s in hyperinr_layers(self.viewer, "shadow")
                     if s.metadata["hyperinr"]["path"] == path), None)

    def _refresh_layers(self, event=None) -> None:
        names = [lyr.name for lyr in hyperinr_layers(self.viewer)]
        current = self.layer_combo.currentText()
        self.layer_combo.blockSignals(True)
        self.layer_combo.clear()
        self.layer_combo.addItems(names)
        if current in names:
            self.layer_combo.setCurrentText(current)
        self.layer_combo.blockSignals(False)
        self._layer_changed()

    def _layer_changed(self, *_) -> None:
        while self.params_form.rowCount():
            self.params_form.removeRow(0)
        self.sliders, self.step_spins, self.step_labels = [], [], []
        lyr = self.layer()
        self.setEnabled(True)
        for w in (self.resolution, self.params_box):
            w.setEnabled(lyr is not None)
        shadow = self.shadow_layer()
        self.shadow_box.setVisible(shadow is not None)
        if lyr is None:
            self.status.setText("Open a HyperINR model or bundle (File > Open)")
            return
        vols: ParameterVolumes = lyr.data
        self._syncing = True
        try:
            self.resolution.setValue(max(vols.resolution))
            for j, name in enumerate(vols.axes):
                slider = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
                slider.setRange(vols.param_lo[j], vols.param_hi[j])
                slider.setDecimals(4)
                steps = QSpinBox()
                steps.setRange(2, 100000)
                steps.setValue(vols.steps[j])
                steps.setKeyboardTracking(False)
                steps.setToolTip(f"Steps along {name} (napari's slider for {name} has this many positions)")
                label = QLabel()
                self.params_form.addRow(name, slider)
                self.params_form.addRow("", label)
                self.params_form.addRow(f"{name} steps", steps)
                slider.valueChanged.connect(lambda v, j=j: self._slider_moved(j, v))
                steps.valueChanged.connect(lambda n, j=j: self._steps_changed(j, n))
                self.sliders.append(slider)
                self.step_spins.append(steps)
                self.step_labels.append(label)
            if shadow is not None:
                self.shadow_show.setChecked(bool(shadow.visible))
                light = shadow.metadata["hyperinr"].get("light", [45.0, 45.0])
                self.azimuth.setValue(float(light[0]))
                self.polar.setValue(float(light[1]))
        finally:
            self._syncing = False
        self.status.setText(f"{lyr.name}: {' x '.join(map(str, vols.shape))} generated on demand")
        self._dims_changed()

    # -- dims <-> sliders ----------------------------------------------------------------------------------
    def param_axis(self, j: int) -> int:
        """The viewer dims axis of the layer's parameter axis ``j`` (napari aligns layers' last axes)."""
        return self.viewer.dims.ndim - self.layer().ndim + j

    def _dims_changed(self, event=None) -> None:
        lyr = self.layer()
        if lyr is None or self._syncing:
            return
        vols: ParameterVolumes = lyr.data
        self._syncing = True
        try:
            for j, (slider, label) in enumerate(zip(self.sliders, self.step_labels, strict=True)):
                i = vols.nearest_index(j, self.viewer.dims.point[self.param_axis(j)])
                value = float(vols.values(j)[i])
                slider.setValue(value)
                label.setText(f"{vols.axes[j]} = {value:.6g}  (step {i} of {vols.steps[j] - 1})")
        finally:
            self._syncing = False

    def _slider_moved(self, j: int, value: float) -> None:
        lyr = self.layer()
        if lyr is None or self._syncing:
            return
        vols: ParameterVolumes = lyr.data
        snapped = float(vols.values(j)[vols.nearest_index(j, value)])
        self.viewer.dims.set_point(self.param_axis(j), snapped)
        self._dims_changed()

    def set_parameter(self, j: int, value: float) -> None:
        """Move parameter ``j`` to ``value`` (model units; the nearest step), as the slider does."""
        self.sliders[j].setValue(value)
        self._slider_moved(j, value)

    # -- rebuilding the arrays -----------------------------------------------------------------------------
    def _rebuild(self, steps=None, resolution=None) -> None:
        lyr = self.layer()
        if lyr is None:
            return
        vols: ParameterVolumes = lyr.data
        values = [float(vols.values(j)[vols.nearest_index(j, self.viewer.dims.point[self.param_axis(j)])])
                  for j in range(len(vols.axes))]
        new = new_array(lyr, steps=steps, resolution=resolution)
        replace = [(lyr, new)]
        shadow = self.shadow_layer()
        if shadow is not None:
            ssteps = [new.steps[new.axes.index(a)] for a in shadow.data.axes]
            replace.append((shadow, new_array(shadow, steps=ssteps, resolution=new.resolution)))
        with ExitStack() as held:  # napari slices after every change below: decode once, at the end
            for layer, arr in replace:
                held.enter_context(arr.hold())
                set_array(layer, arr)
            for j, v in enumerate(values):
                self.viewer.dims.set_point(self.param_axis(j), float(new.values(j)[new.nearest_index(j, v)]))
        for layer, _ in replace:
            layer.refresh()
        self._layer_changed()

    def _resolution_changed(self, n: int) -> None:
        lyr = self.layer()
        if lyr is None or self._syncing:
            return
        res = lyr.data.resolution
        longest = max(res)
        self._rebuild(resolution=tuple(max(2, round(r * n / longest)) for r in res))

    def _steps_changed(self, j: int, n: int) -> None:
        lyr = self.layer()
        if lyr is None or self._syncing:
            return
        steps = list(lyr.data.steps)
        steps[j] = int(n)
        self._rebuild(steps=steps)

    # -- shadow --------------------------------------------------------------------------------------------
    def _shadow_toggled(self, on: bool) -> None:
        shadow = self.shadow_layer()
        if shadow is not None and not self._syncing:
            shadow.visible = bool(on)

    def _light_changed(self, *_) -> None:
        shadow = self.shadow_layer()
        if shadow is None or self._syncing:
            return
        light = (self.azimuth.value(), self.polar.value())
        shadow.data.set_fixed(light_values(shadow.data.model, light))
        shadow.metadata["hyperinr"]["light"] = list(light)
        shadow.refresh()
