"""Tiny datasets for the training, distillation, baseline and evaluation tests (seconds, not minutes)."""

from __future__ import annotations

import numpy as np

from hyperinr_core.data.dataset_writer import write_dataset


def tiny_series(path, n_frames: int = 9, shape=(6, 7, 8), stride: int = 2, seed: int = 0) -> str:
    """A smooth moving blob in a (Z, Y, X) volume over t in [0, 2]; every ``stride``-th frame trains."""
    t = np.linspace(0.0, 2.0, n_frames)
    z, y, x = np.meshgrid(*[np.linspace(0, 1, s) for s in shape], indexing="ij")
    rng = np.random.default_rng(seed)
    frames = []
    for ti in t:
        c = 0.3 + 0.2 * ti
        frames.append(
            np.exp(-((x - c) ** 2 + (y - 0.5) ** 2 + (z - 0.5) ** 2) / 0.05) * 3.0
            + 1.0
            + 0.01 * rng.standard_normal(shape)
        )
    mask = np.arange(n_frames) % stride == 0
    write_dataset(path, "tsr", ["t"], [0.0], [2.0], t, np.stack(frames).astype(np.float32), train_mask=mask)
    return str(path)


def tiny_images(path, n: int = 6, shape=(8, 9, 3)) -> str:
    """2-parameter NVS-like images (H, W, C)."""
    rng = np.random.default_rng(1)
    params = rng.uniform(0, 1, (n, 2))
    h, w = np.meshgrid(np.linspace(0, 1, shape[0]), np.linspace(0, 1, shape[1]), indexing="ij")
    frames = [np.stack([np.sin(3 * h + p[0]), np.cos(2 * w + p[1]), h * w * p[0]], -1) for p in params]
    mask = np.arange(n) % 2 == 0
    write_dataset(
        path,
        "nvs",
        ["theta", "phi"],
        [0, 0],
        [1, 1],
        params,
        np.stack(frames).astype(np.float32),
        train_mask=mask,
    )
    return str(path)


def one_thread():
    """Generator for an autouse fixture: tiny tensors are fastest on one thread (no OpenMP waits on a
    shared machine); restores the previous setting afterwards."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
