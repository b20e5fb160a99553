"""What a trained model knows about the data it was trained on (docs/ARCHITECTURE.md, "hyperinr_core")."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from hyperinr_core.errors import HyperINRError
from hyperinr_core.model.param_space import periodic_dims


@dataclass
class FieldInfo:
    """The data a model was trained on, as far as using the model needs to know.

    Attributes:
        param_names, param_lo, param_hi: D parameter names and bounds (user units).
        value_range: (lo, hi) data units; models predict (v - lo) / (hi - lo).
        task: "tsr", "dgs" or "nvs".
        n_space_dims: 3 for volumes, 2 for images.
        n_channels: values per point (1 for volumes, C for images).
        frame_shape: (Z, Y, X) or (H, W, C) of the training frames (a default grid for sampling).
        periodic: D flags, the parameters that wrap around (:mod:`~hyperinr_core.model.param_space`);
            empty: none does.
    """

    param_names: list[str] = field(default_factory=lambda: ["t"])
    param_lo: list[float] = field(default_factory=lambda: [0.0])
    param_hi: list[float] = field(default_factory=lambda: [1.0])
    value_range: tuple[float, float] = (0.0, 1.0)
    task: str = "tsr"
    n_space_dims: int = 3
    n_channels: int = 1
    frame_shape: list[int] = field(default_factory=list)
    periodic: list[bool] = field(default_factory=list)

    @property
    def n_param_dims(self) -> int:
        return len(self.param_names)

    @property
    def periodic_mask(self) -> list[bool]:
        """D flags (all False when :attr:`periodic` is empty)."""
        return list(self.periodic) if len(self.periodic) == self.n_param_dims else [False] * self.n_param_dims

    @classmethod
    def from_dataset(cls, ds: Any) -> FieldInfo:
        """From an open :class:`~hyperinr_core.data.dataset.Dataset`."""
        lo, hi = ds.value_range
        if not hi > lo:  # a constant dataset: any positive span keeps the normalization finite
            hi = lo + 1.0
        return cls(
            param_names=list(ds.param_names),
            param_lo=[float(v) for v in ds.param_lo],
            param_hi=[float(v) for v in ds.param_hi],
            value_range=(float(lo), float(hi)),
            task=ds.task,
            n_space_dims=2 if ds.is_image else 3,
            n_channels=int(ds.frame_shape[-1]) if ds.is_image else 1,
            frame_shape=[int(s) for s in ds.frame_shape],
            periodic=periodic_dims(ds.param_names, ds.param_lo, ds.param_hi, ds.attrs.get("param_periodic")),
        )

    def to_dict(self) -> dict:
        d = asdict(self)
        d["value_range"] = [float(v) for v in self.value_range]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> FieldInfo:
        kw = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        if "value_range" in kw:
            kw["value_range"] = tuple(float(v) for v in kw["value_range"])
        return cls(**kw)

    def normalize(self, theta: np.ndarray) -> np.ndarray:
        """User-unit parameters (..., D) -> [0, 1]^D."""
        lo, hi = np.asarray(self.param_lo), np.asarray(self.param_hi)
        return np.clip((np.asarray(theta, dtype=np.float64) - lo) / (hi - lo), 0.0, 1.0)

    def check_compatible(self, ds: Any, what: str) -> None:
        """Raise HyperINRError when dataset ``ds`` does not fit a model trained on this field."""
        if list(ds.param_names) != list(self.param_names):
            raise HyperINRError(
                f"{what} has parameters {self.param_names}, {ds.path} has {list(ds.param_names)}"
            )
        if ds.task != self.task:
            raise HyperINRError(f"{what} was trained for task {self.task}, {ds.path} is a {ds.task} dataset")
        if (2 if ds.is_image else 3) != self.n_space_dims or (
            ds.is_image and int(ds.frame_shape[-1]) != self.n_channels
        ):
            raise HyperINRError(
                f"{what} does not produce frames of shape {tuple(ds.frame_shape)} ({ds.path})"
            )
        p = np.asarray(ds.params, dtype=np.float64).reshape(len(ds.params), -1)
        lo, hi = np.asarray(self.param_lo, np.float64), np.asarray(self.param_hi, np.float64)
        tol = 1e-9 * (hi - lo)
        outside = (p < lo - tol) | (p > hi + tol)
        if outside.any():
            i, j = (int(v) for v in np.argwhere(outside)[0])
            raise HyperINRError(
                f"{ds.path}: frame {i} is at {self.param_names[j]} = {p[i, j]:g}, outside the range "
                f"[{lo[j]:g}, {hi[j]:g}] {what} was trained on ({int(outside.any(1).sum())} frames outside)"
            )

    def differences(self, ds: Any) -> list[str]:
        """How dataset ``ds`` differs from the data this field's model was trained on, in ways that still
        let it be evaluated (parameter bounds, grid), as short phrases; empty when it matches."""
        notes = []
        for name, dlo, dhi, lo, hi in zip(self.param_names, ds.param_lo, ds.param_hi, self.param_lo,
                                          self.param_hi):
            if not np.allclose([dlo, dhi], [lo, hi], rtol=1e-6, atol=1e-12):
                notes.append(f"{name} in [{float(dlo):g}, {float(dhi):g}] (the model's: [{lo:g}, {hi:g}])")
        if self.frame_shape and [int(s) for s in ds.frame_shape] != [int(s) for s in self.frame_shape]:
            shape = "x".join(str(int(s)) for s in ds.frame_shape)
            notes.append(f"frames of {shape} (the model's: {'x'.join(str(int(s)) for s in self.frame_shape)})")
        return notes
