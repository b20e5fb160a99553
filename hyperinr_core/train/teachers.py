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

from hyperinr_core.model.param_space import lerp_weights, param_tree

__all__ = ["Teacher", "LerpTeacher", "ModelTeacher", "TEACHER_KINDS", "blend_weights"]

TEACHER_KINDS = ("flow", "lerp", "coordnet", "hashinr", "none")


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
    params_u: np.ndarray, u: np.ndarray, k: int = 8, tree: KDTree | None = None, periodic=None
) -> tuple[np.ndarray, np.ndarray]:
    """Indices and weights (summing to 1) with which LERP blends training frames at ``u (D,)``
    (:func:`~hyperinr_core.model.param_space.lerp_weights`: bracketing pair in 1-D, IDW in n-D, periodic
    parameters wrapped)."""
    return lerp_weights(params_u, u, k, tree, periodic)


class LerpTeacher:
    """The training frames' own interpolation, held in memory: exact at the training parameters.

    Args:
        frames: (N, *frame_shape) normalized training frames.
        params_u: (N, D) their normalized parameters.
        k: frames blended in n-D.
        periodic: D flags, the parameters that wrap around.
    """

    kind = "lerp"

    def __init__(self, frames: np.ndarray, params_u: np.ndarray, k: int = 8, periodic=None):
        self.frames = frames
        self.params_u = np.asarray(params_u, np.float64)
        self.frame_shape = tuple(frames.shape[1:])
        self.k = k
        self.periodic = periodic
        self._tree = param_tree(self.params_u, periodic) if self.params_u.shape[1] > 1 else None

    def predict(self, u: np.ndarray) -> np.ndarray:
        idx, w = lerp_weights(self.params_u, u, self.k, self._tree, self.periodic)
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
