"""Transfer function: a colormap and a piecewise-linear opacity curve, kept apart (as ParaView does).

Field values are normalized to [0, 1]. ``opacity`` control points ``[(value, alpha)]`` give the opacity of a
sample per *reference step* ``ref_step`` (unit-cube lengths); ``density`` scales the optical thickness, so the
opacity per reference step is ``a = 1 - (1 - alpha(v)) ** density`` (``density = 1``: the curve as drawn).
A renderer stepping by ``s`` uses the opacity correction ``a_s = 1 - (1 - a) ** (s / ref_step)``; the
equivalent extinction coefficient is ``sigma = -ln(1 - a) / ref_step`` per unit length.

Colormaps are defined by control colours here (no matplotlib at runtime).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from hyperinr_core.errors import FileFormatError, HyperINRError
from hyperinr_core.fileio import atomic_path

__all__ = ["TransferFunction", "COLORMAPS", "presets", "opacity_correction"]

FORMAT = "hyperinr-transfer-function"
VERSION = 1
DEFAULT_REF_STEP = 1.0 / 256.0


def _hex(*codes: str) -> list[tuple[float, float, float]]:
    return [tuple(int(c[i : i + 2], 16) / 255.0 for i in (1, 3, 5)) for c in codes]


#: Control colours, evenly spaced over [0, 1] and interpolated linearly in RGB.
COLORMAPS: dict[str, list[tuple[float, float, float]]] = {
    "viridis": _hex(
        "#440154",
        "#482878",
        "#3e4989",
        "#31688e",
        "#26828e",
        "#1f9e89",
        "#35b779",
        "#6ece58",
        "#b5de2b",
        "#fde725",
    ),
    "magma": _hex(
        "#000004",
        "#180f3d",
        "#440f76",
        "#721f81",
        "#9e2f7f",
        "#cd4071",
        "#f1605d",
        "#fd9668",
        "#feca8d",
        "#fcfdbf",
    ),
    "coolwarm": _hex("#3b4cc0", "#6788ee", "#9abbff", "#c9d7f0", "#edd1c2", "#f7a889", "#e26952", "#b40426"),
    "grayscale": _hex("#000000", "#ffffff"),
    "ember": _hex("#1a0500", "#5c0f04", "#b22a00", "#f07818", "#ffd25a", "#fffbe0"),
}

#: Named transfer functions: colormap + opacity points + density.
_PRESETS: dict[str, dict] = {
    "viridis": {"colormap": "viridis", "opacity": [(0.0, 0.0), (0.15, 0.0), (1.0, 0.12)], "density": 1.0},
    "magma": {"colormap": "magma", "opacity": [(0.0, 0.0), (0.2, 0.0), (1.0, 0.15)], "density": 1.0},
    "coolwarm": {
        "colormap": "coolwarm",
        "opacity": [(0.0, 0.06), (0.35, 0.0), (0.65, 0.0), (1.0, 0.06)],
        "density": 1.0,
    },
    "grayscale": {"colormap": "grayscale", "opacity": [(0.0, 0.0), (1.0, 0.1)], "density": 1.0},
    "ember": {
        "colormap": "ember",
        "opacity": [(0.0, 0.0), (0.3, 0.0), (0.6, 0.05), (1.0, 0.3)],
        "density": 1.0,
    },
}


def presets() -> list[str]:
    """Names accepted by :meth:`TransferFunction.preset`."""
    return list(_PRESETS)


def opacity_correction(alpha, step: float, ref_step: float):
    """Opacity for a step of length ``step`` from opacity ``alpha`` per ``ref_step`` (numpy or torch)."""
    return 1.0 - (1.0 - alpha) ** (step / ref_step)


@dataclass
class TransferFunction:
    colormap: str = "viridis"
    opacity: list[tuple[float, float]] = field(default_factory=lambda: [(0.0, 0.0), (1.0, 0.1)])
    density: float = 1.0
    ref_step: float = DEFAULT_REF_STEP

    def __post_init__(self) -> None:
        if self.colormap not in COLORMAPS:
            raise HyperINRError(f"unknown colormap {self.colormap!r}; choose one of {', '.join(COLORMAPS)}")
        pts = sorted((float(v), float(a)) for v, a in self.opacity)
        if not pts:
            raise HyperINRError("a transfer function needs at least one opacity point")
        if any(not (0.0 <= v <= 1.0 and 0.0 <= a <= 1.0) for v, a in pts):
            raise HyperINRError(f"opacity points must have value and alpha in [0, 1], got {pts}")
        self.opacity = pts
        self.density = float(self.density)
        self.ref_step = float(self.ref_step)
        if not (self.density >= 0 and np.isfinite(self.density)):
            raise HyperINRError(f"density must be a finite number >= 0, got {self.density}")
        if not self.ref_step > 0:
            raise HyperINRError(f"ref_step must be > 0, got {self.ref_step}")

    # -- construction ------------------------------------------------------------------------------------
    @classmethod
    def preset(cls, name: str) -> TransferFunction:
        if name not in _PRESETS:
            raise HyperINRError(
                f"unknown transfer function preset {name!r}; choose one of {', '.join(_PRESETS)}"
            )
        return cls(**_PRESETS[name])

    @classmethod
    def load(cls, spec: str | os.PathLike) -> TransferFunction:
        """A preset name or a JSON file path (as the CLI's ``--tf`` takes it)."""
        if isinstance(spec, str) and spec in _PRESETS:
            return cls.preset(spec)
        if str(spec).endswith(".json") or os.path.exists(spec):
            return cls.from_json(spec)
        raise HyperINRError(f"--tf {spec!r} is neither a preset ({', '.join(_PRESETS)}) nor a .json file")

    # -- evaluation --------------------------------------------------------------------------------------
    def colors(self, values: np.ndarray) -> np.ndarray:
        """(N, 3) RGB in [0, 1] for values (N,) in [0, 1]."""
        ctrl = np.asarray(COLORMAPS[self.colormap], dtype=np.float64)
        xs = np.linspace(0.0, 1.0, len(ctrl))
        v = np.clip(np.asarray(values, dtype=np.float64), 0.0, 1.0)
        return np.stack([np.interp(v, xs, ctrl[:, c]) for c in range(3)], axis=-1)

    def alpha(self, values: np.ndarray) -> np.ndarray:
        """(N,) opacity per reference step (density applied) for values (N,) in [0, 1]."""
        vs, al = zip(*self.opacity, strict=True)
        a = np.interp(np.clip(np.asarray(values, dtype=np.float64), 0.0, 1.0), vs, al)
        with np.errstate(divide="ignore"):
            return 1.0 - (1.0 - a) ** self.density

    def table(self, n: int = 256) -> np.ndarray:
        """(n, 4) float32 RGBA at values ``linspace(0, 1, n)``; A is the opacity per ``ref_step``."""
        v = np.linspace(0.0, 1.0, n)
        return np.concatenate([self.colors(v), self.alpha(v)[:, None]], axis=1).astype(np.float32)

    # -- identity / files --------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "format": FORMAT,
            "version": VERSION,
            "colormap": self.colormap,
            "opacity": [[v, a] for v, a in self.opacity],
            "density": self.density,
            "ref_step": self.ref_step,
        }

    @classmethod
    def from_dict(cls, d: dict, source: str = "<transfer function>") -> TransferFunction:
        if not isinstance(d, dict):
            raise FileFormatError(source, "expected a JSON object")
        if d.get("format", FORMAT) != FORMAT:
            raise FileFormatError(source, f"not a transfer function (format {d.get('format')!r})")
        if int(d.get("version", VERSION)) > VERSION:
            raise FileFormatError(source, f"unsupported transfer function version {d.get('version')!r}")
        try:
            pts = [(float(p[0]), float(p[1])) for p in d.get("opacity", [(0.0, 0.0), (1.0, 0.1)])]
            return cls(
                colormap=str(d.get("colormap", "viridis")),
                opacity=pts,
                density=float(d.get("density", 1.0)),
                ref_step=float(d.get("ref_step", DEFAULT_REF_STEP)),
            )
        except HyperINRError as exc:
            raise FileFormatError(source, str(exc)) from None
        except (TypeError, ValueError, IndexError) as exc:
            raise FileFormatError(source, f"malformed transfer function: {exc}") from None

    def to_json(self, path: str | os.PathLike) -> None:
        """Write atomically as JSON."""
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def from_json(cls, path: str | os.PathLike) -> TransferFunction:
        path = os.fspath(path)
        try:
            with open(path, encoding="utf-8") as f:
                d = json.load(f)
        except FileNotFoundError:
            raise FileFormatError(path, "no such file") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise FileFormatError(path, f"not valid JSON: {exc}") from None
        return cls.from_dict(d, source=path)

    def fingerprint(self) -> str:
        """Stable 16-hex-digit hash of everything that changes the optics (for shadow models / DGS data)."""
        canon = {
            "colormap": self.colormap,
            "opacity": [[round(v, 6), round(a, 6)] for v, a in self.opacity],
            "density": round(self.density, 6),
            "ref_step": round(self.ref_step, 9),
        }
        return hashlib.sha256(json.dumps(canon, sort_keys=True).encode()).hexdigest()[:16]

    def with_opacity(self, points: Sequence[tuple[float, float]]) -> TransferFunction:
        return TransferFunction(self.colormap, list(points), self.density, self.ref_step)
