"""The flow teacher: motion-compensated interpolation of the training frames.

Linear interpolation of frames (LERP) cross-fades a moving feature into two half-strength copies; this
teacher moves the frames along dense displacement fields estimated between them
(:func:`~hyperinr_core.train.flow_estimate.estimate_flow`) and then blends them with LERP's weights.

- **1-D** (time): frames sorted by parameter, flows estimated between neighbours in both directions. A query
  at fraction ``a`` between frames ``i`` and ``i+1`` moves frame ``i`` forward by ``a F(i->i+1)`` and frame
  ``i+1`` back by ``(1-a) F(i+1->i)`` and blends them ``(1-a, a)``; outside the range it clamps.
- **n-D** (light directions, ...): each training frame ``j`` gets a per-voxel local linear motion model
  ``D_j(du) = J_j du`` (a ``d x D`` Jacobian per voxel) fitted by weighted least squares to the flows towards
  its nearest training neighbours. A query moves each of its K nearest frames by ``J_j (u - u_j)`` and
  blends them with the inverse-distance weights (p = 1) of :class:`~hyperinr_core.eval.baselines.Lerp`.

Both share one blend: with the per-voxel reliability ``v_j`` of neighbour ``j``'s motion (forward-backward
consistency of its flows, in 1-D times a validation gate; sampled where its content comes from) and the
LERP weights ``w``,

    out = sum_j w_j (v_j moved_j + (1 - v_j) frame_j),

so unreliable motion falls back voxel by voxel to the LERP cross-fade, zero motion *is* LERP, and a query at
a training parameter returns that frame exactly. Frames are moved by cubic B-spline resampling: linear
resampling blurs fine detail by more than motion compensation gains on well-resolved simulation data.

Why a per-voxel Jacobian in n-D: flows exist only between training frames, but a query needs each of its
K neighbours moved towards an arbitrary point; a local linear model per frame is the least-squares motion
that agrees with all its measured flows, costs one ``d x D`` matrix per voxel, and reduces to the 1-D rule
for D = 1 with one neighbour on each side.

Memory (float32; halve with ``store_half``): the frames twice (values and spline coefficients), plus in 1-D
``2 (N - 1)`` flows of ``d`` components, ``2 (N - 1)`` reliability maps and ``N`` gates; in n-D ``N``
Jacobians of ``d D`` components and ``N`` reliability maps. A 64^3 series of 20 frames: about 225 MB.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from hyperinr_core.errors import HyperINRError
from hyperinr_core.model.param_space import lerp_weights, offset, param_tree
from hyperinr_core.train.flow_estimate import FlowConfig
from hyperinr_core.train.flow_motion import (
    FlowCache,
    fit_motion_models,
    fit_pair_flows,
    motion_blend,
    validation_gates,
)
from hyperinr_core.train.flow_ops import spline_coefficients

__all__ = ["FlowCache", "FlowConfig", "FlowTeacher"]



def _as_channels(frames: np.ndarray, is_image: bool) -> tuple[np.ndarray, tuple[int, ...]]:
    """``(N, *frame_shape)`` -> ``(N, C, *S)`` channel-first float32, and the frame shape."""
    frames = np.asarray(frames)
    if frames.ndim != 4:
        raise HyperINRError(
            "flow teacher: frames must be (N, Z, Y, X) volumes or (N, H, W, C) images, "
            f"got shape {frames.shape}"
        )
    shape = tuple(int(n) for n in frames.shape[1:])
    if is_image:
        x = np.moveaxis(frames, -1, 1)
    else:
        x = frames[:, None]
    if min(x.shape[2:]) < 2:
        raise HyperINRError(f"flow teacher: every spatial axis needs 2 or more samples, got frames {shape}")
    return np.ascontiguousarray(x, dtype=np.float32), shape


class FlowTeacher:
    """Motion-compensated interpolation of training frames (the Teacher protocol, ``kind = "flow"``).

    Build it with :meth:`fit`. Attributes:
        kind: ``"flow"``.
        frame_shape: (Z, Y, X) volumes or (H, W, C) images.
        params_u: ``(N, D)`` normalized parameters of the training frames (1-D: sorted).
        order: ``(N,)`` for each of them, its index in the frames handed to :meth:`fit`.
        cfg: the :class:`FlowConfig` used.
        device: torch device of the frames, flows and motion models.
    """

    kind = "flow"

    def __init__(
        self,
        frames: Tensor,
        params_u: np.ndarray,
        motion: Tensor,
        reliability: Tensor,
        frame_shape: tuple[int, ...],
        is_image: bool,
        cfg: FlowConfig,
        coef: Tensor | None = None,
        gate: Tensor | None = None,
        order: np.ndarray | None = None,
        periodic=None,
    ):
        """Use :meth:`fit`. ``frames (N, C, *S)``; 1-D: ``motion (N-1, 2, d, *S)`` forward/backward flows
        between sorted neighbours, ``reliability (N-1, 2, 1, *S)``; n-D: ``motion (N, d, D, *S)`` Jacobians,
        ``reliability (N, 1, *S)``; ``coef (N, C, *(S + 2))`` cubic B-spline coefficients of the frames
        (``None``: frames are warped linearly); ``gate (N, 1, *S)`` 1-D validation gates (or ``None``)."""
        self.coef = coef
        self.gate = gate
        self.order = np.arange(len(params_u)) if order is None else np.asarray(order)
        self.frames = frames
        self.params_u = np.asarray(params_u, np.float64)
        self.motion = motion
        self.reliability = reliability
        self.frame_shape = tuple(frame_shape)
        self.is_image = is_image
        self.cfg = cfg
        self.device = frames.device
        self.dim = self.params_u.shape[1]
        self.k = min(cfg.k_neighbours, len(self.params_u))
        # 1-D flows join sorted neighbours, and the last frame with the first where the fit made that pair
        # (a periodic parameter: one motion model per frame, not per gap)
        wraps = self.dim == 1 and len(params_u) > 1 and len(motion) == len(params_u)
        self.periodic = periodic if self.dim > 1 else ([True] if wraps else None)
        self._tree = param_tree(self.params_u, self.periodic) if self.dim > 1 else None

    # -- construction ----------------------------------------------------------------------------------------
    @classmethod
    def fit(
        cls,
        frames: np.ndarray,
        params_u: np.ndarray,
        cfg: FlowConfig | None = None,
        device: str | torch.device = "cpu",
        progress: bool = False,
        is_image: bool = False,
        periodic=None,
        cache: FlowCache | None = None,
        keys: np.ndarray | None = None,
    ) -> FlowTeacher:
        """Estimate every flow the teacher needs, up front.

        Args:
            frames: ``(N, Z, Y, X)`` volumes or ``(N, H, W, C)`` images (``is_image``), normalized float.
            params_u: ``(N, D)`` (or ``(N,)``) normalized parameters of the frames, in [0, 1].
            cfg: settings (defaults: :class:`FlowConfig`).
            device: torch device for the frames, the estimation and the predictions.
            progress: show a tqdm bar over the flows.
            is_image: frames are (H, W, C) images: 2-D flows, channels share one motion.
            periodic: D flags, parameters that wrap around (n-D: neighbours, offsets and weights wrap; 1-D:
                the last frame and the first are neighbours across the wrap).
            cache: flows kept from an earlier fit to some of the same frames, and where this fit's new ones
                go (:class:`FlowCache`); ``keys (N,)`` name the frames in it (default: no cache).
            keys: see ``cache``.

        Returns:
            The fitted teacher. 1-D costs ``2 (N - 1)`` flow estimates (``2 N`` for a periodic parameter); n-D about ``N M`` to ``2 N M`` with
            ``M = cfg.flow_neighbours``.
        """
        cfg = cfg or FlowConfig()
        x, shape = _as_channels(frames, is_image)
        u = np.asarray(params_u, np.float64)
        u = u[:, None] if u.ndim == 1 else u
        if u.ndim != 2 or len(u) != len(x) or len(u) == 0:
            raise HyperINRError(
                f"flow teacher: params_u must be (N, D) with N = {len(x)} frames, "
                f"got shape {np.shape(params_u)}"
            )
        if not np.all(np.isfinite(u)):
            raise HyperINRError("flow teacher: params_u contains NaN or infinite values")
        if not np.all(np.isfinite(x)):
            raise HyperINRError("flow teacher: frames contain NaN or infinite values")
        dev = torch.device(device)
        order = np.argsort(u[:, 0], kind="stable") if u.shape[1] == 1 else np.arange(len(u))
        u, x = u[order], x[order]
        if keys is not None:
            keys = np.asarray(keys, np.int64).reshape(-1)
            if len(keys) != len(u):
                raise HyperINRError(f"flow teacher: {len(keys)} frame keys for {len(u)} frames")
            keys = keys[order]
        tx = torch.from_numpy(x).to(dev)
        coef = torch.from_numpy(spline_coefficients(x)).to(dev) if cfg.interpolation == "cubic" else None
        gate = None
        if u.shape[1] == 1:
            # a periodic parameter whose frames all lie inside one turn: the last frame flows to the first
            wrap = bool(periodic is not None and periodic[0] and len(u) > 2 and u[-1, 0] < 1.0 - 1e-9)
            motion, rel = fit_pair_flows(tx, cfg, progress, wrap=wrap, cache=cache, keys=keys)
            if cfg.validate and len(u) >= 3:
                gate = validation_gates(tx, coef, u[:, 0], motion, cfg)
        else:
            motion, rel = fit_motion_models(tx, u, cfg, progress, periodic, cache, keys)
        return cls(tx, u, motion, rel, shape, is_image, cfg, coef, gate, order, periodic)

    # -- prediction ------------------------------------------------------------------------------------------
    def weights(self, u: Sequence[float] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Training frame indices (into :attr:`params_u`; :attr:`order` maps them to the frames handed to
        :meth:`fit`) and LERP weights (summing to 1) at ``u (D,)``.

        The same rule as :class:`~hyperinr_core.eval.baselines.Lerp`: 1-D bracketing clamped at the ends (or,
        periodic, across the wrap), n-D
        inverse distance (p = 1) over the K nearest; an exact hit is that frame alone.
        """
        u = np.asarray(u, np.float64).reshape(-1)
        if u.shape != (self.dim,) or not np.all(np.isfinite(u)):
            raise HyperINRError(f"flow teacher: expected {self.dim} finite parameter(s), got {u.tolist()}")
        return lerp_weights(self.params_u, u, self.k, self._tree, self.periodic)

    def _displacements(self, u: np.ndarray, idx: np.ndarray, w: np.ndarray) -> tuple[Tensor, Tensor]:
        """Forward displacements ``(K, d, *S)`` of the neighbours towards ``u`` and their reliabilities."""
        if self._tree is None:
            lo, a = int(idx[0]), float(w[1])
            disp = torch.stack([a * self.motion[lo, 0].float(), (1.0 - a) * self.motion[lo, 1].float()])
            return disp, self.reliability[lo].float()
        du = torch.as_tensor(
            offset(u[None, :], self.params_u[idx], self.periodic), dtype=torch.float32, device=self.device
        )
        jac = self.motion[torch.as_tensor(idx, device=self.device)].float()  # (K, d, D, *S)
        disp = (jac * du.view(*du.shape[:1], 1, du.shape[1], *[1] * (jac.dim() - 3))).sum(2)
        # A linear model extrapolated far from its frame must not fling content across the domain.
        size = disp.shape[2:]
        limit = [self.cfg.max_displacement * (n - 1) for n in size]
        lim = torch.tensor(limit, device=self.device).view(1, -1, *[1] * len(size))
        disp = torch.maximum(torch.minimum(disp, lim), -lim)
        return disp, self.reliability[torch.as_tensor(idx, device=self.device)].float()

    @torch.no_grad()
    def predict_tensor(self, u: Sequence[float] | np.ndarray) -> Tensor:
        """The frame at ``u (D,)`` as a float32 tensor of ``frame_shape`` on :attr:`device`."""
        u = np.asarray(u, np.float64).reshape(-1)
        idx, w = self.weights(u)
        if len(idx) == 1:
            return self._to_frame(self.frames[int(idx[0])])
        sel = torch.as_tensor(idx, device=self.device)
        disp, rel = self._displacements(u, idx, w)
        wt = torch.as_tensor(w, dtype=torch.float32, device=self.device)
        gate = None
        if self.gate is not None and self._tree is None:
            gate = wt[0] * self.gate[int(idx[0])].float() + wt[1] * self.gate[int(idx[1])].float()
        coef = self.coef[sel] if self.coef is not None else None
        return self._to_frame(motion_blend(self.frames[sel], coef, disp, rel, wt, self.cfg.fixed_point, gate))

    def predict(self, u: Sequence[float] | np.ndarray) -> np.ndarray:
        """The frame at normalized parameters ``u (D,)``: ``frame_shape`` float32, normalized values."""
        return self.predict_tensor(u).cpu().numpy()

    def _to_frame(self, x: Tensor) -> Tensor:
        """``(C, *S)`` -> ``frame_shape``."""
        return (x.movedim(0, -1) if self.is_image else x[0]).contiguous().float()
