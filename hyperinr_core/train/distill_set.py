"""The distillation set: the teacher evaluated at sampled parameters, precomputed into a chunked HDF5 file or
generated on demand (paper, section 2.1 and Figure 4)."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
import torch

from hyperinr_core.errors import FileFormatError, HyperINRError
from hyperinr_core.fileio import atomic_path
from hyperinr_core.model.coordnet import CoordNet
from hyperinr_core.train.sampling import node_coordinates

DSET_FORMAT = "hyperinr-distillation-set"
DSET_VERSION = 1


def distillation_params(
    n_param_dims: int, n: int, train_u: np.ndarray | None = None, seed: int = 0
) -> np.ndarray:
    """Parameters ``(S, D)`` in [0, 1]^D at which the teacher is sampled.

    1-D: ``n`` uniformly spaced values (ends included). n-D: Poisson-disk samples (about half of ``n``)
    plus Gaussian kernels around the training parameters (the rest), so the set leans towards the data the
    teacher actually saw (paper, Figure 4).
    """
    from hyperinr_core.model.positions import (
        gaussian_kernel_positions,
        poisson_disk_positions,
        uniform_positions,
        union_positions,
    )

    if n < 2:
        raise HyperINRError(f"the distillation set needs at least 2 samples, got {n}")
    if n_param_dims == 1:
        return uniform_positions(n)
    pd = poisson_disk_positions(n_param_dims, count=max(2, n // 2), seed=seed)
    if train_u is None or len(train_u) == 0:
        return pd
    per = max(1, (n - len(pd)) // len(train_u))
    sigma = 0.5 * (1.0 / max(len(pd), 1)) ** (1.0 / n_param_dims)
    gk = gaussian_kernel_positions(train_u, per, sigma, seed=seed + 1)
    return union_positions(pd, gk)


def teacher_fingerprint(teacher: CoordNet) -> str:
    """SHA-256 over the teacher's config and weights: a distillation set belongs to exactly one teacher."""
    h = hashlib.sha256()
    kind, config, arrays = teacher.model_file()
    h.update(json.dumps(config, sort_keys=True).encode())
    for name in sorted(arrays):
        h.update(name.encode())
        h.update(np.ascontiguousarray(arrays[name], dtype=np.float32).tobytes())
    return h.hexdigest()


@dataclass
class DistillationSet:
    """An open distillation-set file: ``params (S, D)`` normalized, values read per sample (normalized)."""

    path: str
    params: np.ndarray
    frame_shape: tuple[int, ...]
    fingerprint: str
    _file: h5py.File | None = field(default=None, repr=False)

    def frames(self, idx: np.ndarray) -> np.ndarray:
        ds = self._file["values"]
        out = np.empty((len(idx),) + self.frame_shape, np.float32)
        for k, i in enumerate(np.asarray(idx)):
            try:
                out[k] = ds[int(i)]
            except OSError as exc:
                raise FileFormatError(self.path, f"/values[{int(i)}]: unreadable ({exc})") from None
        return out

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def build_distillation_set(
    teacher: CoordNet,
    params_u: np.ndarray,
    path: str | os.PathLike,
    frame_shape: tuple[int, ...],
    progress: bool = True,
) -> None:
    """Evaluate the teacher at every parameter of ``params_u (S, D)`` on the frame grid; write a chunked
    HDF5 file atomically (one chunk per sample, normalized float32 values)."""
    from tqdm.auto import tqdm

    info = teacher.info
    space = tuple(frame_shape[:-1]) if info.n_space_dims == 2 else tuple(frame_shape)
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["format"] = DSET_FORMAT
        f.attrs["version"] = DSET_VERSION
        f.attrs["teacher_fingerprint"] = teacher_fingerprint(teacher)
        f.attrs["frame_shape"] = np.asarray(frame_shape, np.int64)
        f.create_dataset("params", data=np.asarray(params_u, np.float64))
        values = f.create_dataset(
            "values",
            shape=(len(params_u),) + tuple(frame_shape),
            dtype=np.float32,
            chunks=(1,) + tuple(frame_shape),
        )
        teacher.eval()
        for i in tqdm(range(len(params_u)), desc="distillation set", unit="sample", disable=not progress):
            values[i] = teacher.predict_grid(params_u[i], space).reshape(frame_shape)


def open_distillation_set(
    path: str | os.PathLike,
    fingerprint: str | None = None,
    params_u: np.ndarray | None = None,
    frame_shape: tuple[int, ...] | None = None,
) -> DistillationSet:
    """Open a distillation set; with the expectations given, refuse one made by another teacher or setup."""
    path = os.fspath(path)
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise FileFormatError(path, f"not a readable HDF5 file (truncated or corrupt?): {exc}") from None
    try:
        if f.attrs.get("format") != DSET_FORMAT:
            raise FileFormatError(path, "not a distillation-set file")
        if int(f.attrs.get("version", -1)) != DSET_VERSION:
            raise FileFormatError(path, f"unsupported distillation-set version {f.attrs.get('version')!r}")
        fp = str(f.attrs["teacher_fingerprint"])
        shape = tuple(int(s) for s in f.attrs["frame_shape"])
        params = np.asarray(f["params"][()], np.float64)
        if f["values"].shape != (len(params),) + shape:
            raise FileFormatError(
                path, f"/values has shape {f['values'].shape}, expected {(len(params),) + shape}"
            )
        if fingerprint is not None and fp != fingerprint:
            raise FileFormatError(path, "was made from a different teacher; delete it or name another file")
        if frame_shape is not None and shape != tuple(frame_shape):
            raise FileFormatError(path, f"holds frames of shape {shape}, the data has {tuple(frame_shape)}")
        if params_u is not None and (params.shape != np.shape(params_u) or not np.allclose(params, params_u)):
            raise FileFormatError(
                path, f"was made at {len(params)} other parameters; delete it or name another file"
            )
    except KeyError as exc:
        f.close()
        raise FileFormatError(path, f"missing {exc}") from None
    except BaseException:
        f.close()
        raise
    return DistillationSet(path, params, shape, fp, f)


class OnDemandSampler:
    """Distillation batches computed by the teacher when needed instead of read from a file.

    Same distribution as the precomputed set (its parameters, voxel positions), less memory, more compute.
    """

    def __init__(
        self, teacher: CoordNet, params_u: np.ndarray, frame_shape: tuple[int, ...], device: torch.device
    ):
        self.teacher = teacher.eval()
        self.params_u = torch.as_tensor(np.asarray(params_u, np.float32))
        info = teacher.info
        self.space_shape = tuple(frame_shape[:-1]) if info.n_space_dims == 2 else tuple(frame_shape)
        self.n_points = int(np.prod(self.space_shape))
        self.device = device
        self.shard: tuple[int, int] = (0, 1)  # (rank, world size): each rank evaluates its part of a batch

    def sample(self, gen: torch.Generator, n_frames: int, n_points: int, step: int = 0):
        from hyperinr_core.train.distributed import shard_batch

        rows = torch.randint(0, len(self.params_u), (n_frames,), generator=gen)
        flat = torch.randint(0, self.n_points, (n_frames, n_points), generator=gen)
        rows, flat = shard_batch(rows, flat, self.shard)
        b, m = flat.shape
        u = self.params_u[rows].to(self.device)
        x = node_coordinates(flat.reshape(-1), self.space_shape).view(b, m, -1).to(self.device)
        with torch.no_grad():
            y = self.teacher.query(u, x).float()
        return u, x, y


def default_distill_set_path(out: str | os.PathLike) -> Path:
    p = Path(out)
    return p.with_name(p.stem + ".distill.h5")
