"""The sampling helpers turn frames (dataset frames or distillation-set samples, normalized to [0, 1]) into
batches: ``u (B, D)`` normalized parameters, ``x (B, M, d)`` node-centred coordinates, ``y (B, M, C)``
targets. All randomness comes from one ``torch.Generator`` that is checkpointed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from hyperinr_core.errors import HyperINRError
from hyperinr_core.model.field_info import FieldInfo
from hyperinr_core.train.budget import DEFAULT_MEMORY_BUDGET


def node_coordinates(flat_index: Tensor, shape: Sequence[int]) -> Tensor:
    """Node-centred coordinates ``(M, d)`` as (x, y[, z]) of flat indices into a (Z, Y, X) / (H, W) grid."""
    coords = []
    rem = flat_index
    for n in reversed(shape):  # X (fastest) first
        coords.append((rem % n).float() / max(int(n) - 1, 1))
        rem = rem // n
    return torch.stack(coords, dim=-1)


class FrameSampler:
    """Random batches from a stack of frames with their normalized parameters.

    Frames are held in memory as float32 (normalized to [0, 1]) when they fit in ``memory_limit`` bytes;
    larger sets are streamed by :class:`~hyperinr_core.data.streaming.FramePools`: a pool of frames is redrawn
    every ``pool_steps`` batches from a generator seeded by the pool number (so streaming stays reproducible
    and resumable), and the next pool is read in the background while the current one serves batches.

    Under data-parallel training ``shard = (rank, world_size)``: every rank draws the global batch's indices
    from the same generator and returns its own part (:func:`~hyperinr_core.train.distributed.shard_batch`).

    Args:
        read_frames: ``indices -> (k, *frame_shape)`` float32 in data units (or already normalized).
        params_u: (S, D) normalized parameters of the frames.
        frame_shape: (Z, Y, X) volumes or (H, W, C) images.
        is_image: images have a channel axis and 2-D coordinates.
        value_range: (lo, hi) used to normalize what ``read_frames`` returns; (0, 1) when already normalized.
        memory_limit: bytes the loader may hold (frames in memory plus the one being read); None: no limit.
        pool_steps: batches per pool when streaming.
        prefetch: read the next pool in a background thread.
    """

    def __init__(
        self,
        read_frames: Callable[[np.ndarray], np.ndarray],
        params_u: np.ndarray,
        frame_shape: Sequence[int],
        is_image: bool,
        value_range: tuple[float, float] = (0.0, 1.0),
        device: torch.device | str = "cpu",
        memory_limit: int | None = DEFAULT_MEMORY_BUDGET,
        pool_steps: int = 200,
        seed: int = 0,
        prefetch: bool = True,
    ):
        from hyperinr_core.data.streaming import FramePools

        self.params_u = torch.as_tensor(np.asarray(params_u, dtype=np.float32))
        self.frame_shape = tuple(int(s) for s in frame_shape)
        self.is_image = is_image
        self.space_shape = self.frame_shape[:-1] if is_image else self.frame_shape
        self.n_channels = self.frame_shape[-1] if is_image else 1
        self.n_points = int(np.prod(self.space_shape))
        self.device = torch.device(device)
        self.seed = seed
        self.shard: tuple[int, int] = (0, 1)
        try:
            self.pools = FramePools(
                read_frames,
                len(self.params_u),
                self.frame_shape,
                memory_limit,
                pool_steps=pool_steps,
                seed=seed,
                value_range=value_range,
                prefetch=prefetch,
            )
        except ValueError as exc:
            raise HyperINRError(str(exc)) from None
        self.pool_size = self.pools.pool_size
        self.pool_steps = pool_steps
        self._pool_id: int | None = None
        self._pool_idx = np.arange(self.n_frames)
        self._values: Tensor | None = None
        if not self.pools.streaming:
            self._ensure_pool(0)

    @property
    def n_frames(self) -> int:
        return len(self.params_u)

    @property
    def streaming(self) -> bool:
        return self.pools.streaming

    def _ensure_pool(self, batch_number: int) -> None:
        pid = batch_number // self.pool_steps if self.pools.streaming else 0
        if pid != self._pool_id:
            idx, vals = self.pools.acquire(pid)
            self._values = None  # drop the previous pool's device copy first
            self._pool_idx = idx
            self._values = (
                torch.from_numpy(vals).view(len(idx), self.n_points, self.n_channels).to(self.device)
            )
            self._pool_id = pid

    def sample(
        self, gen: torch.Generator, n_frames: int, n_points: int, step: int = 0
    ) -> tuple[Tensor, Tensor, Tensor]:
        """``u (B, D)``, ``x (B, M, d)``, ``y (B, M, C)`` on the sampler's device; B frames drawn with
        replacement, M voxels (pixels) per frame uniformly at random. ``step`` picks the streaming pool.
        With a ``shard``, this rank's part of the batch (fewer frames or points)."""
        from hyperinr_core.train.distributed import shard_batch

        self._ensure_pool(step)
        k = len(self._pool_idx)
        rows = torch.randint(0, k, (n_frames,), generator=gen)
        flat = torch.randint(0, self.n_points, (n_frames, n_points), generator=gen)
        rows, flat = shard_batch(rows, flat, self.shard)
        b, m = flat.shape
        frame_ids = torch.from_numpy(self._pool_idx)[rows]
        u = self.params_u[frame_ids].to(self.device)
        x = node_coordinates(flat.reshape(-1), self.space_shape).view(b, m, -1).to(self.device)
        flat_d = flat.to(self.device)
        y = self._values[rows.to(self.device)[:, None], flat_d]  # (B, M, C)
        return u, x, y

    def close(self) -> None:
        """Stop the background reader (the sampler can no longer switch pools)."""
        self.pools.close()


def frame_sampler(
    ds: Any,
    device: torch.device,
    seed: int,
    memory_budget: int | None = DEFAULT_MEMORY_BUDGET,
    refresh_every: int = 200,
) -> FrameSampler:
    train = ds.train_indices
    return FrameSampler(
        lambda idx: ds.frames(train[idx]),
        ds.normalized_params()[train],
        ds.frame_shape,
        ds.is_image,
        FieldInfo.from_dataset(ds).value_range,
        device=device,
        seed=seed,
        memory_limit=memory_budget,
        pool_steps=refresh_every,
    )
