"""Distillation targets: the ground truth at the training parameters, the teacher in between.

The paper distils a HyperINR from teacher outputs alone, so the student can be no better than its teacher
even at the frames the teacher was fitted to. Here every batch mixes two sources:

- ground-truth frames at the training parameters (``gt_fraction`` of the frames of each batch), and
- teacher frames at parameters between the training parameters (the rest),

so the student reproduces the data where it exists and learns the teacher's motion in between. The
teacher frames are computed once and held in memory, in an order whose every prefix covers the parameter
range evenly, so a build cut short by its time bound still spans the whole range.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from torch import Tensor

from hyperinr_core.errors import HyperINRError
from hyperinr_core.model.param_space import offset, wrap
from hyperinr_core.model.positions import gaussian_kernel_positions, poisson_disk_positions, union_positions
from hyperinr_core.train.sampling import FrameSampler
from hyperinr_core.train.teachers import Teacher

__all__ = ["between_params", "coverage_order", "predict_frames", "MixedSampler"]


def between_params(train_u: np.ndarray, n: int, seed: int = 0, periodic=None) -> np.ndarray:
    """About ``n`` normalized parameters ``(S, D)`` between the training parameters, none on one.

    1-D: ``max(1, n // gaps)`` evenly spaced points inside every gap between consecutive training
    parameters. n-D: Poisson-disk samples (half) plus Gaussian kernels around the training parameters
    (half) (the paper's distillation layout), minus points within a small radius of a training parameter
    (distances wrap on the ``periodic`` dimensions, and points are wrapped into [0, 1)).
    """
    train_u = np.asarray(train_u, np.float64)
    if train_u.shape[1] == 1:
        pos = np.unique(train_u[:, 0])
        if len(pos) < 2:
            return np.zeros((0, 1))
        per = max(1, int(round(n / (len(pos) - 1))))
        frac = np.arange(1, per + 1) / (per + 1)
        pts = (pos[:-1, None] + frac[None, :] * np.diff(pos)[:, None]).reshape(-1, 1)
        return pts
    d = train_u.shape[1]
    pd = poisson_disk_positions(d, count=max(2, n // 2), seed=seed)
    per = max(1, (n - len(pd)) // max(len(train_u), 1))
    spacing = (1.0 / max(len(train_u), 1)) ** (1.0 / d)
    gk = gaussian_kernel_positions(train_u, per, 0.5 * spacing, seed=seed + 1)
    pts = union_positions(pd, gk)
    if periodic is not None and any(periodic):
        pts = wrap(pts, periodic)
    dist = np.min(np.linalg.norm(offset(pts[:, None, :], train_u[None, :, :], periodic), axis=-1), axis=1)
    return pts[dist > 0.05 * spacing]


def coverage_order(params_u: np.ndarray) -> np.ndarray:
    """A permutation of ``params_u (S, D)`` whose every prefix spreads over the set (farthest-point
    order), so that a time-bounded build that stops early still covers the parameter range."""
    p = np.asarray(params_u, np.float64)
    if len(p) == 0:
        return np.zeros(0, np.int64)
    order = [int(np.argmin(np.linalg.norm(p - p.mean(0), axis=1)))]
    dist = np.linalg.norm(p - p[order[0]], axis=1)
    for _ in range(len(p) - 1):
        j = int(np.argmax(dist))
        order.append(j)
        dist = np.minimum(dist, np.linalg.norm(p - p[j], axis=1))
    return np.asarray(order, np.int64)


def predict_frames(
    teacher: Teacher,
    params_u: np.ndarray,
    max_seconds: float | None = None,
    max_bytes: int | None = None,
    progress: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Teacher frames at ``params_u (S, D)`` in coverage order, within a time and a memory bound.

    Returns ``(u (S', D), frames (S', *frame_shape))`` with ``S' <= S``: the build stops once
    ``max_seconds`` have passed or the frames would exceed ``max_bytes``.
    """
    from tqdm.auto import tqdm

    order = coverage_order(params_u)
    frame_bytes = 4 * int(np.prod(teacher.frame_shape))
    limit = len(order) if max_bytes is None else min(len(order), max(1, max_bytes // frame_bytes))
    t0 = time.perf_counter()
    frames, us = [], []
    for j in tqdm(order[:limit], desc=f"{teacher.kind} teacher frames", unit="frame", disable=not progress):
        u = np.asarray(params_u[j], np.float64)
        frames.append(np.asarray(teacher.predict(u), np.float32).reshape(teacher.frame_shape))
        us.append(u)
        if max_seconds is not None and time.perf_counter() - t0 > max_seconds:
            break
    if not frames:
        return np.zeros((0, np.shape(params_u)[1])), np.zeros((0, *teacher.frame_shape), np.float32)
    return np.stack(us), np.stack(frames)


class MixedSampler:
    """Batches of ``round(B * gt_fraction)`` ground-truth frames and ``B - that`` teacher frames.

    Both halves draw voxels uniformly; the loss weighs every sample equally, so ``gt_fraction`` is the
    share of the loss carried by the data itself. Without teacher frames every frame is ground truth.
    Exposes ``shard`` like :class:`~hyperinr_core.train.loop.FrameSampler` (data-parallel training).
    """

    def __init__(self, gt: FrameSampler, teacher: FrameSampler | None, gt_fraction: float = 0.5):
        if not 0.0 <= gt_fraction <= 1.0:
            raise HyperINRError(f"the ground-truth fraction must lie in [0, 1], got {gt_fraction}")
        self.gt, self.teacher, self.gt_fraction = gt, teacher, gt_fraction
        self._shard = (0, 1)

    @property
    def shard(self) -> tuple[int, int]:
        return self._shard

    @shard.setter
    def shard(self, value: tuple[int, int]) -> None:
        self._shard = value
        for s in (self.gt, self.teacher):
            if s is not None and hasattr(s, "shard"):
                s.shard = value

    def split(self, n_frames: int) -> tuple[int, int]:
        """(ground-truth frames, teacher frames) of a batch of ``n_frames``."""
        if self.teacher is None:
            return n_frames, 0
        n_gt = int(round(n_frames * self.gt_fraction))
        if 0.0 < self.gt_fraction < 1.0 and n_frames >= 2:
            n_gt = min(max(n_gt, 1), n_frames - 1)  # both sources in every batch
        return n_gt, n_frames - n_gt

    def sample(self, gen: torch.Generator, n_frames: int, n_points: int, step: int = 0):
        n_gt, n_t = self.split(n_frames)
        parts: list[tuple[Tensor, Tensor, Tensor]] = []
        if n_gt:
            parts.append(self.gt.sample(gen, n_gt, n_points, step))
        if n_t:
            parts.append(self.teacher.sample(gen, n_t, n_points, step))
        if len(parts) == 1:
            return parts[0]
        return tuple(torch.cat(t, 0) for t in zip(*parts, strict=True))

    def close(self) -> None:
        for s in (self.gt, self.teacher):
            if hasattr(s, "close"):
                s.close()


def in_memory_sampler(frames: np.ndarray, params_u: np.ndarray, is_image: bool, device: Any, seed: int):
    """A :class:`FrameSampler` over normalized frames already in memory."""
    return FrameSampler(
        lambda idx: frames[np.asarray(idx)],
        params_u,
        frames.shape[1:],
        is_image,
        (0.0, 1.0),
        device=device,
        seed=seed,
        memory_limit=None,
        prefetch=False,
    )


__all__.append("in_memory_sampler")
