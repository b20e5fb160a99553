"""The directional light and the one direction convention used everywhere (tracer, shaders, DGS data).

A light direction is the unit vector pointing TOWARD the light. ``polar`` is measured from +z, ``azimuth``
from +x in the xy-plane, both in degrees: ``(sin p cos a, sin p sin a, cos p)``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["Light", "light_direction", "light_angles"]


def light_direction(azimuth_deg: float, polar_deg: float) -> np.ndarray:
    """(3,) float64 unit vector toward the light."""
    a, p = math.radians(azimuth_deg), math.radians(polar_deg)
    return np.array([math.sin(p) * math.cos(a), math.sin(p) * math.sin(a), math.cos(p)])


def light_angles(direction) -> tuple[float, float]:
    """Inverse of :func:`light_direction`: ``(azimuth in [0, 360), polar in [0, 180])`` in degrees.

    ``direction`` need not be normalized; at the poles the azimuth is 0.
    """
    d = np.asarray(direction, dtype=np.float64).reshape(3)
    n = np.linalg.norm(d)
    if not n > 0:
        raise ValueError("light direction must be non-zero")
    d = d / n
    polar = math.degrees(math.acos(float(np.clip(d[2], -1.0, 1.0))))
    az = math.degrees(math.atan2(d[1], d[0])) % 360.0 if math.hypot(d[0], d[1]) > 1e-12 else 0.0
    return az, polar


@dataclass
class Light:
    """One directional light plus an ambient term (both unitless radiance scales)."""

    azimuth: float = 45.0
    polar: float = 45.0
    intensity: float = 1.0
    ambient: float = 0.25

    def direction(self) -> np.ndarray:
        return light_direction(self.azimuth, self.polar)

    @classmethod
    def from_direction(cls, direction, **kw) -> Light:
        az, polar = light_angles(direction)
        return cls(azimuth=az, polar=polar, **kw)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Light:
        return cls(**{k: float(v) for k, v in d.items() if k in ("azimuth", "polar", "intensity", "ambient")})
