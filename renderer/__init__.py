"""Renderer: fields -> images. The torch half (this package, minus ``renderer.gl``) never imports Qt or vispy.

- :mod:`.camera`, :mod:`.light`, :mod:`.transfer`: the scene description shared with the GL path.
- :mod:`.fields`: INR / grid / analytic fields behind one protocol.
- :mod:`.tracer`: the device-agnostic volumetric path tracer.
- :mod:`.shadows`: shadow modes and shadow volumes.
"""

from .camera import Camera
from .fields import AnalyticField, Field, GridField, INRField
from .light import Light, light_angles, light_direction
from .transfer import TransferFunction, presets

__all__ = [
    "Camera",
    "Light",
    "light_direction",
    "light_angles",
    "TransferFunction",
    "presets",
    "Field",
    "GridField",
    "INRField",
    "AnalyticField",
]
