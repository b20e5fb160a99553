"""LERP, the baseline every model is measured against: interpolation of the training frames themselves.

:class:`Lerp` blends frames of an open dataset: linear between the two bracketing frames in 1-D (clamped
outside the training range), inverse-distance weighting (p = 1, the K nearest, as HyperINR interpolates its
encoders) in n-D, periodic parameters wrapped (:func:`~hyperinr_core.model.param_space.lerp_weights`).
Exact at the training frames. The paper's other baseline, HashINR, is a model
(:mod:`hyperinr_core.model.hashinr`) trained like any other (:mod:`hyperinr_core.train.hashinr_train`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from hyperinr_core.model.field_info import FieldInfo
from hyperinr_core.model.param_space import lerp_weights, param_tree

__all__ = ["Lerp"]


# -- LERP ----------------------------------------------------------------------------------------------------
class Lerp:
    """Interpolate the training frames of an open dataset; ``predict(u)`` returns a frame in data units.

    Args:
        ds: an open :class:`~hyperinr_core.data.dataset.Dataset`; frames are read lazily (two per 1-D query).
        k_neighbours: frames blended in n-D.
    """

    def __init__(self, ds: Any, k_neighbours: int = 8):
        self.ds = ds
        self.train = ds.train_indices
        self.u = ds.normalized_params()[self.train]
        self.k = min(k_neighbours, len(self.train))
        self.periodic = FieldInfo.from_dataset(ds).periodic_mask
        self._tree = param_tree(self.u, self.periodic) if ds.dim > 1 else None

    def weights(self, u: Sequence[float] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Dataset frame indices and weights (summing to 1) blended at normalized parameters ``u (D,)``."""
        idx, w = lerp_weights(self.u, u, self.k, self._tree, self.periodic)
        return self.train[idx], w

    def predict(self, u: Sequence[float] | np.ndarray) -> np.ndarray:
        """The interpolated frame (data units, float32, the dataset's frame shape)."""
        idx, w = self.weights(u)
        out = np.zeros(self.ds.frame_shape, np.float64)
        for i, wi in zip(idx, w, strict=True):  # K frames at most: a loop over frames, not voxels
            out += wi * self.ds.frame(int(i))
        return out.astype(np.float32)
