"""What an export renders (:class:`ExportScene`) and what an animation varies (:class:`Sweep`): plain data,
free of Qt and GL, shared by the explorer session, the CLI and the export pipeline
(:mod:`hyperinr_app.export`)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from hyperinr_core.errors import HyperINRError
from hyperinr_renderer.scene import Scene

if TYPE_CHECKING:
    from hyperinr_renderer.camera import Camera
    from hyperinr_renderer.transfer import TransferFunction

__all__ = ["ExportScene", "Sweep"]


@dataclass(kw_only=True)
class ExportScene(Scene):
    """What to render: a :class:`~renderer.scene.Scene` (a scalar model at ``theta`` in user units, the
    light, an optional shadow model) with the look: transfer function, camera, shadow mode and the tracer's
    settings. ``shadow_model`` is used in shadow mode ``field``."""

    tf: TransferFunction
    camera: Camera
    shadow_mode: str = "none"
    background: tuple[float, float, float] = (0.08, 0.08, 0.1)
    step: float = 1.0 / 256.0
    seed: int = 0
    shadow_resolution: int = 64  # the shadow texture, or the shadow volume computed without a shadow model
    macro_cells: bool = True  # the torch tracer skips empty space
    fast: bool | None = None  # the torch tracer evaluates INRs compiled (None: on CUDA only)


@dataclass
class Sweep:
    """An animation: ``kind`` is ``"param"`` (the model parameter ``name``), ``"azimuth"`` / ``"polar"``
    (the light) or ``"orbit"`` (camera azimuth, degrees); values go from ``start`` to ``stop``."""

    kind: str
    start: float
    stop: float
    frames: int
    name: str = ""

    def values(self) -> np.ndarray:
        if self.frames < 1:
            raise HyperINRError("an animation needs at least one frame")
        return np.linspace(self.start, self.stop, self.frames)

    def apply(self, scene: ExportScene, value: float) -> ExportScene:
        if self.kind == "param":
            from hyperinr_app.params import resolve_params

            cfg = scene.model.cfg
            names = list(cfg.param_names)
            resolve_params({self.name: float(value)}, names, cfg.param_lo, cfg.param_hi, option="sweep")
            theta = list(scene.theta)
            theta[names.index(self.name)] = float(value)
            return scene.updated(theta=theta)
        if self.kind in ("azimuth", "polar"):
            return scene.updated(light=replace(scene.light, **{self.kind: float(value)}))
        if self.kind == "orbit":
            return scene.updated(camera=replace(scene.camera, azimuth=float(value)))
        raise HyperINRError(f"unknown sweep {self.kind!r} (param, azimuth, polar, orbit)")
