"""Orbit (turntable) camera shared by the torch path tracer and the GL path.

World: the volume fills the unit cube [0, 1]^3, coordinates (x, y, z), world up is +z. The camera orbits
``target`` at ``distance``; ``azimuth`` is measured around +z from +x, ``elevation`` from the xy-plane,
``fov`` is the vertical field of view; all angles in degrees. Matrices follow OpenGL conventions (camera
looks down its -z axis, right-handed, column vectors: ``clip = P @ V @ world``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import Tensor

__all__ = ["Camera"]

#: Elevation is kept inside +-MAX_ELEVATION so the look-at basis never degenerates (up = +z).
MAX_ELEVATION = 89.0

#: Far enough back that the whole unit cube (bounding-sphere radius sqrt(3)/2) fits the default 35-degree
#: vertical field of view: the default view of every tool (explorer, render, export) shows all of the volume.
DEFAULT_DISTANCE = 2.8


@dataclass
class Camera:
    target: tuple[float, float, float] = field(default=(0.5, 0.5, 0.5))
    distance: float = DEFAULT_DISTANCE
    azimuth: float = 30.0
    elevation: float = 20.0
    fov: float = 35.0

    def __post_init__(self) -> None:
        self.target = tuple(float(v) for v in self.target)
        self.elevation = float(np.clip(self.elevation, -MAX_ELEVATION, MAX_ELEVATION))
        if not (self.distance > 0 and 0 < self.fov < 180):
            raise ValueError(
                f"invalid camera: distance {self.distance} must be > 0, fov {self.fov} in (0, 180)"
            )

    # -- geometry ----------------------------------------------------------------------------------------
    def eye(self) -> np.ndarray:
        """(3,) float64 camera position in world coordinates."""
        az, el = math.radians(self.azimuth), math.radians(self.elevation)
        offset = np.array([math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el)])
        return np.asarray(self.target, dtype=np.float64) + self.distance * offset

    def basis(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Unit (right, up, forward) world vectors; forward points from the eye to the target."""
        f = np.asarray(self.target, dtype=np.float64) - self.eye()
        f /= np.linalg.norm(f)
        r = np.cross(f, [0.0, 0.0, 1.0])
        r /= np.linalg.norm(r)
        u = np.cross(r, f)
        return r, u, f

    def view_matrix(self) -> np.ndarray:
        """(4, 4) float32 world -> camera (OpenGL look-at, up = +z)."""
        r, u, f = self.basis()
        e = self.eye()
        m = np.eye(4)
        m[0, :3], m[1, :3], m[2, :3] = r, u, -f
        m[:3, 3] = -m[:3, :3] @ e
        return m.astype(np.float32)

    def projection_matrix(self, aspect: float, near: float = 0.01, far: float = 100.0) -> np.ndarray:
        """(4, 4) float32 OpenGL perspective projection (gluPerspective); ``aspect`` = width / height."""
        t = 1.0 / math.tan(math.radians(self.fov) / 2)
        m = np.zeros((4, 4))
        m[0, 0] = t / aspect
        m[1, 1] = t
        m[2, 2] = (far + near) / (near - far)
        m[2, 3] = 2 * far * near / (near - far)
        m[3, 2] = -1.0
        return m.astype(np.float32)

    def rays(
        self, width: int, height: int, device: str | torch.device = "cpu", jitter: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """Primary rays through the pixels, row-major with row 0 at the TOP of the image.

        Args:
            jitter: optional ``(H*W, 2)`` sub-pixel offsets (x right, y down) in pixels, added to the pixel
                centres; e.g. ``rand - 0.5`` for antialiasing. None: exact pixel centres.
        Returns:
            ``origins (H*W, 3)`` (all the eye) and unit ``dirs (H*W, 3)``, float32 on ``device``.
        """
        r, u, f = (torch.tensor(v, dtype=torch.float32, device=device) for v in self.basis())
        half_h = math.tan(math.radians(self.fov) / 2)
        half_w = half_h * width / height
        jj = torch.arange(width, device=device, dtype=torch.float32) + 0.5
        ii = torch.arange(height, device=device, dtype=torch.float32) + 0.5
        py, px = torch.meshgrid(ii, jj, indexing="ij")
        px, py = px.reshape(-1), py.reshape(-1)
        if jitter is not None:
            px = px + jitter[:, 0].to(px)
            py = py + jitter[:, 1].to(py)
        sx = (2 * px / width - 1) * half_w
        sy = (1 - 2 * py / height) * half_h
        d = sx[:, None] * r + sy[:, None] * u + f
        d = d / d.norm(dim=1, keepdim=True)
        o = torch.tensor(self.eye(), dtype=torch.float32, device=device).expand_as(d).contiguous()
        return o, d

    # -- interaction -------------------------------------------------------------------------------------
    def orbit(self, d_az: float, d_el: float) -> Camera:
        """Turn around the target by degrees (in place); returns self."""
        self.azimuth = float((self.azimuth + d_az) % 360.0)
        self.elevation = float(np.clip(self.elevation + d_el, -MAX_ELEVATION, MAX_ELEVATION))
        return self

    def zoom(self, factor: float) -> Camera:
        """Multiply the distance by ``factor`` (< 1 moves closer), in place; returns self."""
        if not factor > 0:
            raise ValueError(f"zoom factor must be > 0, got {factor}")
        self.distance = float(np.clip(self.distance * factor, 1e-3, 1e3))
        return self

    # -- serialization -----------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        d = asdict(self)
        d["target"] = list(self.target)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Camera:
        keys = {"target", "distance", "azimuth", "elevation", "fov"}
        return cls(**{k: v for k, v in d.items() if k in keys})
