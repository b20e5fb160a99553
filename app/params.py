"""``--param NAME=VALUE`` arguments, checked the same way by every command and by the explorer.

Two steps: :func:`parse_params` checks the text alone (before any model is read, so a typo or ``t=nan`` is
reported at once, without loading torch); :func:`resolve_params` checks the values against a model's
parameter names and ranges. A value outside a model's range is an error, never clamped silently: the model
has seen nothing there, and a clamped value would show something other than what was asked for.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from hyperinr_core.errors import HyperINRError

__all__ = ["parse_params", "resolve_params", "format_ranges", "parse_light", "AZIMUTH_RANGE", "POLAR_RANGE"]

#: The light's angles in degrees, as the explorer's Light dock offers them.
AZIMUTH_RANGE = (0.0, 360.0)
POLAR_RANGE = (0.0, 180.0)

#: Values this close to a bound (relative to the range) count as inside: decimal input of a bound that is
#: not exactly representable must not be refused.
RANGE_TOLERANCE = 1e-9


def parse_params(items: Iterable[str], option: str = "--param") -> dict[str, float]:
    """``["t=6", "s=0.5"]`` -> ``{"t": 6.0, "s": 0.5}``; raises :class:`HyperINRError` on a malformed
    item, a value that is not a finite number, or a name given twice."""
    values: dict[str, float] = {}
    for item in items:
        name, sep, text = str(item).partition("=")
        name = name.strip()
        if not sep or not name:
            raise HyperINRError(f"{option} {item!r}: expected NAME=VALUE")
        try:
            value = float(text)
        except ValueError:
            raise HyperINRError(f"{option} {item!r}: {text.strip()!r} is not a number") from None
        if not math.isfinite(value):
            raise HyperINRError(f"{option} {item!r}: the value must be a finite number")
        if name in values:
            raise HyperINRError(f"{option} {name} is given twice")
        values[name] = value
    return values


def format_ranges(names: Sequence[str], lo: Sequence[float], hi: Sequence[float]) -> str:
    """``"t in [0, 10]"``, one entry per parameter."""
    return ", ".join(f"{n} in [{a:g}, {b:g}]" for n, a, b in zip(names, lo, hi, strict=True))


def resolve_params(
    given: dict[str, float],
    names: Sequence[str],
    lo: Sequence[float],
    hi: Sequence[float],
    source: str = "the model",
    option: str = "--param",
) -> tuple[list[float], list[str]]:
    """The full parameter vector in ``names`` order and the names that took their midpoint.

    Raises :class:`HyperINRError` for a name the model does not have or a value outside its range.
    """
    names = list(names)
    unknown = [n for n in given if n not in names]
    if unknown:
        raise HyperINRError(
            f"{option} {unknown[0]}: {source} has no parameter {unknown[0]!r} "
            f"(it has {format_ranges(names, lo, hi)})"
        )
    theta, missing = [], []
    for name, a, b in zip(names, lo, hi, strict=True):
        if name not in given:
            theta.append((a + b) / 2)
            missing.append(name)
            continue
        v = given[name]
        tol = RANGE_TOLERANCE * max(abs(b - a), 1e-300)
        if not a - tol <= v <= b + tol:
            raise HyperINRError(
                f"{option} {name}={v:g} is outside the range of {source}: {name} in [{a:g}, {b:g}]"
            )
        theta.append(min(max(v, a), b))
    return theta, missing


def parse_light(text: str | None, option: str = "--light") -> tuple[float, float] | None:
    """``"AZ,POLAR"`` in degrees (None for no text), azimuth in [0, 360] and polar in [0, 180] as in the
    explorer's Light dock; raises :class:`HyperINRError` otherwise (an angle is never clamped silently)."""
    if not text:
        return None
    try:
        az, polar = (float(v) for v in text.split(","))
    except ValueError:
        raise HyperINRError(f"{option} {text!r}: expected AZ,POLAR in degrees") from None
    if not (math.isfinite(az) and math.isfinite(polar)):
        raise HyperINRError(f"{option} {text!r}: the angles must be finite numbers")
    for name, value, (lo, hi) in (("azimuth", az, AZIMUTH_RANGE), ("polar angle", polar, POLAR_RANGE)):
        if not lo <= value <= hi:
            raise HyperINRError(f"{option} {text!r}: the {name} {value:g} is outside [{lo:g}, {hi:g}] degrees")
    return az, polar
