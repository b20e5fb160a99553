"""Renderer: fields -> images. The torch half (this package, minus ``renderer.gl``) never imports Qt or vispy.

- :mod:`.camera`, :mod:`.light`, :mod:`.transfer`: the scene description shared with the GL path.
- :mod:`.fields`: INR / grid / analytic fields behind one protocol.
- :mod:`.tracer`: the device-agnostic volumetric path tracer.
- :mod:`.shadows`: shadow modes and shadow volumes.

The names below load on first use, so importing a light submodule does not pull in torch.
"""

from __future__ import annotations

import importlib

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

_HOME = {
    "Camera": "camera",
    "Light": "light",
    "light_direction": "light",
    "light_angles": "light",
    "TransferFunction": "transfer",
    "presets": "transfer",
    "Field": "fields",
    "GridField": "fields",
    "INRField": "fields",
    "AnalyticField": "fields",
}


def __getattr__(name: str):
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
