"""Shadows: the three modes of the tracer and shadow-volume generation (DGS training data).

- ``none``: ``T_light = 1``.
- ``rays``: a secondary ray toward the light from every contributing sample (the reference, O(n^2) per ray).
- ``field``: one lookup per sample in a shadow field: a shadow INR generated for the light direction
  (:meth:`renderer.scene.Scene.shadow_field`), or a :class:`~renderer.fields.GridField` over a volume made by
  :func:`shadow_volume`.

:func:`shadow_volume` computes transmittance toward the light at the nodes of a grid with the very code of
mode ``rays`` (:meth:`renderer.tracer.Marcher.transmittance`), midpoint-sampled (``u = 0.5``) so the volume is
deterministic.

Light parameters of shadow (DGS) models and datasets are named :data:`LIGHT_PARAM_NAMES`, in degrees, with the
convention of :mod:`renderer.light`.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from .fields import Field
from .macrocells import MacroCells
from .tracer import SHADOW_MODES, Marcher
from .transfer import TransferFunction

__all__ = [
    "check_shadow_model",
    "SHADOW_MODES",
    "LIGHT_PARAM_NAMES",
    "LIGHT_PARAM_LO",
    "LIGHT_PARAM_HI",
    "shadow_volume",
]

LIGHT_PARAM_NAMES = ["azimuth", "polar"]
LIGHT_PARAM_LO = [0.0, 0.0]
LIGHT_PARAM_HI = [360.0, 180.0]


@torch.no_grad()
def shadow_volume(
    field: Field,
    tf: TransferFunction,
    light_dir,
    resolution: int | tuple[int, int, int],
    step: float | None = None,
    macro_cells: bool = True,
    chunk: int = 1 << 20,
    batch: int = 1 << 18,
    termination: float = 1e-4,
    jitter_seed: int | None = None,
    progress: bool = False,
) -> Tensor:
    """Transmittance toward the light at the nodes of a ``(Z, Y, X)`` grid (node-centred, [0, 1]^3).

    Args:
        light_dir: (3,) vector toward the light (need not be unit).
        step: secondary-ray step (default ``tf.ref_step``).
        jitter_seed: None for midpoint sampling; an int jitters each ray's start like mode ``rays`` does.
    Returns:
        ``(Z, Y, X)`` float32 in [0, 1] on the field's device.
    """
    from hyperinr_core.model.inr import grid_coordinates

    from .sampling import STREAM_SHADOW, hash_uniform

    shape = (int(resolution),) * 3 if np.isscalar(resolution) else tuple(int(r) for r in resolution)
    d = np.asarray(light_dir, dtype=np.float64).reshape(3)
    d = torch.tensor(d / np.linalg.norm(d), dtype=torch.float32, device=field.device)
    step = float(step or tf.ref_step)
    cells = None
    if macro_cells:
        cells = MacroCells(field)
        cells.refresh(tf)
    marcher = Marcher(field, tf, cells, batch=batch, termination=termination)
    x = grid_coordinates(shape, device=field.device)
    out = torch.empty(x.shape[0], device=field.device)
    starts = range(0, x.shape[0], chunk)
    if progress:
        from tqdm import tqdm

        starts = tqdm(starts, desc="shadow volume", unit="chunk", leave=False)
    for s in starts:
        xs = x[s : s + chunk]
        if jitter_seed is None:
            u = torch.full((xs.shape[0],), 0.5, device=field.device)
        else:
            idx = torch.arange(s, s + xs.shape[0], device=field.device)
            u = hash_uniform(jitter_seed, STREAM_SHADOW, idx)
        out[s : s + xs.shape[0]] = marcher.transmittance(xs, d, u, step)
    return out.view(shape)


def check_shadow_model(model, path=None) -> None:
    """Raise :class:`HyperINRError` (naming ``path`` when given) unless ``model`` is a shadow model: its
    parameters include the light's :data:`LIGHT_PARAM_NAMES`. Callers check at load time, before any work."""
    from hyperinr_core.errors import HyperINRError

    names = list(model.cfg.param_names)
    if not set(LIGHT_PARAM_NAMES) <= set(names):
        where = f"{path}: " if path is not None else ""
        raise HyperINRError(
            f"{where}not a shadow model: a shadow model's parameters include {', '.join(LIGHT_PARAM_NAMES)} "
            f"(the light), this one has {', '.join(names)}"
        )
