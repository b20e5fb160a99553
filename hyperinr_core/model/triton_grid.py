"""Triton kernels of the hash grid: forward, backward into the tables, and the blend of K tables.

The semantics are those of :func:`~hyperinr_core.model.encoding.corner_indices_and_weights` (tiny-cuda-nn's
``GridEncoding``): per level ``p = x * scale + 0.5``, ``cell = floor(p)``, the ``2^d`` corners' entries
indexed densely (``sum(cell[i] * res**i) % size``) on the coarse levels and XOR-hashed with tcnn's primes
(``xor(cell[i] * prime[i]) % size``, uint32) on the others, weights the product of ``1 - w`` / ``w``.

One program encodes a block of points, one point a thread (tiny-cuda-nn's layout): a loop over the levels
(one level's values live at a time, so registers stay few), the ``2^d`` corners unrolled inside it, and per
corner the ``F`` contiguous features of its entry loaded as one vector, ``(BLOCK, F)``. The cells, weights
and indices are computed once per point and level, not once per feature.

**Mixtures of tables.** The HyperINR's encoder at θ is ``sum_k w_k * T[idx_k]``, and the encoding is linear
in the table entries, so the kernels take ``K`` table rows and weights per *set* of points (a frame of a
training batch) and gather (forward) or scatter (backward, relaxed fp32 ``atomic_add``: reductions that return nothing) through all of them:
no per-frame parameter vector is ever built. A single INR is the case ``K = 1``, ``w = 1``.

Kernels run on CUDA, or on CPU tensors under ``TRITON_INTERPRET=1`` (the tests); :mod:`.backends` decides
which is available. Nothing else imports triton.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

from hyperinr_core.device import triton_interpreted
from hyperinr_core.model.encoding import PRIMES, HashGridConfig

__all__ = ["GridConsts", "grid_consts", "encode_mixture", "encode", "blend_tables", "MixtureEncode",
           "prime_args", "load_points", "encode_level", "BLOCK_POINTS"]



#: Points per program of the encoding kernels: one a thread of 4 warps on a GPU; larger under the
#: interpreter, where a program's cost is Python's per operation.
BLOCK_POINTS = 512 if triton_interpreted() else 128


class GridConsts:
    """Per-level constants of a hash grid on one device: scale (f32), resolution, size, entry offset and a
    dense flag (int32), each ``(L,)``."""

    def __init__(self, cfg: HashGridConfig, device: torch.device):
        scales, res, sizes = cfg.level_scales, cfg.level_resolutions, cfg.level_sizes
        d = cfg.n_input_dims
        self.scales = torch.from_numpy(scales.copy()).to(device)
        self.res = torch.from_numpy(res.astype("int32")).to(device)
        self.sizes = torch.from_numpy(sizes.astype("int32")).to(device)
        self.offsets = torch.from_numpy(cfg.level_offsets.astype("int32")).to(device)
        self.dense = torch.tensor([int(int(r) ** d <= int(s)) for r, s in zip(res, sizes)],
                                  dtype=torch.int32, device=device)

    def args(self) -> tuple:
        return self.scales, self.res, self.sizes, self.offsets, self.dense


_CONSTS: dict = {}


def grid_consts(cfg: HashGridConfig, device: torch.device) -> GridConsts:
    """The :class:`GridConsts` of ``cfg`` on ``device``, built once."""
    key = (cfg, str(device))
    hit = _CONSTS.get(key)
    if hit is None:
        hit = _CONSTS[key] = GridConsts(cfg, device)
    return hit


# -- device functions ----------------------------------------------------------------------------------
@triton.jit
def load_points(x_ptr, rows, rmask, D: tl.constexpr):
    """The ``D`` coordinates ``(BLOCK,)`` each (float32) of points ``rows`` of ``x (N, D)``; unused ones
    repeat the first."""
    x0 = tl.load(x_ptr + rows * D, mask=rmask, other=0.0).to(tl.float32)
    x1, x2, x3 = x0, x0, x0
    if D > 1:
        x1 = tl.load(x_ptr + rows * D + 1, mask=rmask, other=0.0).to(tl.float32)
    if D > 2:
        x2 = tl.load(x_ptr + rows * D + 2, mask=rmask, other=0.0).to(tl.float32)
    if D > 3:
        x3 = tl.load(x_ptr + rows * D + 3, mask=rmask, other=0.0).to(tl.float32)
    return x0, x1, x2, x3


@triton.jit
def _cell(xi, scale):
    """Cell (int32) and fraction of one coordinate ``xi (BLOCK,)`` at a level of ``scale``."""
    pos = xi * scale + 0.5
    cf = tl.floor(pos)
    return cf.to(tl.int32), pos - cf


@triton.jit
def _pick(frac, bit: tl.constexpr):
    if bit:
        return frac
    else:
        return 1.0 - frac


@triton.jit
def _prime_hash(cell, prime: tl.constexpr):
    return cell.to(tl.uint32) * prime


@triton.jit
def _corner(c0, f0, c1, f1, c2, f2, c3, f3, res, size, dense, offset,
            corner: tl.constexpr, D: tl.constexpr,
            P1: tl.constexpr, P2: tl.constexpr, P3: tl.constexpr):
    """Table entry (level offset included) and weight ``(BLOCK,)`` of one corner of the points' cells."""
    b0: tl.constexpr = corner & 1
    b1: tl.constexpr = (corner >> 1) & 1
    b2: tl.constexpr = (corner >> 2) & 1
    b3: tl.constexpr = (corner >> 3) & 1
    i0 = c0 + b0
    w = _pick(f0, b0)
    lin = i0
    h = i0.to(tl.uint32)
    if D > 1:
        i1 = c1 + b1
        w = w * _pick(f1, b1)
        lin = lin + i1 * res
        h = h ^ _prime_hash(i1, P1)
    if D > 2:
        i2 = c2 + b2
        w = w * _pick(f2, b2)
        lin = lin + i2 * (res * res)
        h = h ^ _prime_hash(i2, P2)
    if D > 3:
        i3 = c3 + b3
        w = w * _pick(f3, b3)
        lin = lin + i3 * (res * res * res)
        h = h ^ _prime_hash(i3, P3)
    lin = lin % size
    lin = tl.where(lin < 0, lin + size, lin)  # torch.remainder's sign for points below 0
    hashed = (h % size.to(tl.uint32)).to(tl.int32)
    return tl.where(dense != 0, lin, hashed) + offset, w


@triton.jit
def level_cells(x0, x1, x2, x3, level, scales_ptr, res_ptr, sizes_ptr, offs_ptr, dense_ptr, D: tl.constexpr):
    """Cells and fractions of the points at ``level`` (a runtime index), with the level's constants."""
    scale = tl.load(scales_ptr + level)
    c0, f0 = _cell(x0, scale)
    c1, f1, c2, f2, c3, f3 = c0, f0, c0, f0, c0, f0
    if D > 1:
        c1, f1 = _cell(x1, scale)
    if D > 2:
        c2, f2 = _cell(x2, scale)
    if D > 3:
        c3, f3 = _cell(x3, scale)
    consts = (tl.load(res_ptr + level), tl.load(sizes_ptr + level), tl.load(dense_ptr + level),
              tl.load(offs_ptr + level))
    return (c0, f0, c1, f1, c2, f2, c3, f3), consts


@triton.jit
def encode_level(x0, x1, x2, x3, level, tab_ptr, kidx_ptr, kw_ptr, set_id, rmask, P,
                 scales_ptr, res_ptr, sizes_ptr, offs_ptr, dense_ptr,
                 D: tl.constexpr, F: tl.constexpr, K: tl.constexpr,
                 P1: tl.constexpr, P2: tl.constexpr, P3: tl.constexpr):
    """``(BLOCK, F)`` float32 features at ``level`` of the points ``(x0, x1, x2, x3)`` (each ``(BLOCK,)``,
    see :func:`load_points`) under the mixture ``sum_k w_k T[idx_k]`` of set ``set_id``: per corner, the F
    contiguous features of its entry are loaded as one vector from each of the K tables."""
    cells, consts = level_cells(x0, x1, x2, x3, level, scales_ptr, res_ptr, sizes_ptr, offs_ptr, dense_ptr, D)
    c0, f0, c1, f1, c2, f2, c3, f3 = cells
    res, size, dense, offset = consts
    fr = tl.arange(0, F)
    m2 = rmask[:, None]  # constant along the features: their loads stay one vector
    acc = tl.zeros((x0.shape[0], F), dtype=tl.float32)
    for corner in tl.static_range(1 << D):
        entry, w = _corner(c0, f0, c1, f1, c2, f2, c3, f3, res, size, dense, offset, corner, D, P1, P2, P3)
        elem = entry[:, None] * F + fr[None, :]
        if K <= 2:  # unrolled: every table's load in flight at once
            for k in tl.static_range(K):
                acc = _gather(acc, tab_ptr, kidx_ptr, kw_ptr, set_id, P, elem, w, m2, k, K)
        else:  # a loop: K = 8 loads of every corner in flight would spill registers
            for k in range(K):
                acc = _gather(acc, tab_ptr, kidx_ptr, kw_ptr, set_id, P, elem, w, m2, k, K)
    return acc


@triton.jit
def _gather(acc, tab_ptr, kidx_ptr, kw_ptr, set_id, P, elem, w, m2, k, K: tl.constexpr):
    base = tl.load(kidx_ptr + set_id * K + k).to(tl.int64) * P
    wk = tl.load(kw_ptr + set_id * K + k)
    v = tl.load(tab_ptr + base + elem, mask=m2, other=0.0).to(tl.float32)
    return acc + (w * wk)[:, None] * v


# -- kernels -------------------------------------------------------------------------------------------
@triton.jit
def _set_rows(M, BLOCK: tl.constexpr):
    """This program's set (axis 1) and its block of rows of ``x (S * M, d)`` (axis 0), with their mask."""
    set_id = tl.program_id(1)
    local = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    return set_id, set_id.to(tl.int64) * M + local, local < M


@triton.jit
def encode_fwd_kernel(x_ptr, tab_ptr, kidx_ptr, kw_ptr, out_ptr, M, P, L,
                       scales_ptr, res_ptr, sizes_ptr, offs_ptr, dense_ptr,
                       D: tl.constexpr, F: tl.constexpr, K: tl.constexpr, BLOCK: tl.constexpr,
                       P1: tl.constexpr, P2: tl.constexpr, P3: tl.constexpr):
    set_id, rows, rmask = _set_rows(M, BLOCK)
    x0, x1, x2, x3 = load_points(x_ptr, rows, rmask, D)
    fr = tl.arange(0, F)
    for level in range(L):  # a loop: one level's values live at a time
        acc = encode_level(x0, x1, x2, x3, level, tab_ptr, kidx_ptr, kw_ptr, set_id, rmask, P,
                           scales_ptr, res_ptr, sizes_ptr, offs_ptr, dense_ptr, D, F, K, P1, P2, P3)
        tl.store(out_ptr + rows[:, None] * (L * F) + level * F + fr[None, :], acc, mask=rmask[:, None])


@triton.jit
def encode_bwd_kernel(x_ptr, grad_ptr, kidx_ptr, kw_ptr, gtab_ptr, M, P, L,
                       scales_ptr, res_ptr, sizes_ptr, offs_ptr, dense_ptr,
                       D: tl.constexpr, F: tl.constexpr, K: tl.constexpr, BLOCK: tl.constexpr,
                       P1: tl.constexpr, P2: tl.constexpr, P3: tl.constexpr):
    set_id, rows, rmask = _set_rows(M, BLOCK)
    x0, x1, x2, x3 = load_points(x_ptr, rows, rmask, D)
    fr = tl.arange(0, F)
    m2 = rmask[:, None]  # constant along the features: their loads stay one vector
    for level in range(L):
        cells, consts = level_cells(x0, x1, x2, x3, level, scales_ptr, res_ptr, sizes_ptr, offs_ptr,
                                    dense_ptr, D)
        c0, f0, c1, f1, c2, f2, c3, f3 = cells
        res, size, dense, offset = consts
        g = tl.load(grad_ptr + rows[:, None] * (L * F) + level * F + fr[None, :], mask=m2, other=0.0)
        g = g.to(tl.float32)
        for corner in tl.static_range(1 << D):
            entry, w = _corner(c0, f0, c1, f1, c2, f2, c3, f3, res, size, dense, offset, corner, D,
                               P1, P2, P3)
            elem = entry[:, None] * F + fr[None, :]
            gw = g * w[:, None]
            for k in tl.static_range(K):
                base = tl.load(kidx_ptr + set_id * K + k).to(tl.int64) * P
                wk = tl.load(kw_ptr + set_id * K + k)
                tl.atomic_add(gtab_ptr + base + elem, gw * wk, mask=m2, sem="relaxed")


@triton.jit
def blend_kernel(tab_ptr, kidx_ptr, kw_ptr, out_ptr, P, K: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < P
    acc = tl.zeros((BLOCK,), dtype=tl.float32)
    for k in tl.static_range(K):
        base = tl.load(kidx_ptr + k).to(tl.int64) * P
        acc += tl.load(kw_ptr + k) * tl.load(tab_ptr + base + offs, mask=mask, other=0.0).to(tl.float32)
    tl.store(out_ptr + offs, acc.to(out_ptr.dtype.element_ty), mask=mask)


# -- launchers -----------------------------------------------------------------------------------------
def prime_args() -> dict:
    """The hash primes of dimensions 1..3 as the kernels' constexpr arguments."""
    p = list(PRIMES[1:4])
    return {"P1": p[0], "P2": p[1], "P3": p[2]}


def _checked_mixture(x: Tensor, tables: Tensor, kidx: Tensor, kw: Tensor, cfg: HashGridConfig):
    if x.dim() != 3 or x.shape[-1] != cfg.n_input_dims:
        raise ValueError(f"x must be (S, M, {cfg.n_input_dims}), got {tuple(x.shape)}")
    if tables.dim() != 2 or tables.shape[1] != cfg.n_params:
        raise ValueError(f"tables must be (N, {cfg.n_params}), got {tuple(tables.shape)}")
    s = x.shape[0]
    if kidx.shape != kw.shape or kidx.dim() != 2 or kidx.shape[0] != s:
        raise ValueError(f"kidx and kw must both be ({s}, K), got {tuple(kidx.shape)} and {tuple(kw.shape)}")
    return (x.contiguous().float(), tables.contiguous(), kidx.to(x.device, torch.int64).contiguous(),
            kw.to(x.device, torch.float32).contiguous())


def encode_mixture_forward(x: Tensor, tables: Tensor, kidx: Tensor, kw: Tensor, cfg: HashGridConfig) -> Tensor:
    """Features ``(S, M, L*F)`` of points ``x (S, M, d)``; set ``s`` encodes with ``sum_k kw[s,k] *
    tables[kidx[s,k]]`` (no autograd; see :class:`MixtureEncode`)."""
    x, tables, kidx, kw = _checked_mixture(x, tables, kidx, kw, cfg)
    s, m, _ = x.shape
    lf = cfg.n_output_dims
    out = torch.empty(s, m, lf, device=x.device, dtype=torch.float32)
    if s * m == 0:
        return out
    consts = grid_consts(cfg, x.device)
    grid = (triton.cdiv(m, BLOCK_POINTS), s)
    encode_fwd_kernel[grid](
        x, tables, kidx, kw, out, m, cfg.n_params, cfg.n_levels, *consts.args(),
        D=cfg.n_input_dims, F=cfg.n_features_per_level, K=kidx.shape[1], BLOCK=BLOCK_POINTS, **prime_args(),
    )
    return out


def encode_mixture_backward(x: Tensor, grad: Tensor, n_tables: int, kidx: Tensor, kw: Tensor,
                            cfg: HashGridConfig) -> Tensor:
    """The gradient ``(n_tables, P)`` (fp32) of the tables given ``grad (S, M, L*F)`` of the features."""
    s, m, _ = x.shape
    gtab = torch.zeros(n_tables, cfg.n_params, device=x.device, dtype=torch.float32)
    if s * m == 0:
        return gtab
    consts = grid_consts(cfg, x.device)
    grid = (triton.cdiv(m, BLOCK_POINTS), s)
    encode_bwd_kernel[grid](
        x.contiguous().float(), grad.contiguous().float(), kidx.contiguous(), kw.contiguous(), gtab, m,
        cfg.n_params, cfg.n_levels, *consts.args(),
        D=cfg.n_input_dims, F=cfg.n_features_per_level, K=kidx.shape[1], BLOCK=BLOCK_POINTS, **prime_args(),
    )
    return gtab


class MixtureEncode(torch.autograd.Function):
    """Differentiable (in the tables) :func:`encode_mixture_forward`; backward scatters with atomics."""

    @staticmethod
    def forward(ctx, tables: Tensor, x: Tensor, kidx: Tensor, kw: Tensor, cfg: HashGridConfig) -> Tensor:
        x, tables_c, kidx, kw = _checked_mixture(x, tables, kidx, kw, cfg)
        ctx.save_for_backward(x, kidx, kw)
        ctx.cfg, ctx.n_tables, ctx.dtype = cfg, tables.shape[0], tables.dtype
        return encode_mixture_forward(x, tables_c, kidx, kw, cfg)

    @staticmethod
    def backward(ctx, grad: Tensor):
        x, kidx, kw = ctx.saved_tensors
        g = encode_mixture_backward(x, grad, ctx.n_tables, kidx, kw, ctx.cfg)
        return g.to(ctx.dtype), None, None, None, None


def encode_mixture(x: Tensor, tables: Tensor, kidx: Tensor, kw: Tensor, cfg: HashGridConfig) -> Tensor:
    """Differentiable features ``(S, M, L*F)``: set ``s`` of ``x (S, M, d)`` encoded with the mixture
    ``sum_k kw[s, k] * tables[kidx[s, k]]`` of rows of ``tables (N, P)``."""
    return MixtureEncode.apply(tables, x, kidx, kw, cfg)


def encode(x: Tensor, params: Tensor, cfg: HashGridConfig) -> Tensor:
    """:func:`~hyperinr_core.model.encoding.hash_encode` through the kernels (differentiable in
    ``params``): ``x (N, d)`` with ``params (P,)``, or ``x (B, M, d)`` with one vector per row ``(B, P)``."""
    if x.dim() == 3:
        b = x.shape[0]
        kidx = torch.arange(b, device=x.device).view(b, 1)
        return encode_mixture(x, params.view(b, -1), kidx, torch.ones(b, 1, device=x.device), cfg)
    one = torch.zeros(1, 1, dtype=torch.int64, device=x.device)
    out = encode_mixture(x.unsqueeze(0), params.view(1, -1), one, torch.ones(1, 1, device=x.device), cfg)
    return out[0]


#: Elements per program of the blend kernel.
BLEND_BLOCK = 1 << 16 if triton_interpreted() else 1024


def blend_tables(tables: Tensor, kidx: Tensor, kw: Tensor, out: Tensor) -> Tensor:
    """``out = sum_k kw[k] * tables[kidx[k]]`` in one launch; ``kidx``/``kw`` are ``(K,)`` device tensors
    (the generation of a HyperINR's encoder at θ)."""
    p = tables.shape[1]
    blend_kernel[(triton.cdiv(p, BLEND_BLOCK),)](tables, kidx, kw, out, p, K=kidx.shape[0], BLOCK=BLEND_BLOCK)
    return out
