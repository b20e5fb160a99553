"""Dense displacement fields between frames: coarse-to-fine variational optical flow in torch.

The estimator is a combined local-global (CLG) Horn-Schunck solver (Bruhn, Weickert, Schnörr 2005) with the
robustness measures of Brox et al. (2004) and Sun, Roth, Black (2010):

- intensities are normalized per pair by a robust joint range and pre-smoothed, so one smoothness weight
  suits data of any value range and noise does not dominate the gradients;
- at each pyramid level the data term compares local contrast (value minus local mean, over local spread)
  rather than raw values: in simulations features brighten, fade and sharpen while they move, and raw
  brightness constancy turns such changes into spurious motion; optional gradient constancy as well;
- coarse-to-fine over a pyramid with several warps per level: the linearized constancy assumption only
  holds for sub-voxel increments, and warping re-linearizes around the current estimate;
- the data term is a Gaussian-weighted structure tensor (the "local" part of CLG), which is well posed in
  flat regions;
- a Charbonnier penalty on the data term (lagged weights) lets outliers fail softly instead of dragging the
  solution; voxels whose match falls outside the domain get no data term;
- per-warp increments are clamped and the flow is median-filtered after each warp, which is what keeps the
  solver from diverging on advected plumes (a plain quadratic 3-D Horn-Schunck does);
- the inner linear system is solved by red-black SOR with a per-voxel ``d x d`` block inverse;
- levels above ``max_voxels`` (``max_pixels`` for images) get a lighter pass: motion is smoother than the
  fields it moves, so the flow of a coarser level, upsampled and refined briefly, serves them at a fraction
  of the cost.

Works for volumes ``(B, C, Z, Y, X)`` (3-vector flows) and images ``(B, C, H, W)`` (2-vectors; channels
share one motion), on any torch device. Displacements are in voxels of the finest grid, components in axis
order (z, y, x) or (y, x). Convention: ``flow = estimate_flow(a, b)`` satisfies ``b(x + flow(x)) ≈ a(x)``:
the content at ``x`` in ``a`` is found at ``x + flow(x)`` in ``b``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from hyperinr_core.errors import HyperINRError
from hyperinr_core.train.flow_ops import (
    base_grid,
    gaussian_blur,
    gradient,
    inside,
    median3,
    pyramid_sizes,
    resize,
    warp,
)

__all__ = ["FlowConfig", "estimate_flow"]


@dataclass
class FlowConfig:
    """Settings of the flow estimator (:func:`estimate_flow`) and of the flow teacher built on it.

    Estimator:
        levels: pyramid levels; ``None`` uses as many as keep every axis at ``min_size`` or more.
        min_size: smallest pyramid axis length.
        warps: re-linearizations (warps) per pyramid level.
        iterations: red-black SOR sweeps per warp.
        smoothness: Horn-Schunck weight alpha, in units of normalized intensity per voxel (larger: smoother).
        local_sigma: CLG integration scale rho, voxels (0 disables the local part).
        presmooth: Gaussian sigma applied to the frames before the pyramid, voxels.
        gradient_weight: gradient-constancy weight gamma (0: brightness constancy only).
        charbonnier_eps: Charbonnier epsilon of the data term in normalized intensity (``None``: quadratic).
        sor_omega: over-relaxation factor of the SOR sweeps (1 is Gauss-Seidel).
        max_step: largest per-warp increment of one component, voxels of the current level.
        max_displacement: largest displacement component as a fraction of the axis length.
        median: median-filter the flow after each warp (3-tap separable), removes outliers.
        local_contrast: weight of local-contrast features against raw values in the data term (1: only
            local contrast, invariant to local brightness and contrast changes; 0: raw values).
        contrast_sigma: Gaussian window (voxels of each level) of the local mean and spread.
        max_voxels: pyramid levels with more voxels than this get only ``fine_warps`` warps of
            ``fine_iterations`` sweeps (none: the flow of a coarser level is upsampled to them). Motion
            fields are much smoother than the fields they move, and the fine levels cost most of the time
            (``None``: every level gets the full ``warps`` and ``iterations``).
        max_pixels: the same for images. A 2-D level costs less per sample than a 3-D one, but the full
            solve above 128^2 pixels buys nothing measurable: on the NVS demo (256^2 views, 71 fitted, 29
            validated) the flow teacher scored 21.88 dB with the 256^2 level solved fully and with it
            given the lighter pass (21.87 with every level above 32^2 lighter), in 70 % of the time.
        fine_warps, fine_iterations: the lighter pass over levels above ``max_voxels`` / ``max_pixels``.

    Teacher (:class:`~hyperinr_core.train.flow.FlowTeacher`):
        k_neighbours: training frames blended in n-D (as :class:`~hyperinr_core.eval.baselines.Lerp`).
        flow_neighbours: n-D: neighbours each frame estimates flows to for its local motion model
            (``None``: ``2 D + 2``).
        ridge: n-D: Tikhonov weight of the per-voxel least-squares motion model, relative to the mean
            squared neighbour distance.
        consistency_abs: forward-backward mismatch (voxels) below which a flow is fully trusted.
        consistency_rel: extra tolerated mismatch as a fraction of the displacement length.
        fixed_point: iterations that invert the forward displacement for backward warping.
        interpolation: how frames are resampled when moved: ``"cubic"`` (B-spline: keeps fine detail that
            linear resampling blurs by more than motion compensation gains) or ``"linear"`` (faster).
        validate: 1-D: predict each interior training frame from its neighbours and trust motion per voxel
            by how much it beat the cross-fade there (:func:`.flow_motion.validation_gates`).
        gate_sigma: Gaussian sigma (voxels) of the local error averages behind the validation gate.
        gate_power: sharpness of the gate: weight ``e_lerp^p / (e_lerp^p + e_flow^p)`` of the motion.
        batch: frame pairs estimated together (more is faster on GPUs, costs memory).
        store_half: keep flows and motion models in float16 (halves the teacher's memory).
    """

    levels: int | None = None
    min_size: int = 4
    warps: int = 3
    iterations: int = 20
    smoothness: float = 0.1
    local_sigma: float = 1.0
    presmooth: float = 0.7
    gradient_weight: float = 0.0
    charbonnier_eps: float | None = 0.1
    sor_omega: float = 1.7
    max_step: float = 1.0
    max_displacement: float = 0.35
    median: bool = True
    local_contrast: float = 1.0
    contrast_sigma: float = 3.0
    max_voxels: int | None = 48**3
    max_pixels: int | None = 128**2
    fine_warps: int = 1
    fine_iterations: int = 5
    k_neighbours: int = 8
    flow_neighbours: int | None = None
    ridge: float = 0.01
    consistency_abs: float = 0.75
    consistency_rel: float = 0.1
    fixed_point: int = 3
    interpolation: str = "cubic"
    validate: bool = True
    gate_sigma: float = 2.0
    gate_power: float = 1.0
    batch: int = 4
    store_half: bool = False

    def __post_init__(self) -> None:
        if self.levels is not None and self.levels < 1:
            raise HyperINRError(f"flow: levels must be >= 1 or None, got {self.levels}")
        if self.warps < 1 or self.iterations < 1:
            raise HyperINRError("flow: warps and iterations must be >= 1")
        if self.smoothness <= 0:
            raise HyperINRError(f"flow: smoothness must be > 0, got {self.smoothness}")
        if not 0 < self.sor_omega < 2:
            raise HyperINRError(f"flow: sor_omega must lie in (0, 2), got {self.sor_omega}")
        if self.interpolation not in ("cubic", "linear"):
            raise HyperINRError(
                f"flow: interpolation must be 'cubic' or 'linear', got {self.interpolation!r}"
            )
        if self.k_neighbours < 1 or self.batch < 1:
            raise HyperINRError("flow: k_neighbours and batch must be >= 1")


class _PaddedGrid:
    """Fields ``(B, k, *S)`` stored with a one-voxel replicate border as flat contiguous rows.

    A face neighbour is then a constant offset in the flat index, so the SOR stencil is a handful of
    contiguous vector adds: strided slices of a 3-D tensor are several times slower on CPUs.
    """

    def __init__(self, size: tuple[int, ...]):
        self.size = size
        self.padded = tuple(n + 2 for n in size)
        self.offsets = [math.prod(self.padded[axis + 1 :]) for axis in range(len(size))]
        self.n = math.prod(self.padded)
        self.lo = self.offsets[0]  # rows [lo, n - lo) hold every interior voxel

    def pad(self, x: Tensor) -> Tensor:
        """``(B, k, *S)`` -> ``(B, k, N)`` flat padded copy."""
        return F.pad(x, [1, 1] * len(self.size), mode="replicate").reshape(*x.shape[:2], self.n)

    def unpad(self, p: Tensor) -> Tensor:
        """``(B, k, N)`` -> ``(B, k, *S)``."""
        v = p.view(*p.shape[:2], *self.padded)
        for axis, n in enumerate(self.size):
            v = v.narrow(2 + axis, 1, n)
        return v.contiguous()

    def refresh(self, p: Tensor) -> None:
        """Copy the outermost interior layers into the border (zero-flux boundary), in place."""
        v = p.view(*p.shape[:2], *self.padded)
        for axis, n in enumerate(self.padded):
            dim = 2 + axis
            v.narrow(dim, 0, 1).copy_(v.narrow(dim, 1, 1))
            v.narrow(dim, n - 1, 1).copy_(v.narrow(dim, n - 2, 1))

    def neighbour_sum(self, p: Tensor, out: Tensor) -> Tensor:
        """Sum of the ``2 d`` face neighbours of ``p (B, k, N)`` into ``out`` (rows ``[lo, n - lo)``)."""
        lo, hi = self.lo, self.n - self.lo
        dst = out[..., lo:hi]
        first = True
        for off in self.offsets:
            for o in (off, -off):
                src = p[..., lo + o : hi + o]
                if first:
                    dst.copy_(src)
                    first = False
                else:
                    dst.add_(src)
        return out


# -- the solver ----------------------------------------------------------------------------------------------
def _normalize_pair(a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    """Map each pair to a robust joint range of about [0, 1] so one smoothness weight fits any data."""
    both = torch.cat([a, b], dim=1).flatten(1)
    step = max(1, both.shape[1] // 250_000)  # torch.quantile has an input size limit; a subsample suffices
    sub = both[:, ::step].float()
    lo = torch.quantile(sub, 0.001, dim=1)
    hi = torch.quantile(sub, 0.999, dim=1)
    # Frames arrive normalized to [0, 1]: a pair with almost no contrast is not stretched into noise.
    scale = (hi - lo).clamp_min(0.02).to(a.dtype)
    shape = (-1,) + (1,) * (a.dim() - 1)
    lo = lo.to(a.dtype).view(shape)
    return (a - lo) / scale.view(shape), (b - lo) / scale.view(shape)


def _with_gradients(x: Tensor, weight: float) -> Tensor:
    """Append ``sqrt(weight) * grad x`` as channels: gradient constancy becomes brightness constancy."""
    if weight <= 0:
        return x
    g = gradient(x).flatten(1, 2)
    return torch.cat([x, math.sqrt(weight) * g], dim=1)


def _local_contrast(x: Tensor, sigma: float) -> Tensor:
    """``x`` minus its local mean over its local standard deviation (Gaussian windows of ``sigma``)."""
    d = x - gaussian_blur(x, sigma)
    # The floor keeps flat regions flat instead of amplifying their noise into texture.
    return d / torch.sqrt(gaussian_blur(d * d, sigma) + 0.05**2)


def _features(x: Tensor, cfg: FlowConfig) -> Tensor:
    """The channels whose constancy the data term asks for, at one pyramid level."""
    if cfg.local_contrast > 0:
        lc = _local_contrast(x, cfg.contrast_sigma)
        # lc has about unit spread, intensities about [0, 1]: 0.25 gives both a comparable scale
        lc = cfg.local_contrast * 0.25 * lc
        x = lc if cfg.local_contrast >= 1 else torch.cat([(1 - cfg.local_contrast) * x, lc], dim=1)
    return _with_gradients(x, cfg.gradient_weight)


def _colour_masks(grid: _PaddedGrid, device: torch.device, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    """Red and black voxels of the padded grid as flat ``(1, 1, N)`` 0/1 masks (0 on the border)."""
    parity = base_grid(grid.size, device, torch.float32).sum(0).remainder(2)[None, None]
    pad = [1, 1] * len(grid.size)
    red = F.pad((parity == 0).to(dtype), pad).reshape(1, 1, grid.n)
    black = F.pad((parity == 1).to(dtype), pad).reshape(1, 1, grid.n)
    return red, black


def _block_inverse(j: Tensor, lam: float) -> Tensor:
    """Per-voxel inverse of ``J + lam I``; ``j (B, d, d, *S)`` -> same shape."""
    d = j.shape[1]
    eye = torch.eye(d, device=j.device, dtype=j.dtype).view(1, d, d, *[1] * (j.dim() - 3))
    m = (j + lam * eye).movedim(1, -1).movedim(1, -1)  # (B, *S, d, d)
    return torch.linalg.inv(m).movedim(-1, 1).movedim(-1, 1)


def _sor(
    grid: _PaddedGrid,
    masks: tuple[Tensor, Tensor],
    m: Tensor,
    c: Tensor,
    p: Tensor,
    nd: int,
    omega: float,
    iterations: int,
) -> Tensor:
    """Red-black SOR for ``w = m @ sum_nbr(w) + c``; ``m (B, d*d, N)``, ``c, p (B, d, N)`` padded flat."""
    nsum = torch.zeros_like(p)
    new = torch.empty_like(p)
    steps = [mask * omega for mask in masks]
    for _ in range(iterations):
        for step in steps:
            grid.refresh(p)
            grid.neighbour_sum(p, nsum)
            new.copy_(c)
            for k in range(nd):
                for j in range(nd):
                    new[:, k].addcmul_(m[:, k * nd + j], nsum[:, j])
            new.sub_(p)
            p.addcmul_(step, new)
    grid.refresh(p)
    return grid.unpad(p)


def _refine_level(a: Tensor, b: Tensor, w: Tensor, cfg: FlowConfig, warps: int, iterations: int) -> Tensor:
    """Warps and SOR sweeps at one pyramid level; ``a, b (B, C, *S)``, ``w (B, d, *S)`` voxels."""
    nd = w.shape[1]
    size = tuple(w.shape[2:])
    lam = 2 * nd * cfg.smoothness**2
    grid = _PaddedGrid(size)
    masks = _colour_masks(grid, w.device, w.dtype)
    limit = torch.tensor(
        [cfg.max_displacement * max(n - 1, 1) for n in size], device=w.device, dtype=w.dtype
    ).view(1, nd, *[1] * nd)
    ga = gradient(a)
    for _ in range(warps):
        bw = warp(b, w)
        g = 0.5 * (ga + gradient(bw))  # (B, C, d, *S): averaged gradients are more symmetric, more stable
        r = bw - a
        weight = inside(w).to(w.dtype)
        if cfg.charbonnier_eps:
            eps = cfg.charbonnier_eps
            weight = weight * eps / torch.sqrt((r * r).sum(1, keepdim=True) + eps * eps)
        jt = (g.unsqueeze(3) * g.unsqueeze(2)).sum(1) * weight.unsqueeze(1)  # (B, d, d, *S)
        jr = (g * r.unsqueeze(2)).sum(1) * weight  # (B, d, *S)
        if cfg.local_sigma > 0:
            jt = gaussian_blur(jt.flatten(1, 2), cfg.local_sigma).view(jt.shape)
            jr = gaussian_blur(jr, cfg.local_sigma)
        # new = w0 + inv (lam (mean_nbr(w) - w0) - jr) = m @ sum_nbr(w) + c: m and c are fixed per warp.
        inv = _block_inverse(jt, lam)
        m = grid.pad((inv * (lam / (2 * nd))).flatten(1, 2))
        c = grid.pad(w - (inv * (lam * w + jr).unsqueeze(1)).sum(2))
        w0 = w
        w = _sor(grid, masks, m, c, grid.pad(w), nd, cfg.sor_omega, iterations)
        # The linearization only holds for small increments: clamp them, then remove outliers.
        w = w0 + (w - w0).clamp(-cfg.max_step, cfg.max_step)
        if cfg.median:
            w = median3(w)
        w = torch.maximum(torch.minimum(w, limit), -limit)
    return w


@torch.no_grad()
def estimate_flow(a: Tensor, b: Tensor, cfg: FlowConfig | None = None) -> Tensor:
    """Displacements from ``a`` to ``b``: ``b(x + flow(x)) ≈ a(x)``.

    Args:
        a, b: ``(B, C, *S)`` pairs of frames, ``S`` = (Z, Y, X) or (H, W); any value range.
        cfg: estimator settings (defaults: :class:`FlowConfig`).

    Returns:
        ``(B, d, *S)`` displacements in voxels (pixels), components in axis order, same dtype as ``a``.
    """
    cfg = cfg or FlowConfig()
    if a.shape != b.shape or a.dim() not in (4, 5):
        raise HyperINRError(
            f"flow: expected two (B, C, Z, Y, X) or (B, C, H, W) tensors of one shape, got "
            f"{tuple(a.shape)} and {tuple(b.shape)}"
        )
    nd = a.dim() - 2
    dtype = a.dtype if a.dtype in (torch.float32, torch.float64) else torch.float32
    a, b = _normalize_pair(a.to(dtype), b.to(dtype))
    a, b = gaussian_blur(a, cfg.presmooth), gaussian_blur(b, cfg.presmooth)
    sizes = pyramid_sizes(tuple(a.shape[2:]), cfg.levels, cfg.min_size)
    pyr = [(a, b)]
    for size in sizes[1:]:  # built from the finest level down even where that level is not solved
        pa, pb = pyr[-1]
        pyr.append((resize(gaussian_blur(pa, 0.85), size), resize(gaussian_blur(pb, 0.85), size)))
    finest_full = 0  # the finest level solved with the full warps and iterations
    limit = cfg.max_voxels if nd == 3 else cfg.max_pixels
    while limit and finest_full < len(sizes) - 1 and math.prod(sizes[finest_full]) > limit:
        finest_full += 1
    finest = 0 if cfg.fine_warps > 0 else finest_full
    w = torch.zeros(a.shape[0], nd, *sizes[-1], device=a.device, dtype=dtype)
    for level in range(len(sizes) - 1, finest - 1, -1):
        w = _upsample_flow(w, sizes[level])
        # Levels above max_voxels (max_pixels) get a lighter pass: the coarser levels did the heavy lifting.
        light = level < finest_full
        warps = cfg.fine_warps if light else cfg.warps
        iterations = cfg.fine_iterations if light else cfg.iterations
        w = _refine_level(*(_features(x, cfg) for x in pyr[level]), w, cfg, warps, iterations)
    return _upsample_flow(w, sizes[0])


def _upsample_flow(w: Tensor, size: tuple[int, ...]) -> Tensor:
    """Resample displacements ``(B, d, *S)`` to ``size``, rescaling each component to the new spacing."""
    old = tuple(w.shape[2:])
    if old == tuple(size):
        return w
    nd = w.shape[1]
    ratio = [(n - 1) / max(o - 1, 1) for n, o in zip(size, old, strict=True)]
    return resize(w, size) * torch.tensor(ratio, device=w.device, dtype=w.dtype).view(1, nd, *[1] * nd)
