"""Triton kernels of the hash grid: forward, backward into the tables, and the blend of K tables.

The semantics are those of :func:`~hyperinr_core.model.encoding.corner_indices_and_weights` (tiny-cuda-nn's
``GridEncoding``): per level ``p = x * scale + 0.5``, ``cell = floor(p)``, the ``2^d`` corners' entries
indexed densely (``sum(cell[i] * res**i) % size``) on the coarse levels and XOR-hashed with tcnn's primes
(``xor(cell[i] * prime[i]) % size``, uint32) on the others, weights the product of ``1 - w`` / ``w``.

One program encodes a block of points for every level at once. Its tile is ``(BLOCK, C)``: one column per
output feature ``level * F + f`` (``C`` is ``L * F`` rounded up to a power of two, at least 16, so the
tile feeds ``tl.dot`` directly in :mod:`.triton_inr`). A column looks up its level's constants, and the
``F`` columns of a level load the ``F`` contiguous features of each corner's entry side by side.

**Mixtures of tables.** The HyperINR's encoder at θ is ``sum_k w_k * T[idx_k]``, and the encoding is linear
in the table entries, so the kernels take ``K`` table rows and weights per *set* of points (a frame of a
training batch) and gather (forward) or scatter (backward, fp32 ``atomic_add``) through all of them:
no per-frame parameter vector is ever built. A single INR is the case ``K = 1``, ``w = 1``.

Kernels run on CUDA, or on CPU tensors under ``TRITON_INTERPRET=1`` (the tests); :mod:`.backends` decides
which is available. Nothing else imports triton.
"""

from __future__ import annotations

import os

import torch
import triton
import triton.language as tl
from torch import Tensor

from hyperinr_core.model.encoding import PRIMES, HashGridConfig

__all__ = ["GridConsts", "grid_consts", "encode_mixture", "encode", "blend_tables", "MixtureEncode",
           "feature_columns", "prime_args", "interpreted", "load_points", "encode_tile", "BLOCK_POINTS"]


def interpreted() -> bool:
    """Whether the kernels run under Triton's interpreter (``TRITON_INTERPRET=1`` when they were defined)."""
    return os.environ.get("TRITON_INTERPRET", "") not in ("", "0")


#: Points per program of the encoding kernels (larger under the interpreter, where a program's cost is
#: Python's per operation, not the registers').
BLOCK_POINTS = 512 if interpreted() else 128


def feature_columns(cfg: HashGridConfig) -> int:
    """Columns of a program's feature tile: ``L * F`` rounded up to a power of two, at least 16."""
    return max(16, triton.next_power_of_2(cfg.n_output_dims))


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
def _cell(xi, scale):
    """Cell (int32) and fraction of one coordinate ``xi (BLOCK,)`` at every column's level."""
    pos = xi[:, None] * scale + 0.5
    cf = tl.floor(pos)
    return cf.to(tl.int32), pos - cf


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
def _pick(frac, bit: tl.constexpr):
    if bit:
        return frac
    else:
        return 1.0 - frac


@triton.jit
def _prime_hash(cell, prime: tl.constexpr):
    return cell.to(tl.uint32) * prime


@triton.jit
def _corner(c0, f0, c1, f1, c2, f2, c3, f3, res, size, dense, offset, fcol,
            corner: tl.constexpr, D: tl.constexpr, F: tl.constexpr,
            P1: tl.constexpr, P2: tl.constexpr, P3: tl.constexpr):
    """Element offset (entry * F + feature, level offset included) and weight of one corner."""
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
    entry = tl.where(dense != 0, lin, hashed) + offset
    return entry * F + fcol, w


@triton.jit
def _level_columns(scales_ptr, res_ptr, sizes_ptr, offs_ptr, dense_ptr,
                   C: tl.constexpr, F: tl.constexpr, LF: tl.constexpr):
    cols = tl.arange(0, C)
    cmask = cols < LF
    lvl = cols // F
    scale = tl.load(scales_ptr + lvl, mask=cmask, other=0.0)[None, :]
    res = tl.load(res_ptr + lvl, mask=cmask, other=1)[None, :]
    size = tl.load(sizes_ptr + lvl, mask=cmask, other=1)[None, :]
    offset = tl.load(offs_ptr + lvl, mask=cmask, other=0)[None, :]
    dense = tl.load(dense_ptr + lvl, mask=cmask, other=1)[None, :]
    return cols, cmask, scale, res, size, offset, dense, (cols % F)[None, :]


@triton.jit
def _cells(x0, x1, x2, x3, scale, D: tl.constexpr):
    c0, f0 = _cell(x0, scale)
    c1, f1, c2, f2, c3, f3 = c0, f0, c0, f0, c0, f0
    if D > 1:
        c1, f1 = _cell(x1, scale)
    if D > 2:
        c2, f2 = _cell(x2, scale)
    if D > 3:
        c3, f3 = _cell(x3, scale)
    return c0, f0, c1, f1, c2, f2, c3, f3


@triton.jit
def encode_tile(x0, x1, x2, x3, tab_ptr, kidx_ptr, kw_ptr, set_id, rmask, P,
                scales_ptr, res_ptr, sizes_ptr, offs_ptr, dense_ptr,
                D: tl.constexpr, F: tl.constexpr, K: tl.constexpr, C: tl.constexpr, LF: tl.constexpr,
                P1: tl.constexpr, P2: tl.constexpr, P3: tl.constexpr):
    """``(BLOCK, C)`` float32 features of the points ``(x0, x1, x2, x3)`` (each ``(BLOCK,)``, see
    :func:`load_points`) under the mixture ``sum_k w_k T[idx_k]`` of set ``set_id`` (columns at or beyond
    ``LF`` are zero)."""
    cols, cmask, scale, res, size, offset, dense, fcol = _level_columns(
        scales_ptr, res_ptr, sizes_ptr, offs_ptr, dense_ptr, C, F, LF)
    c0, f0, c1, f1, c2, f2, c3, f3 = _cells(x0, x1, x2, x3, scale, D)
    m2 = rmask[:, None] & cmask[None, :]
    acc = tl.zeros(m2.shape, dtype=tl.float32)
    for corner in tl.static_range(1 << D):
        elem, w = _corner(c0, f0, c1, f1, c2, f2, c3, f3, res, size, dense, offset, fcol,
                          corner, D, F, P1, P2, P3)
        for k in tl.static_range(K):
            base = tl.load(kidx_ptr + set_id * K + k).to(tl.int64) * P
            wk = tl.load(kw_ptr + set_id * K + k)
            v = tl.load(tab_ptr + base + elem, mask=m2, other=0.0).to(tl.float32)
            acc += (w * wk) * v
    return acc


# -- kernels -------------------------------------------------------------------------------------------
@triton.jit
def _encode_fwd_kernel(x_ptr, tab_ptr, kidx_ptr, kw_ptr, out_ptr, M, P,
                       scales_ptr, res_ptr, sizes_ptr, offs_ptr, dense_ptr,
                       D: tl.constexpr, F: tl.constexpr, K: tl.constexpr, C: tl.constexpr,
                       LF: tl.constexpr, BLOCK: tl.constexpr,
                       P1: tl.constexpr, P2: tl.constexpr, P3: tl.constexpr):
    set_id = tl.program_id(1)
    local = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    rmask = local < M
    rows = set_id.to(tl.int64) * M + local
    x0, x1, x2, x3 = load_points(x_ptr, rows, rmask, D)
    acc = encode_tile(x0, x1, x2, x3, tab_ptr, kidx_ptr, kw_ptr, set_id, rmask, P,
                      scales_ptr, res_ptr, sizes_ptr, offs_ptr, dense_ptr, D, F, K, C, LF, P1, P2, P3)
    cols = tl.arange(0, C)
    tl.store(out_ptr + rows[:, None] * LF + cols[None, :], acc,
             mask=rmask[:, None] & (cols < LF)[None, :])


@triton.jit
def _encode_bwd_kernel(x_ptr, grad_ptr, kidx_ptr, kw_ptr, gtab_ptr, M, P,
                       scales_ptr, res_ptr, sizes_ptr, offs_ptr, dense_ptr,
                       D: tl.constexpr, F: tl.constexpr, K: tl.constexpr, C: tl.constexpr,
                       LF: tl.constexpr, BLOCK: tl.constexpr,
                       P1: tl.constexpr, P2: tl.constexpr, P3: tl.constexpr):
    set_id = tl.program_id(1)
    local = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    rmask = local < M
    rows = set_id.to(tl.int64) * M + local
    cols, cmask, scale, res, size, offset, dense, fcol = _level_columns(
        scales_ptr, res_ptr, sizes_ptr, offs_ptr, dense_ptr, C, F, LF)
    x0, x1, x2, x3 = load_points(x_ptr, rows, rmask, D)
    c0, f0, c1, f1, c2, f2, c3, f3 = _cells(x0, x1, x2, x3, scale, D)
    m2 = rmask[:, None] & cmask[None, :]
    g = tl.load(grad_ptr + rows[:, None] * LF + cols[None, :], mask=m2, other=0.0).to(tl.float32)
    for corner in tl.static_range(1 << D):
        elem, w = _corner(c0, f0, c1, f1, c2, f2, c3, f3, res, size, dense, offset, fcol,
                          corner, D, F, P1, P2, P3)
        gw = g * w
        for k in tl.static_range(K):
            base = tl.load(kidx_ptr + set_id * K + k).to(tl.int64) * P
            wk = tl.load(kw_ptr + set_id * K + k)
            tl.atomic_add(gtab_ptr + base + elem, gw * wk, mask=m2)


@triton.jit
def _blend_kernel(tab_ptr, kidx_ptr, kw_ptr, out_ptr, P, K: tl.constexpr, BLOCK: tl.constexpr):
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
    _encode_fwd_kernel[grid](
        x, tables, kidx, kw, out, m, cfg.n_params, *consts.args(),
        D=cfg.n_input_dims, F=cfg.n_features_per_level, K=kidx.shape[1], C=feature_columns(cfg), LF=lf,
        BLOCK=BLOCK_POINTS, **prime_args(),
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
    _encode_bwd_kernel[grid](
        x.contiguous().float(), grad.contiguous().float(), kidx.contiguous(), kw.contiguous(), gtab, m,
        cfg.n_params, *consts.args(),
        D=cfg.n_input_dims, F=cfg.n_features_per_level, K=kidx.shape[1], C=feature_columns(cfg),
        LF=cfg.n_output_dims, BLOCK=BLOCK_POINTS, **prime_args(),
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
BLEND_BLOCK = 1 << 16 if interpreted() else 1024


def blend_tables(tables: Tensor, kidx: Tensor, kw: Tensor, out: Tensor) -> Tensor:
    """``out = sum_k kw[k] * tables[kidx[k]]`` in one launch; ``kidx``/``kw`` are ``(K,)`` device tensors
    (the generation of a HyperINR's encoder at θ)."""
    p = tables.shape[1]
    _blend_kernel[(triton.cdiv(p, BLEND_BLOCK),)](tables, kidx, kw, out, p, K=kidx.shape[0], BLOCK=BLEND_BLOCK)
    return out
