"""The motion a flow teacher stores: flows between sorted neighbours (1-D) or per-frame local linear motion
models fitted to flows towards nearby frames (n-D), each with a per-voxel reliability.

See :mod:`hyperinr_core.train.flow` for how they are used.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch
from torch import Tensor

from hyperinr_core.model.param_space import EXACT, offset, param_tree, wrap
from hyperinr_core.train.flow_estimate import FlowConfig, estimate_flow
from hyperinr_core.train.flow_ops import gaussian_blur, length, warp, warp_cubic

__all__ = [
    "FlowCache",
    "consistency",
    "motion_blend",
    "fit_pair_flows",
    "validation_gates",
    "fit_motion_models",
    "flow_neighbours",
]



def consistency(fwd: Tensor, bwd: Tensor, cfg: FlowConfig) -> Tensor:
    """Per-voxel reliability in [0, 1] of ``fwd`` from forward-backward consistency.

    Args:
        fwd: ``(B, d, *S)`` flows a -> b; bwd: ``(B, d, *S)`` flows b -> a (voxels).
        cfg: ``consistency_abs`` and ``consistency_rel`` set the tolerated round-trip mismatch.

    Returns:
        ``(B, 1, *S)`` on ``a``'s grid: 1 where ``fwd(x) + bwd(x + fwd(x))`` stays within the tolerance, 0
        beyond twice the tolerance (occlusions, failed matches), smoothed to avoid seams in the blend.
    """
    back = warp(bwd, fwd)
    mismatch = length(fwd + back)
    tol = cfg.consistency_abs + cfg.consistency_rel * (length(fwd) + length(back))
    return gaussian_blur((2.0 - mismatch / tol).clamp(0.0, 1.0), 1.0)


def motion_blend(
    frames: Tensor,
    coef: Tensor | None,
    disp: Tensor,
    rel: Tensor,
    w: Tensor,
    fixed_point: int,
    gate: Tensor | None = None,
) -> Tensor:
    """Move K frames by their displacements and blend them; each falls back to itself where unreliable.

    Args:
        frames: ``(K, C, *S)``; coef: their ``(K, C, *(S + 2))`` spline coefficients, or ``None`` (linear).
        disp: ``(K, d, *S)`` forward displacements of each frame towards the query, voxels.
        rel: ``(K, 1, *S)`` reliability of each displacement on its frame's grid.
        w: ``(K,)`` LERP weights (sum 1).
        fixed_point: iterations inverting the forward displacements.
        gate: optional ``(1, *S)`` extra trust in motion on the output grid (validation).

    Returns:
        ``(C, *S)``: ``sum_k w_k (v_k moved_k + (1 - v_k) frame_k)`` with ``v_k`` the reliability where
        frame k's content comes from: LERP exactly where motion is zero or untrusted, whatever the other
        neighbours do. With cubic resampling clamped to the frames' value range (splines overshoot next to
        sharp edges).
    """
    # Backward warping needs, per output voxel y, the source s with s + D(s) = y: fixed-point iteration.
    back = -disp
    for _ in range(fixed_point):
        back = -warp(disp, back)
    v = warp(rel, back)
    if gate is not None:
        v = v * gate
    if coef is not None:  # one frame at a time bounds the memory of the 2^d fetches
        moved = torch.cat([warp_cubic(coef[k : k + 1], back[k : k + 1]) for k in range(len(coef))])
    else:
        moved = warp(frames, back)
    wt = w.to(frames.dtype).view(-1, *[1] * (frames.dim() - 1))
    out = (wt * frames).sum(0) + (wt * v * (moved - frames)).sum(0)
    if coef is None:  # linear resampling and convex blends stay inside the frames' range by themselves
        return out
    return out.clamp(float(frames.min()), float(frames.max()))


def _storage(cfg: FlowConfig) -> torch.dtype:
    return torch.float16 if cfg.store_half else torch.float32


class FlowCache:
    """Flows between frames kept from one flow teacher's fit for the next, up to ``max_bytes``.

    ``hyperinr train --teacher auto`` fits a flow teacher to the frames it fits on, then the final one to all
    training frames; in n-D most pairs of the first recur in the second. Frames are named by ``keys`` the
    caller gives (indices into the training frames), so a pair is ``(key_a, key_b)``; flows of one
    :class:`~hyperinr_core.train.flow_estimate.FlowConfig` only (another one empties the cache). Once the
    bound is reached new flows are not kept.
    """

    def __init__(self, max_bytes: int = 1 << 30):
        self.max_bytes = int(max_bytes)
        self.nbytes = 0
        self.hits = 0
        self._flows: dict[tuple[int, int], Tensor] = {}
        self._cfg: FlowConfig | None = None

    def __len__(self) -> int:
        return len(self._flows)

    def bind(self, cfg: FlowConfig) -> None:
        """Use the cache for flows estimated with ``cfg``; a different config drops what it holds."""
        if self._cfg is not None and self._cfg != cfg:
            self._flows.clear()
            self.nbytes = 0
        self._cfg = cfg

    def get(self, key: tuple[int, int]) -> Tensor | None:
        flow = self._flows.get(key)
        self.hits += flow is not None
        return flow

    def put(self, key: tuple[int, int], flow: Tensor) -> None:
        size = flow.numel() * flow.element_size()
        if key not in self._flows and self.nbytes + size <= self.max_bytes:
            self._flows[key] = flow
            self.nbytes += size


def _flows(
    frames: Tensor,
    pairs: list[tuple[int, int]],
    cfg: FlowConfig,
    bar,
    cache: FlowCache | None = None,
    keys: np.ndarray | None = None,
) -> Iterable[tuple[tuple[int, int], Tensor]]:
    """``(pair, flow (d, *S))`` for directed ``pairs`` (a, b) of frame indices: those ``cache`` holds
    (under the frames' ``keys``) first, then the rest estimated ``cfg.batch`` at a time (and offered to
    the cache)."""
    key = None
    if cache is not None and keys is not None:
        cache.bind(cfg)
        key = lambda p: (int(keys[p[0]]), int(keys[p[1]]))  # noqa: E731
    todo = []
    for pair in pairs:
        flow = cache.get(key(pair)) if key is not None else None
        if flow is None:
            todo.append(pair)
            continue
        if bar is not None:
            bar.update(1)
        yield pair, flow
    for start in range(0, len(todo), cfg.batch):
        chunk = todo[start : start + cfg.batch]
        a = frames[[p[0] for p in chunk]]
        b = frames[[p[1] for p in chunk]]
        flows = estimate_flow(a, b, cfg)
        if bar is not None:
            bar.update(len(chunk))
        for pair, flow in zip(chunk, flows, strict=True):
            if key is not None:
                cache.put(key(pair), flow.to(_storage(cfg), copy=True))  # not a view of the batch
            yield pair, flow


def _bar(total: int, progress: bool, what: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=what, unit="flow", disable=not progress)


def fit_pair_flows(
    frames: Tensor,
    cfg: FlowConfig,
    progress: bool = False,
    wrap: bool = False,
    cache: FlowCache | None = None,
    keys: np.ndarray | None = None,
) -> tuple[Tensor, Tensor]:
    """1-D: flows between consecutive frames (sorted by parameter) in both directions.

    Args:
        frames: ``(N, C, *S)`` frames sorted by their parameter.
        wrap: the parameter is periodic: the last frame and the first are neighbours too (pair ``N-1``).
        cache, keys: flows already estimated, and the frames' names in it (:class:`FlowCache`).

    Returns:
        ``motion (P, 2, d, *S)``, ``P = N-1`` (``N`` with ``wrap``): ``[i, 0]`` = F(i -> i+1),
        ``[i, 1]`` = F(i+1 -> i) (``i+1`` taken modulo N), voxels; ``reliability (P, 2, 1, *S)`` of each on
        its source frame's grid.
    """
    n, nd, size = len(frames), frames.dim() - 2, tuple(frames.shape[2:])
    m = n if wrap and n > 1 else max(n - 1, 0)
    motion = torch.zeros(m, 2, nd, *size, device=frames.device, dtype=_storage(cfg))
    rel = torch.zeros(m, 2, 1, *size, device=frames.device, dtype=_storage(cfg))
    pairs = [p for i in range(m) for p in ((i, (i + 1) % n), ((i + 1) % n, i))]
    slot = {p: divmod(k, 2) for k, p in enumerate(pairs)}
    with _bar(len(pairs), progress, "flow teacher") as bar:
        for pair, flow in _flows(frames, pairs, cfg, bar, cache, keys):
            motion[slot[pair]] = flow.to(motion.dtype)
    for i in range(m):
        fb = motion[i].float()
        rel[i] = consistency(fb, fb.flip(0), cfg).to(rel.dtype)
    return motion, rel


def validation_gates(
    frames: Tensor, coef: Tensor | None, u: np.ndarray, motion: Tensor, cfg: FlowConfig
) -> Tensor:
    """1-D: where motion-compensated interpolation beats the cross-fade, measured on the training frames.

    Each interior frame ``i`` is predicted from frames ``i-1`` and ``i+1`` by both the flow blend and LERP.
    The flows between ``i-1`` and ``i+1`` are the composed flows through frame ``i``: free, and they leave
    out flow-estimation errors at twice the spacing (forward-backward consistency covers those) to measure
    what motion compensation itself gains or loses here (resampling fine detail, intensity changes that
    are no motion). The gate is ``e_lerp^p / (e_lerp^p + e_flow^p)`` (``p = cfg.gate_power``) of locally
    averaged squared errors: near 1 where moving the frames explains them, near 0 where it does worse. End
    frames take their neighbour's gate.

    Args:
        frames: ``(N, C, *S)`` sorted by ``u (N,)``, N >= 3; coef: spline coefficients or ``None``.
        motion: ``(N-1, 2, d, *S)`` flows between neighbours (:func:`fit_pair_flows`).

    Returns:
        ``(N, 1, *S)`` gates in [0, 1] on the frames' grid.
    """
    n = len(frames)
    gates = torch.ones(n, 1, *frames.shape[2:], device=frames.device, dtype=_storage(cfg))
    tiny = 1e-10
    for i in range(1, n - 1):
        f1, f2 = motion[i - 1, 0].float()[None], motion[i, 0].float()[None]  # i-1 -> i -> i+1
        b1, b2 = motion[i, 1].float()[None], motion[i - 1, 1].float()[None]  # i+1 -> i -> i-1
        fwd = f1 + warp(f2, f1)
        bwd = b1 + warp(b2, b1)
        a = float((u[i] - u[i - 1]) / max(u[i + 1] - u[i - 1], 1e-12))
        fb = torch.cat([fwd, bwd])
        rel = consistency(fb, fb.flip(0), cfg)
        disp = torch.cat([a * fwd, (1.0 - a) * bwd])
        w = torch.tensor([1.0 - a, a], device=frames.device)
        sel = [i - 1, i + 1]
        pred = motion_blend(frames[sel], None if coef is None else coef[sel], disp, rel, w, cfg.fixed_point)
        lerp = (1.0 - a) * frames[i - 1] + a * frames[i + 1]
        e_flow = gaussian_blur(((pred - frames[i]) ** 2).sum(0, keepdim=True)[None], cfg.gate_sigma)[0]
        e_lerp = gaussian_blur(((lerp - frames[i]) ** 2).sum(0, keepdim=True)[None], cfg.gate_sigma)[0]
        e_flow, e_lerp = (e_flow + tiny) ** cfg.gate_power, (e_lerp + tiny) ** cfg.gate_power
        gates[i] = (e_lerp / (e_lerp + e_flow)).to(gates.dtype)
    gates[0], gates[-1] = gates[1], gates[-2]
    return gates


def flow_neighbours(u: np.ndarray, m: int, periodic=None) -> list[np.ndarray]:
    """For each of the ``N`` points ``u (N, D)``, its ``m`` nearest others (duplicates of it excluded;
    distances wrap on the ``periodic`` dimensions)."""
    n = len(u)
    m = min(m, n - 1)
    if m <= 0:
        return [np.zeros(0, np.int64) for _ in range(n)]
    tree = param_tree(u, periodic)
    uq = wrap(u, periodic)
    out = []
    for j in range(n):
        k = min(n, m + 1)
        while True:
            dist, idx = tree.query(uq[j], k=k)
            keep = idx[(idx != j) & (dist > EXACT)]
            if len(keep) >= m or k == n:
                break
            k = min(n, 2 * k)
        out.append(np.asarray(keep[:m], np.int64))
    return out


def _fit_jacobian(flows: Tensor, back: Tensor, du: np.ndarray, cfg: FlowConfig) -> tuple[Tensor, Tensor]:
    """Weighted least-squares ``J`` with ``flows[m] ≈ J du[m]`` per voxel, and its reliability.

    Args:
        flows: ``(M, d, *S)`` flows from the frame to its neighbours; back: ``(M, d, *S)`` the reverse flows.
        du: ``(M, D)`` parameter offsets of the neighbours.

    Returns:
        ``J (d, D, *S)`` and ``reliability (1, *S)``.
    """
    m, nd = flows.shape[:2]
    size = flows.shape[2:]
    dim = du.shape[1]
    ones = [1] * len(size)
    v = consistency(flows, back, cfg)  # (M, 1, *S)
    dut = torch.as_tensor(du, dtype=flows.dtype, device=flows.device)
    inv_len2 = 1.0 / (dut * dut).sum(1)
    # Weights 1/|du|^2 fit slopes, so near neighbours (small linearization error) count as much as far ones;
    # inconsistent flows drop out voxel by voxel.
    omega = v * inv_len2.view(m, 1, *ones)
    outer = dut[:, :, None] * dut[:, None, :]  # (M, D, D)
    gram = (omega.unsqueeze(1) * outer.view(m, dim, dim, *ones)).sum(0)  # (D, D, *S)
    eye = torch.eye(dim, device=flows.device, dtype=flows.dtype).view(dim, dim, *ones)
    # The ridge pulls J towards zero motion (= LERP) where few consistent neighbours constrain it.
    gram = gram + (cfg.ridge * m / dim) * eye
    rhs = (omega.unsqueeze(2) * flows.unsqueeze(2) * dut.view(m, 1, dim, *ones)).sum(0)  # (d, D, *S)
    ginv = torch.linalg.inv(gram.movedim(0, -1).movedim(0, -1)).movedim(-1, 0).movedim(-1, 0)
    jac = (rhs.unsqueeze(2) * ginv.unsqueeze(0)).sum(1)  # (d, D, *S)
    pred = (jac.unsqueeze(0) * dut.view(m, 1, dim, *ones)).sum(2)  # (M, d, *S)
    err = length(flows - pred)
    tol = cfg.consistency_abs + cfg.consistency_rel * length(flows)
    explained = (2.0 - err / tol).clamp(0.0, 1.0)
    near = torch.sqrt(inv_len2).view(m, 1, *ones)
    rel = (near * v * explained).sum(0) / near.sum(0)
    return jac, gaussian_blur(rel[None], 1.0)[0]


def fit_motion_models(
    frames: Tensor,
    u: np.ndarray,
    cfg: FlowConfig,
    progress: bool = False,
    periodic=None,
    cache: FlowCache | None = None,
    keys: np.ndarray | None = None,
) -> tuple[Tensor, Tensor]:
    """n-D: per training frame, a per-voxel Jacobian of its motion with respect to the parameters.

    Flows to the ``M`` nearest training frames (``cfg.flow_neighbours``, default ``2 D + 2``) and back are
    estimated once per unordered pair; a pair's flows are dropped as soon as both its frames are fitted.

    Args:
        frames: ``(N, C, *S)``; u: ``(N, D)`` normalized parameters.
        periodic: D flags, parameters that wrap around (neighbours and offsets across the wrap).
        cache, keys: flows already estimated, and the frames' names in it (:class:`FlowCache`).

    Returns:
        ``J (N, d, D, *S)`` (voxels per unit normalized parameter), ``reliability (N, 1, *S)``.
    """
    n, dim = u.shape
    nd, size = frames.dim() - 2, tuple(frames.shape[2:])
    nbrs = flow_neighbours(u, cfg.flow_neighbours or 2 * dim + 2, periodic)
    jac = torch.zeros(n, nd, dim, *size, device=frames.device, dtype=_storage(cfg))
    rel = torch.zeros(n, 1, *size, device=frames.device, dtype=_storage(cfg))
    users: dict[tuple[int, int], set[int]] = {}
    for j in range(n):
        for m in nbrs[j]:
            for pair in ((j, int(m)), (int(m), j)):
                users.setdefault(pair, set()).add(j)
    # Visit frames in lexicographic parameter order so pairs are reused soon after they are computed.
    order = np.lexsort(u.T[::-1])
    held: dict[tuple[int, int], Tensor] = {}
    with _bar(len(users), progress, "flow teacher") as bar:
        for j in order:
            j = int(j)
            if len(nbrs[j]) == 0:
                continue
            todo = [p for m in nbrs[j] for p in ((j, int(m)), (int(m), j)) if p not in held]
            for pair, flow in _flows(frames, todo, cfg, bar, cache, keys):
                held[pair] = flow
            fwd = torch.stack([held[(j, int(m))] for m in nbrs[j]])
            bwd = torch.stack([held[(int(m), j)] for m in nbrs[j]])
            jj, rr = _fit_jacobian(fwd.float(), bwd.float(), offset(u[nbrs[j]], u[j], periodic), cfg)
            jac[j], rel[j] = jj.to(jac.dtype), rr.to(rel.dtype)
            for pair in [p for m in nbrs[j] for p in ((j, int(m)), (int(m), j))]:
                users[pair].discard(j)
                if not users[pair]:
                    held.pop(pair, None)
    return jac, rel
