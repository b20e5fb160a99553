"""Ray marching through one field with one transfer function: the sample-streaming core of the torch path
tracer (:mod:`renderer.tracer`) and of shadow volumes (:mod:`renderer.shadows`).

Optical model: docs/ARCHITECTURE.md, "One optical model". All active rays advance together by ``K`` lattice
steps per iteration, ``K`` chosen so that ``rays * K`` is about ``batch`` field samples; finished rays are
compacted away, so the batch stays large until the last ray.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from .fields import Field
from .macrocells import MacroCells
from .transfer import TransferFunction

__all__ = ["Marcher", "MarchStats", "intersect_box"]


def intersect_box(
    o: Tensor, d: Tensor, lo: Tensor | float = 0.0, hi: Tensor | float = 1.0
) -> tuple[Tensor, Tensor]:
    """Slab test of rays ``o + t d`` (o ``(N, 3)``, d ``(N, 3)`` or ``(3,)``) with a box: ``(t_near, t_far)``.

    ``t_near`` is clamped to >= 0 (rays starting inside); the ray hits where ``t_far > t_near``.
    """
    d = torch.as_tensor(d, device=o.device).expand_as(o)
    lo = torch.as_tensor(lo, dtype=o.dtype, device=o.device)
    hi = torch.as_tensor(hi, dtype=o.dtype, device=o.device)
    zero = d == 0
    inv = 1.0 / torch.where(zero, torch.ones_like(d), d)
    ta, tb = (lo - o) * inv, (hi - o) * inv
    # A ray parallel to a slab is inside it for all t (on the faces included) or never.
    inside = (o >= lo) & (o <= hi)
    inf = torch.full_like(d, math.inf)
    near = torch.where(zero, torch.where(inside, -inf, inf), torch.minimum(ta, tb))
    far = torch.where(zero, torch.where(inside, inf, -inf), torch.maximum(ta, tb))
    t_near = near.amax(1).clamp_min(0.0)
    t_far = far.amin(1)
    return t_near, t_far


@dataclass
class MarchStats:
    field_samples: int = 0
    shadow_samples: int = 0
    iterations: int = 0


class Marcher:
    """Streams rays through one field with one transfer function; shared by every shadow mode and by
    :func:`renderer.shadows.shadow_volume`.

    Args:
        cells: macro cells already refreshed for ``tf`` (or None: evaluate every sample).
    """

    def __init__(
        self,
        field: Field,
        tf: TransferFunction,
        cells: MacroCells | None = None,
        batch: int = 1 << 18,
        termination: float = 1e-3,
        table_size: int = 256,
    ):
        self.field, self.tf, self.cells = field, tf, cells
        self.device = field.device
        self.batch, self.termination = int(batch), float(termination)
        self.table = torch.from_numpy(tf.table(table_size)).to(self.device)
        self.stats = MarchStats()
        bounds = cells.bounds() if cells is not None else None
        self.empty = cells is not None and bounds is None
        self.bounds = bounds

    # -- per-sample optics -------------------------------------------------------------------------------
    def classify(self, v: Tensor, step: float) -> tuple[Tensor, Tensor]:
        """Values (M,) -> colour (M, 3) and opacity (M,) for a step of ``step`` (linear table lookup)."""
        n = self.table.shape[0]
        x = v * (n - 1)
        i0 = x.floor().long().clamp(0, n - 2)
        w = (x - i0).unsqueeze(1)
        rgba = torch.lerp(self.table[i0], self.table[i0 + 1], w)
        a = 1.0 - (1.0 - rgba[:, 3]) ** (step / self.tf.ref_step)
        return rgba[:, :3], a

    # -- the streaming loop ------------------------------------------------------------------------------
    def _clip(self, o: Tensor, d: Tensor, base: Tensor, t1: Tensor, u: Tensor, step: float):
        """First lattice index and end distance, clipped to the occupied macro cells' box."""
        k = torch.zeros_like(base, dtype=torch.long)
        if self.bounds is not None:
            lo, hi = self.bounds
            tn, tf_ = intersect_box(o, d, lo, hi)
            k = torch.ceil((tn - base) / step - u).clamp_min(0).long()
            t1 = torch.minimum(t1, tf_)
        if self.empty:
            t1 = torch.full_like(t1, -1.0)
        return k, t1

    def march(
        self,
        rays: dict[str, Tensor],
        step: float,
        shade: Callable[[dict[str, Tensor], Tensor, Tensor, Tensor, Tensor], Tensor] | None = None,
        outputs: tuple[str, ...] = ("T",),
    ) -> dict[str, Tensor]:
        """Stream rays to completion.

        Args:
            rays: per-ray tensors (N, ...): ``o``, ``d`` (3), ``base`` (lattice origin distance), ``t1``
                (end), ``u`` (lattice offset in [0, 1)), ``T`` (transmittance so far), plus accumulators.
            shade: ``shade(rays, pos (n,K,3), kk (n,K), mask (n,K), A (n,K), T_in (n,K)) -> None``, called
                once the opacities ``A`` of a block and the transmittance ``T_in`` in front of each sample
                are known, to accumulate radiance into ``rays`` accumulators. None: absorption only.
        Returns:
            ``outputs`` accumulators for every input ray, in input order.
        """
        n_total = rays["o"].shape[0]
        out = {k: rays[k].clone() for k in outputs}
        k, rays["t1"] = self._clip(rays["o"], rays["d"], rays["base"], rays["t1"], rays["u"], step)
        rays = {**rays, "k": k, "id": torch.arange(n_total, device=self.device)}
        rays = self._compact(rays, self._alive(rays, step), out, outputs)
        while rays["id"].numel():
            rays.pop("_rgb", None)
            self.stats.iterations += 1
            n = rays["id"].shape[0]
            t_next = rays["base"] + (rays["k"] + rays["u"]) * step
            remaining = int(math.ceil(float(((rays["t1"] - t_next) / step).max()))) + 1
            K = max(1, min(self.batch // n, remaining))
            kk = rays["k"][:, None] + torch.arange(K, device=self.device)
            t = rays["base"][:, None] + (kk + rays["u"][:, None]) * step
            mask = t < rays["t1"][:, None]
            pos = (rays["o"][:, None, :] + rays["d"][:, None, :] * t[..., None]).clamp_(0.0, 1.0)
            if self.cells is not None:
                mask &= self.cells.lookup(pos)
            A = torch.zeros_like(t)
            if mask.any():
                v = self.field(pos[mask])
                self.stats.field_samples += v.shape[0]
                A[mask] = (
                    self.classify(v, step)[1] if shade is None else self._shade_alpha(v, step, rays, mask)
                )
            # Terminate exactly at the first sample whose incoming transmittance is below the threshold,
            # so the image does not depend on how many steps a block holds.
            trans = torch.cumprod(1.0 - A, dim=1)
            T_in = rays["T"][:, None] * torch.cat([torch.ones_like(trans[:, :1]), trans[:, :-1]], dim=1)
            dead = T_in < self.termination
            if bool(dead.any()):
                A = A.masked_fill(dead, 0.0)  # ``mask`` keeps marking evaluated samples (``_rgb`` rows)
                trans = torch.cumprod(1.0 - A, dim=1)
            if shade is not None:
                shade(rays, pos, kk, mask, A, T_in)
            rays["T"] = rays["T"] * trans[:, -1]
            rays["k"] = rays["k"] + K
            rays = self._compact(rays, self._alive(rays, step), out, outputs)
        return out

    def _shade_alpha(self, v: Tensor, step: float, rays: dict, mask: Tensor) -> Tensor:
        rgb, a = self.classify(v, step)
        rays["_rgb"] = rgb  # colours of the block's masked samples, consumed by ``shade``
        return a

    def _alive(self, rays: dict, step: float) -> Tensor:
        t_next = rays["base"] + (rays["k"] + rays["u"]) * step
        return (t_next < rays["t1"]) & (rays["T"] >= self.termination)

    @staticmethod
    def _compact(rays: dict, keep: Tensor, out: dict, outputs: tuple[str, ...]) -> dict:
        if bool(keep.all()):
            return rays
        done = ~keep
        ids = rays["id"][done]
        for name in outputs:
            out[name][ids] = rays[name][done]
        return {k: v[keep] for k, v in rays.items() if not k.startswith("_")}

    # -- absorption only ---------------------------------------------------------------------------------
    def transmittance(self, o: Tensor, direction: Tensor, u: Tensor, step: float) -> Tensor:
        """Transmittance from points ``o`` (M, 3) along ``direction`` ((3,) or (M, 3), unit) to the cube's
        boundary, sampled at ``t = (k + u) * step``, k >= 0. Returns (M,).

        This is mode ``rays``'s secondary ray and the kernel of :func:`renderer.shadows.shadow_volume`.
        """
        m = o.shape[0]
        d = torch.as_tensor(direction, dtype=torch.float32, device=self.device).expand(m, 3).contiguous()
        _, t_far = intersect_box(o, d)
        rays = {
            "o": o,
            "d": d,
            "base": torch.zeros(m, device=self.device),
            "t1": t_far,
            "u": u,
            "T": torch.ones(m, device=self.device),
        }
        return self.march(rays, step)["T"]
