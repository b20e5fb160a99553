"""The scene: a model at its parameters, an optional shadow model and the light, turned into INRs and grids.

Every view of a model goes through :class:`Scene`: the explorer's generation worker, both export renderers,
the napari reader, novel view synthesis, the comparison dock, ``hyperinr render`` and ``decode``, and the
shadow demo. A scene generates its INR once and keeps it while valid (:meth:`Scene.inr`), and decodes it to
a whole volume (:meth:`Scene.volume`), a sub-grid or plane (:meth:`Scene.nodes`, :meth:`Scene.plane`),
given points (:meth:`Scene.points`) or an image (:meth:`Scene.image`, for 2-D models), always through a
:class:`~renderer.decode.Decoder` and the grid convention of :mod:`renderer.decode`.

How the light enters a shadow (DGS) model's parameters is defined once, here (:func:`light_values`,
:func:`shadow_theta`):

- the parameters named :data:`~renderer.shadows.LIGHT_PARAM_NAMES` take the light's angles in degrees: the
  azimuth wrapped into [0, 360) and, where the model covers less than a full turn, moved to the circularly
  nearer end of its range; the polar angle clamped to the model's range;
- the shadow model's other parameters (the timestep of a time series' shadows, say) take the scene model's
  values of the same name, else the middle of their range.

Free of Qt and GL. Parameters are in user units and in the model's order.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor

from .decode import Decoder, DecoderConfig
from .fields import INRField
from .light import Light
from .shadows import LIGHT_PARAM_NAMES, check_shadow_model

if TYPE_CHECKING:
    from hyperinr_core.model.hyperinr import HyperINR

__all__ = ["Scene", "light_values", "light_outside", "shadow_theta", "default_decoder"]

_DEFAULT: Decoder | None = None
_DEFAULT_LOCK = threading.Lock()


def default_decoder() -> Decoder:
    """The process-wide decoder of scenes given none: eager (no compile wait), large chunks, float32."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            _DEFAULT = Decoder(DecoderConfig(dtype="float32", compile=False, chunk=1 << 17))
        return _DEFAULT


def _angles(light) -> tuple[float, float]:
    if isinstance(light, Light):
        return float(light.azimuth), float(light.polar)
    az, polar = light
    return float(az), float(polar)


def _azimuth_in(az: float, lo: float, hi: float) -> float:
    a = lo + (az - lo) % 360.0  # the turn that starts at lo
    if a <= hi:
        return a
    return hi if a - hi <= lo + 360.0 - a else lo


def light_values(shadow_model, light) -> dict[str, float]:
    """The shadow model's light parameters at ``light`` (a :class:`Light` or ``(azimuth, polar)`` in degrees),
    inside the model's range (see the module docstring)."""
    cfg = shadow_model.cfg
    az, polar = _angles(light)
    out = {}
    for j, name in enumerate(cfg.param_names):
        lo, hi = float(cfg.param_lo[j]), float(cfg.param_hi[j])
        if name == "azimuth":
            out[name] = float(_azimuth_in(az, lo, hi))
        elif name == "polar":
            out[name] = float(np.clip(polar, lo, hi))
    return out


def light_outside(shadow_model, light) -> list[tuple[str, float, float, float]]:
    """The light's angles that :func:`light_values` has to move into the shadow model's range, as ``(name,
    value, lo, hi)``: empty when the model was trained for this light (an azimuth differing by whole turns
    is the same light)."""
    cfg = shadow_model.cfg
    az, polar = _angles(light)
    asked = dict(zip(LIGHT_PARAM_NAMES, (az % 360.0, polar), strict=True))
    out = []
    for name, value in light_values(shadow_model, light).items():
        d = abs(value - asked[name])
        if d > 1e-9 and abs(d - 360.0) > 1e-9:
            j = cfg.param_names.index(name)
            out.append((name, asked[name], float(cfg.param_lo[j]), float(cfg.param_hi[j])))
    return out


def shadow_theta(shadow_model, light, params: Mapping[str, float] | None = None) -> list[float]:
    """The shadow model's parameter vector (its order, user units) for ``light`` and the scene's
    ``params``."""
    check_shadow_model(shadow_model)
    cfg = shadow_model.cfg
    values = {**(params or {}), **light_values(shadow_model, light)}
    return [float(values.get(n, 0.5 * (lo + hi))) for n, lo, hi in
            zip(cfg.param_names, cfg.param_lo, cfg.param_hi, strict=True)]


@dataclass
class Scene:
    """A model at ``theta`` (user units, the model's order), an optional shadow model and the light.

    The INRs are generated on first use and kept (a scene is one moment: make a new one, or use
    :meth:`updated` / :meth:`with_light`, to move). Grids come in the renderer's normalized range [0, 1]
    (first output channel, clamped); :meth:`to_data_units` maps them back to the data's units.
    """

    model: HyperINR
    theta: Sequence[float]
    shadow_model: HyperINR | None = None  # a shadow (DGS) model
    light: Light = field(default_factory=Light)
    decoder: Decoder | None = field(default=None, compare=False, repr=False)
    _inrs: dict = field(default_factory=dict, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        self.theta = tuple(float(v) for v in np.asarray(self.theta, dtype=np.float64).reshape(-1))
        n = len(self.model.cfg.param_names)
        if len(self.theta) != n:
            raise ValueError(f"the model has {n} parameters ({', '.join(self.model.cfg.param_names)}), "
                             f"got {len(self.theta)} values")

    @classmethod
    def at(cls, model, params: Mapping[str, float] | None = None, **kw) -> Scene:
        """The scene at named parameters (user units); those not given sit in the middle of their range."""
        cfg = model.cfg
        params = dict(params or {})
        unknown = [k for k in params if k not in cfg.param_names]
        if unknown:
            raise ValueError(f"the model has no parameter {', '.join(unknown)} (it has "
                             f"{', '.join(cfg.param_names)})")
        theta = [params.get(n, 0.5 * (lo + hi)) for n, lo, hi in
                 zip(cfg.param_names, cfg.param_lo, cfg.param_hi, strict=True)]
        return cls(model, theta, **kw)

    # -- moving --------------------------------------------------------------------------------------------
    def updated(self, **changes) -> Scene:
        """A copy with ``changes`` (any fields, of a subclass too) that keeps the INRs they do not touch: a
        new light or camera keeps the model's INR, a new decoder keeps both."""
        other = replace(self, **changes)
        keep = [] if changes.keys() & {"model", "theta"} else ["value"]
        if not changes.keys() & {"model", "theta", "shadow_model", "light"}:
            keep.append("shadow")
        other._inrs.update({k: self._inrs[k] for k in keep if k in self._inrs})
        return other

    def with_light(self, light) -> Scene:
        """The scene under another light: a :class:`Light`, or ``(azimuth, polar)`` for this one's angles."""
        if not isinstance(light, Light):
            light = replace(self.light, **dict(zip(("azimuth", "polar"), _angles(light), strict=True)))
        return self.updated(light=light)

    @property
    def params(self) -> dict[str, float]:
        return dict(zip(self.model.cfg.param_names, self.theta, strict=True))

    @property
    def shadow_params(self) -> list[float] | None:
        """The shadow model's parameters for this light and these scene parameters; None without one."""
        if self.shadow_model is None:
            return None
        return shadow_theta(self.shadow_model, self.light, self.params)

    # -- INRs ------------------------------------------------------------------------------------------------
    def _generated(self, kind: str, model, theta):
        """``model``'s INR at ``theta``, kept while valid: a model writes every INR into one buffer, so the
        kept one is regenerated once the model has generated anything else (``HyperINR.generations``)."""
        kept = self._inrs.get(kind)
        count = getattr(model, "generations", None)
        if kept is not None and (count is None or kept[1] == count):
            return kept[0]
        with torch.no_grad():
            inr = model.generate(list(theta))
        count = getattr(model, "generations", None)
        self._inrs[kind] = (inr if count is not None else inr.clone(), count)
        return self._inrs[kind][0]

    def inr(self):
        """The model's INR at ``theta``. It views the model's generation buffer: valid until the model
        generates again (this scene then regenerates it); :meth:`field` takes a copy."""
        return self._generated("value", self.model, self.theta)

    def shadow_inr(self):
        """The shadow model's INR toward the light (transmittance), or None without a shadow model."""
        if self.shadow_model is None:
            return None
        return self._generated("shadow", self.shadow_model, self.shadow_params)

    def field(self, fast: bool | None = None) -> INRField:
        """The INR as a renderer field (its own copy of the weights: the model may generate again)."""
        return INRField(self.inr().clone(), fast=fast)

    def shadow_field(self, fast: bool | None = None) -> INRField | None:
        inr = self.shadow_inr()
        return None if inr is None else INRField(inr.clone(), fast=fast)

    # -- grids -----------------------------------------------------------------------------------------------
    def _decoder(self) -> Decoder:
        return self.decoder if self.decoder is not None else default_decoder()

    def volume(self, resolution: int | Sequence[int], out: Tensor | None = None) -> Tensor:
        """The whole ``(Z, Y, X)`` grid (the decoder's dtype and device), normalized to [0, 1]."""
        return self._decoder().decode(self.inr(), resolution, out)

    def shadow_volume(self, resolution: int | Sequence[int]) -> Tensor | None:
        """The shadow model's transmittance toward the light on a ``(Z, Y, X)`` grid; None without one."""
        inr = self.shadow_inr()
        return None if inr is None else self._decoder().decode_shadow(inr, resolution)

    def points(self, x: Tensor) -> Tensor:
        """Values at points ``x`` ``(N, 3)`` in [0, 1]^3: float32 ``(N,)``, normalized."""
        return self._decoder().decode_points(self.inr(), x)

    def nodes(self, resolution: Sequence[int], index: Sequence[np.ndarray]) -> Tensor:
        """The sub-grid of the ``(Z, Y, X)`` node grid ``resolution`` at index arrays ``index`` (along Z, Y,
        X), equal to that part of :meth:`volume`, without decoding the rest: ``(len(iz), len(iy),
        len(ix))``."""
        axes = [torch.linspace(0.0, 1.0, int(n))[torch.from_numpy(np.ascontiguousarray(i, dtype=np.int64))]
                for i, n in zip(index, resolution, strict=True)]
        zz, yy, xx = torch.meshgrid(*axes, indexing="ij")
        x = torch.stack([xx.reshape(-1), yy.reshape(-1), zz.reshape(-1)], dim=-1)
        return self.points(x).reshape(zz.shape)

    def plane(self, resolution: Sequence[int], axis: int, index: int) -> Tensor:
        """One plane of the node grid: index ``index`` along ``axis`` (0 = Z, 1 = Y, 2 = X), 2-D."""
        idx = [np.arange(int(n)) for n in resolution]
        idx[axis] = np.array([int(index)])
        return self.nodes(resolution, idx).squeeze(axis)

    @torch.no_grad()
    def image(self, shape: tuple[int, int]) -> Tensor:
        """A 2-D model's ``(H, W, C)`` image in data units (novel view synthesis)."""
        inr = self.inr()
        return inr.to_data_units(inr.sample_grid(shape))

    def to_data_units(self, v):
        """Normalized values (array or tensor) -> the model's data units."""
        lo, hi = (float(x) for x in self.model.cfg.value_range)
        return v * (hi - lo) + lo
