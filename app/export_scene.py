"""What an export renders (:class:`ExportScene`) and what an animation varies (:class:`Sweep`): plain data,
free of Qt and GL, shared by the explorer session, the CLI and the export pipeline
(:mod:`hyperinr_app.export`)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from hyperinr_core.errors import HyperINRError

__all__ = ["ExportScene", "Sweep"]


@dataclass
class ExportScene:
    """What to render: a scalar HyperINR at ``theta`` (user units), the look, and optional shadows."""

    model: object  # HyperINR
    theta: list[float]
    tf: object  # TransferFunction
    camera: object  # Camera
    light: object  # Light
    shadow_mode: str = "none"
    shadow_model: object | None = None
    background: tuple[float, float, float] = (0.08, 0.08, 0.1)
    step: float = 1.0 / 256.0
    seed: int = 0
    scene_params: dict = field(default_factory=dict)


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
            return replace(scene, theta=theta)
        if self.kind in ("azimuth", "polar"):
            return replace(scene, light=replace(scene.light, **{self.kind: float(value)}))
        if self.kind == "orbit":
            return replace(scene, camera=replace(scene.camera, azimuth=float(value)))
        raise HyperINRError(f"unknown sweep {self.kind!r} (param, azimuth, polar, orbit)")
