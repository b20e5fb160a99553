"""Triton kernels of the whole INR: the hash grid feeding the shared MLP in one program, and generation.

**Fused INR forward.** A program encodes a block of points level by level (:func:`.triton_grid.encode_level`)
and folds each level's ``F`` features straight into the first layer's accumulator (rank-1 updates in fp32:
a level's ``F`` columns are too few for a ``tl.dot``), then runs the hidden and output layers (tcnn
FullyFusedMLP layout: ReLU, no biases, widths padded to 16) with ``tl.dot``: the features never go through
global memory. ``precision`` is ``"fp16"`` (tcnn's choice:
fp16 operands, fp32 accumulation; the default on CUDA), ``"bf16"`` or ``"fp32"`` (IEEE fp32 dots, the
reference's precision).

**Generation.** The encoder at θ is one launch of the blend kernel into a preallocated buffer; on CUDA it is
captured once in a CUDA graph with the copies of θ's encoder indices and weights from pinned host memory,
so a call writes two small host arrays and replays the graph: nothing is launched from Python.
"""

from __future__ import annotations

import weakref

import numpy as np
import torch
import triton
import triton.language as tl
from torch import Tensor

from hyperinr_core.device import triton_interpreted
from hyperinr_core.model.encoding import HashGridConfig
from hyperinr_core.model.mlp import MLPConfig
from hyperinr_core.model.triton_grid import (
    blend_tables,
    encode_level,
    grid_consts,
    load_points,
    prime_args,
)

__all__ = ["inr_forward", "inr_decode_grid", "PRECISIONS", "GraphedBlend"]

PRECISIONS = ("fp32", "fp16", "bf16")

#: Points per program of the fused INR kernel (larger under the interpreter, see ``BLOCK_POINTS``), and
#: warps per program on a GPU: (64, 64) fp32 activations are 32 registers a thread of 4 warps. IEEE fp32
#: dots run on the FMA units and need more registers: 32 points a program.
BLOCK_INR = 256 if triton_interpreted() else 64
BLOCK_INR_FP32 = 256 if triton_interpreted() else 32
WARPS_INR = 4


@triton.jit
def _dot(a, b, DT: tl.constexpr, EMULATE: tl.constexpr):
    """``a @ b`` with fp32 accumulation; operands in ``DT`` ("fp32", "fp16" or "bf16"). ``EMULATE`` rounds
    to ``DT`` and multiplies in fp32 (the interpreter's bf16 dot is not usable; the products of ``DT`` values
    are exact in fp32)."""
    if DT == "fp32":
        return tl.dot(a, b, input_precision="ieee")
    else:
        if DT == "fp16":
            a16 = a.to(tl.float16)
            b16 = b.to(tl.float16)
        else:
            a16 = a.to(tl.bfloat16)
            b16 = b.to(tl.bfloat16)
        if EMULATE:
            return tl.dot(a16.to(tl.float32), b16.to(tl.float32), input_precision="ieee")
        else:
            return tl.dot(a16, b16)


@triton.jit
def _grid_points(rows, NX, NY, DX, DY, DZ):
    """Node-centred coordinates of linear grid indices ``rows`` (X fastest), as ``grid_coordinates``."""
    xi = rows % NX
    yi = (rows // NX) % NY
    zi = rows // (NX * NY)
    x0 = xi.to(tl.float32) / DX
    return x0, yi.to(tl.float32) / DY, zi.to(tl.float32) / DZ, x0


@triton.jit
def inr_kernel(x_ptr, tab_ptr, kidx_ptr, kw_ptr, w_ptr, out_ptr, N, P, L, NX, NY, DX, DY, DZ,
                scales_ptr, res_ptr, sizes_ptr, offs_ptr, dense_ptr,
                D: tl.constexpr, F: tl.constexpr, IN_PAD: tl.constexpr, H: tl.constexpr, N_HID: tl.constexpr,
                OUT: tl.constexpr, OUT_PAD: tl.constexpr, DT: tl.constexpr, EMULATE: tl.constexpr,
                GRID: tl.constexpr, BLOCK: tl.constexpr,
                P1: tl.constexpr, P2: tl.constexpr, P3: tl.constexpr):
    rows = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    rmask = rows < N
    if GRID:  # decode: the points are the grid's nodes, computed here; out is the first channel in [0, 1]
        x0, x1, x2, x3 = _grid_points(rows, NX, NY, DX, DY, DZ)
    else:
        x0, x1, x2, x3 = load_points(x_ptr, rows, rmask, D)
    hc = tl.arange(0, H)
    fr = tl.arange(0, F)
    a = tl.zeros((BLOCK, H), dtype=tl.float32)
    for level in range(L):
        enc = encode_level(x0, x1, x2, x3, level, tab_ptr, kidx_ptr, kw_ptr, 0, rmask, P,
                           scales_ptr, res_ptr, sizes_ptr, offs_ptr, dense_ptr, D, F, 1, P1, P2, P3)
        for f in tl.static_range(F):
            feat = tl.sum(tl.where((fr == f)[None, :], enc, 0.0), axis=1)
            # row level * F + f of W0^T (IN_PAD, H): that feature's weights into every neuron
            w0 = tl.load(w_ptr + (level * F + f) * H + hc).to(tl.float32)
            a += feat[:, None] * w0[None, :]
    a = tl.maximum(a, 0.0)
    off: tl.constexpr = H * IN_PAD
    for i in tl.static_range(N_HID - 1):
        wi = tl.load(w_ptr + off + i * H * H + hc[:, None] * H + hc[None, :])  # (out, in), rows contiguous
        a = tl.maximum(_dot(a, tl.trans(wi), DT, EMULATE), 0.0)
    oc = tl.arange(0, OUT_PAD)
    wo = tl.load(w_ptr + off + (N_HID - 1) * H * H + oc[:, None] * H + hc[None, :])
    y = _dot(a, tl.trans(wo), DT, EMULATE)
    if GRID:
        first = tl.sum(tl.where((oc == 0)[None, :], y, 0.0), axis=1)
        first = tl.minimum(tl.maximum(first, 0.0), 1.0)
        tl.store(out_ptr + rows, first.to(out_ptr.dtype.element_ty), mask=rmask)
    else:
        tl.store(out_ptr + rows[:, None] * OUT + oc[None, :], y, mask=rmask[:, None] & (oc < OUT)[None, :])


_ONE: dict = {}


def _single_table(device: torch.device) -> tuple[Tensor, Tensor]:
    key = str(device)
    if key not in _ONE:
        _ONE[key] = (torch.zeros(1, dtype=torch.int64, device=device), torch.ones(1, device=device))
    return _ONE[key]


#: Packed weights by id of the MLP parameter tensor, with the tensor's version when packed (an in-place
#: update, a training step, packs again); an entry is dropped when its tensor is (weakref.finalize), so a
#: recycled id never finds stale weights.
_PACKED: dict[int, dict[str, tuple[int, Tensor]]] = {}


def _weights(mlp_params: Tensor, mlp_cfg: MLPConfig, precision: str) -> Tensor:
    """The MLP weights packed for the kernel, in the dot's operand type (a program loads half the bytes in
    fp16/bf16): ``W0`` transposed, ``(IN_PAD, H)``, so that the first layer's column of a feature is one
    contiguous row, then the other matrices as stored, ``(out, in)`` row-major. Packed once per tensor and
    version: the tracer evaluates the same INR hundreds of times a frame."""
    key = id(mlp_params)
    hit = _PACKED.get(key, {}).get(precision)
    if hit is not None and hit[0] == mlp_params._version:
        return hit[1]
    dt = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]
    mats = mlp_cfg.split(mlp_params.detach())
    packed = torch.cat([mats[0].t().reshape(-1)] + [m.reshape(-1) for m in mats[1:]]).to(dt).contiguous()
    if key not in _PACKED:
        weakref.finalize(mlp_params, _PACKED.pop, key, None)
    _PACKED.setdefault(key, {})[precision] = (mlp_params._version, packed)
    return packed


def _launch(x, out, n, grid_shape, enc_params, mlp_params, enc_cfg: HashGridConfig, mlp_cfg: MLPConfig,
            precision: str) -> None:
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    kidx, kw = _single_table(out.device)
    consts = grid_consts(enc_cfg, out.device)
    nz, ny, nx = grid_shape
    block = BLOCK_INR_FP32 if precision == "fp32" else BLOCK_INR
    inr_kernel[(triton.cdiv(n, block),)](
        x, enc_params.contiguous(), kidx, kw, _weights(mlp_params, mlp_cfg, precision), out, n, enc_cfg.n_params,
        enc_cfg.n_levels, nx, ny, float(max(nx - 1, 1)), float(max(ny - 1, 1)), float(max(nz - 1, 1)), *consts.args(),
        D=enc_cfg.n_input_dims, F=enc_cfg.n_features_per_level, IN_PAD=mlp_cfg.padded_input_dims, H=mlp_cfg.n_neurons,
        N_HID=mlp_cfg.n_hidden_layers, OUT=mlp_cfg.n_output_dims, OUT_PAD=mlp_cfg.padded_output_dims,
        DT=precision, EMULATE=triton_interpreted(), GRID=x is None, BLOCK=block, **prime_args(),
        **({} if triton_interpreted() else {"num_warps": WARPS_INR}),
    )


def inr_forward(x: Tensor, enc_params: Tensor, mlp_params: Tensor, enc_cfg: HashGridConfig,
                mlp_cfg: MLPConfig, precision: str = "fp16", out: Tensor | None = None) -> Tensor:
    """Normalized values ``(N, C)`` (float32) of the INR at points ``x (N, d)``, in one fused launch."""
    if x.dim() != 2 or x.shape[1] != enc_cfg.n_input_dims:
        raise ValueError(f"x must be (N, {enc_cfg.n_input_dims}), got {tuple(x.shape)}")
    n = x.shape[0]
    if out is None:
        out = torch.empty(n, mlp_cfg.n_output_dims, device=x.device, dtype=torch.float32)
    if n:
        _launch(x.contiguous().float(), out, n, (1, 1, 1), enc_params, mlp_params, enc_cfg, mlp_cfg, precision)
    return out


def inr_decode_grid(out: Tensor, enc_params: Tensor, mlp_params: Tensor, enc_cfg: HashGridConfig,
                    mlp_cfg: MLPConfig, precision: str = "fp16") -> Tensor:
    """The INR's first channel, clamped to [0, 1], on the node-centred grid of ``out``'s shape ((Z, Y, X),
    or (H, W) for 2-D input), written into ``out`` (float16 or float32) in one launch: the coordinates are
    computed in the kernel, nothing but the result touches memory."""
    shape = tuple(out.shape)
    if len(shape) != enc_cfg.n_input_dims or len(shape) not in (2, 3):
        raise ValueError(f"a {enc_cfg.n_input_dims}-D INR decodes to a grid of as many axes, got {shape}")
    if not out.is_contiguous():
        raise ValueError("out must be contiguous")
    n = out.numel()
    if n:
        _launch(None, out, n, (1,) * (3 - len(shape)) + shape, enc_params, mlp_params, enc_cfg, mlp_cfg,
                precision)
    return out


class GraphedBlend:
    """``out = sum_k w_k * tables[idx_k]`` for K encoders, repeated with new ``(idx, w)`` each call.

    On CUDA the two host-to-device copies and the blend kernel are one captured CUDA graph: a call writes
    the pinned host arrays and replays it. Elsewhere (the interpreter) a call launches the kernel.
    """

    def __init__(self, tables: Tensor, k: int, out: Tensor):
        self.tables, self.k, self.out = tables, int(k), out
        dev = tables.device
        self.cuda = dev.type == "cuda"
        self.dev_idx = torch.zeros(self.k, dtype=torch.int64, device=dev)
        self.dev_w = torch.zeros(self.k, dtype=torch.float32, device=dev)
        self.graph = None
        if self.cuda:
            self.host_idx = torch.zeros(self.k, dtype=torch.int64).pin_memory()
            self.host_w = torch.zeros(self.k, dtype=torch.float32).pin_memory()
            self._hidx, self._hw = self.host_idx.numpy(), self.host_w.numpy()
            self.done = torch.cuda.Event()
            self._capture()

    def _run(self) -> None:
        if self.cuda:
            self.dev_idx.copy_(self.host_idx, non_blocking=True)
            self.dev_w.copy_(self.host_w, non_blocking=True)
        blend_tables(self.tables, self.dev_idx, self.dev_w, self.out)

    def _capture(self) -> None:
        side = torch.cuda.Stream(self.tables.device)
        side.wait_stream(torch.cuda.current_stream(self.tables.device))
        with torch.cuda.stream(side):
            self._run()  # compile and load the kernel outside the capture
        torch.cuda.current_stream(self.tables.device).wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self._run()
        self.done.record()

    def matches(self, tables: Tensor, k: int, out: Tensor) -> bool:
        """Whether this graph was made for these tensors (same storage) and K."""
        return (tables.data_ptr() == self.tables.data_ptr() and tables.shape == self.tables.shape
                and out.data_ptr() == self.out.data_ptr() and int(k) == self.k)

    def __call__(self, idx: np.ndarray, w: np.ndarray) -> Tensor:
        if not self.cuda:
            self.dev_idx.copy_(torch.from_numpy(np.asarray(idx, np.int64)))
            self.dev_w.copy_(torch.from_numpy(np.asarray(w, np.float32)))
            return blend_tables(self.tables, self.dev_idx, self.dev_w, self.out)
        self.done.synchronize()  # the previous replay has read the host arrays
        self._hidx[:] = idx
        self._hw[:] = w
        self.graph.replay()
        self.done.record()
        return self.out
