"""Teachers: anything that answers f(theta, x) on the frame grid for the distillation set.

A teacher is built from the *training* frames only and predicts whole frames at normalized parameters
``u`` in [0, 1]^D, as normalized values (data mapped by the field's value range to [0, 1]), on the
training frame grid. Distillation samples a teacher between the training parameters; at the training
parameters the ground truth itself is used (:mod:`hyperinr_core.train.targets`).

Kinds (``hyperinr train --teacher``):
- ``flow``: motion-compensated interpolation of the training frames (:mod:`hyperinr_core.train.flow`);
- ``lerp``: the frames' own interpolation (linear in 1-D, inverse-distance weights in n-D), the baseline
  every other teacher has to beat;
- ``coordnet``: the paper's CoordNet, trained on the training frames;
- ``hashinr``: the HashINR baseline, trained on the training frames;
- ``none``: no teacher: the HyperINR is trained on the training frames alone (the paper's ablation).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

import numpy as np
from scipy.spatial import KDTree

__all__ = ["Teacher", "LerpTeacher", "ModelTeacher", "TEACHER_KINDS", "blend_weights"]

TEACHER_KINDS = ("flow", "lerp", "coordnet", "hashinr", "none")
EXACT = 1e-9


@runtime_checkable
class Teacher(Protocol):
    """What the distillation set needs of a teacher.

    Attributes:
        kind: a short name ("flow", "coordnet", "hashinr", "lerp").
        frame_shape: (Z, Y, X) volumes or (H, W, C) images.
    """

    kind: str
    frame_shape: tuple[int, ...]

    def predict(self, u: np.ndarray) -> np.ndarray:
        """The frame at normalized parameters ``u (D,)``: ``frame_shape`` float32, normalized values."""
        ...


def blend_weights(
    params_u: np.ndarray, u: np.ndarray, k: int = 8, tree: KDTree | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Indices and weights (summing to 1) with which LERP blends training frames at ``u (D,)``.

    1-D: the bracketing pair, linear, clamped to the end frames outside the range. n-D: the ``k`` nearest
    by Euclidean distance, inverse-distance weights (p = 1). An exact hit returns that frame alone.
    """
    p = np.asarray(params_u, np.float64)
    u = np.asarray(u, np.float64).reshape(-1)
    if p.shape[1] == 1:
        order = np.argsort(p[:, 0], kind="stable")
        pos = p[order, 0]
        if len(pos) == 1 or u[0] <= pos[0]:
            return order[:1], np.ones(1)
        if u[0] >= pos[-1]:
            return order[-1:], np.ones(1)
        hi = int(np.searchsorted(pos, u[0], side="right"))
        lo = hi - 1
        w1 = (u[0] - pos[lo]) / (pos[hi] - pos[lo])
        if w1 <= EXACT:
            return order[lo : lo + 1], np.ones(1)
        return order[[lo, hi]], np.array([1.0 - w1, w1])
    tree = tree if tree is not None else KDTree(p)
    kk = min(k, len(p))
    dist, idx = tree.query(u, k=kk)
    dist, idx = np.atleast_1d(dist), np.atleast_1d(idx)
    if dist[0] <= EXACT:
        return idx[:1], np.ones(1)
    w = 1.0 / dist
    return idx, w / w.sum()


class LerpTeacher:
    """The training frames' own interpolation, held in memory: exact at the training parameters.

    Args:
        frames: (N, *frame_shape) normalized training frames.
        params_u: (N, D) their normalized parameters.
        k: frames blended in n-D.
    """

    kind = "lerp"

    def __init__(self, frames: np.ndarray, params_u: np.ndarray, k: int = 8):
        self.frames = frames
        self.params_u = np.asarray(params_u, np.float64)
        self.frame_shape = tuple(frames.shape[1:])
        self.k = k
        self._tree = KDTree(self.params_u) if self.params_u.shape[1] > 1 else None

    def predict(self, u: np.ndarray) -> np.ndarray:
        idx, w = blend_weights(self.params_u, u, self.k, self._tree)
        out = np.zeros(self.frame_shape, np.float32)
        for i, wi in zip(idx, w, strict=True):  # K frames at most: a loop over frames, not voxels
            out += np.float32(wi) * self.frames[int(i)]
        return out


class ModelTeacher:
    """A trained network (CoordNet, HashINR) as a teacher: ``predict_grid(u, space_shape)``."""

    def __init__(
        self,
        kind: str,
        predict_grid: Callable[..., np.ndarray],
        frame_shape: tuple[int, ...],
        is_image: bool = False,
    ):
        self.kind = kind
        self.frame_shape = tuple(frame_shape)
        self._predict_grid = predict_grid
        self._space = self.frame_shape[:-1] if is_image else self.frame_shape

    def predict(self, u: np.ndarray) -> np.ndarray:
        return np.asarray(self._predict_grid(np.asarray(u), self._space), np.float32).reshape(
            self.frame_shape
        )
