"""Teachers: anything that answers f(theta, x) on the frame grid for the distillation set.

A teacher is built from the *training* frames only and predicts whole frames at normalized parameters
``u`` in [0, 1]^D, as normalized values (data mapped by the field's value range to [0, 1]), on the
training frame grid. Distillation samples a teacher between the training parameters; at the training
parameters the ground truth itself is used (:mod:`hyperinr_core.train.targets`).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

__all__ = ["Teacher"]


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
