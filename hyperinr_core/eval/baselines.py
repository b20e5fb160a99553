"""The baselines the paper measures HyperINR against.

- :class:`Lerp`: interpolation of the training frames themselves: linear between the two bracketing
  frames in 1-D (clamped outside the training range), inverse-distance weighting (p = 1, the K nearest,
  as HyperINR interpolates its encoders) in n-D. Exact at the training frames.
- :class:`HashINR`: one hash grid over the spatial coordinates plus OneBlob encoding of each parameter,
  concatenated into one MLP (paper, section 5.3). Model kind ``"hashinr"``; trained directly on the data
  with the same loop, budgets and CLI as HyperINR (:func:`train_hashinr`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.spatial import KDTree
from torch import Tensor, nn

from hyperinr_core.errors import FileFormatError
from hyperinr_core.model.coordnet import predict_grid
from hyperinr_core.model.encoding import HashGridConfig
from hyperinr_core.model.field_info import FieldInfo
from hyperinr_core.model.mlp import MLPConfig, SharedMLP, mlp_forward
from hyperinr_core.model.modelfile import read_model_file, write_model_file
from hyperinr_core.model.training_encoder import TrainingEncoder
from hyperinr_core.train.budget import seeded_generator
from hyperinr_core.train.checkpoint import read_checkpoint
from hyperinr_core.train.job import RunOptions
from hyperinr_core.train.loop import TrainResult

__all__ = ["Lerp", "HashINRConfig", "HashINR", "one_blob", "HashINRJob", "train_hashinr"]


# -- LERP ----------------------------------------------------------------------------------------------------
class Lerp:
    """Interpolate the training frames of an open dataset; ``predict(u)`` returns a frame in data units.

    Args:
        ds: an open :class:`~hyperinr_core.data.dataset.Dataset`; frames are read lazily (two per 1-D query).
        k_neighbours: frames blended in n-D.
    """

    EXACT = 1e-9

    def __init__(self, ds: Any, k_neighbours: int = 8):
        self.ds = ds
        self.train = ds.train_indices
        self.u = ds.normalized_params()[self.train]
        self.k = min(k_neighbours, len(self.train))
        if ds.dim == 1:
            order = np.argsort(self.u[:, 0], kind="stable")
            self.train, self.u = self.train[order], self.u[order]
            self._tree = None
        else:
            self._tree = KDTree(self.u)

    def weights(self, u: Sequence[float] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Dataset frame indices and weights (summing to 1) blended at normalized parameters ``u (D,)``."""
        u = np.asarray(u, np.float64).reshape(-1)
        if self._tree is None:
            pos = self.u[:, 0]
            if len(pos) == 1 or u[0] <= pos[0]:
                return self.train[:1], np.ones(1)
            if u[0] >= pos[-1]:
                return self.train[-1:], np.ones(1)
            hi = int(np.searchsorted(pos, u[0], side="right"))
            lo = hi - 1
            w1 = (u[0] - pos[lo]) / (pos[hi] - pos[lo])
            if w1 <= self.EXACT:
                return self.train[lo : lo + 1], np.ones(1)
            return self.train[[lo, hi]], np.array([1.0 - w1, w1])
        dist, idx = self._tree.query(u, k=self.k)
        dist, idx = np.atleast_1d(dist), np.atleast_1d(idx)
        if dist[0] <= self.EXACT:
            return self.train[idx[:1]], np.ones(1)
        w = 1.0 / dist
        return self.train[idx], w / w.sum()

    def predict(self, u: Sequence[float] | np.ndarray) -> np.ndarray:
        """The interpolated frame (data units, float32, the dataset's frame shape)."""
        idx, w = self.weights(u)
        out = np.zeros(self.ds.frame_shape, np.float64)
        for i, wi in zip(idx, w, strict=True):  # K frames at most: a loop over frames, not voxels
            out += wi * self.ds.frame(int(i))
        return out.astype(np.float32)


# -- HashINR -------------------------------------------------------------------------------------------------
def one_blob(u: Tensor, n_bins: int) -> Tensor:
    """OneBlob encoding (Müller et al. 2019): each value in [0, 1] becomes ``n_bins`` bin integrals of a
    Gaussian of standard deviation ``1 / n_bins`` centred on it (as tiny-cuda-nn's OneBlob).

    ``u (..., D)`` -> ``(..., D * n_bins)``.
    """
    edges = torch.linspace(0.0, 1.0, n_bins + 1, device=u.device, dtype=u.dtype)
    sigma = 1.0 / n_bins
    z = (edges - u[..., None]) / (sigma * math.sqrt(2.0))
    cdf = 0.5 * (1.0 + torch.erf(z))
    return (cdf[..., 1:] - cdf[..., :-1]).flatten(-2)


@dataclass
class HashINRConfig:
    """A hash grid over space (paper, section 5.3: medium-sized tables, T = 2^17) + OneBlob per parameter."""

    encoding: HashGridConfig = field(default_factory=lambda: HashGridConfig(3, 8, 4, 17, 4, 2.0))
    n_bins: int = 16
    mlp_neurons: int = 64
    mlp_hidden_layers: int = 4

    def mlp(self, info: FieldInfo) -> MLPConfig:
        n_in = self.encoding.n_output_dims + self.n_bins * info.n_param_dims
        return MLPConfig(n_in, info.n_channels, self.mlp_neurons, self.mlp_hidden_layers)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["encoding"] = self.encoding.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> HashINRConfig:
        kw = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        kw["encoding"] = HashGridConfig.from_dict(d["encoding"])
        return cls(**kw)


class HashINR(nn.Module):
    """``Φ(x, θ) = MLP([hash(x), OneBlob(θ)])``: one network for the whole parameter range."""

    KIND = "hashinr"

    def __init__(self, cfg: HashINRConfig, info: FieldInfo, generator: torch.Generator | None = None):
        super().__init__()
        if cfg.encoding.n_input_dims != info.n_space_dims:
            cfg = replace(cfg, encoding=replace(cfg.encoding, n_input_dims=info.n_space_dims))
        self.cfg, self.info = cfg, info
        self.mlp_cfg = cfg.mlp(info)
        self.grid_params = nn.Parameter(cfg.encoding.init_params(generator))
        self.mlp = SharedMLP(self.mlp_cfg, generator=generator)
        self._encoder: TrainingEncoder | None = None

    @property
    def device(self) -> torch.device:
        return self.grid_params.device

    def encoder(self, compile: bool = False) -> TrainingEncoder:
        if self._encoder is None or self._encoder.device != self.device:
            self._encoder = TrainingEncoder(self.cfg.encoding, self.device, compile=compile)
        return self._encoder

    def query(self, u: Tensor, x: Tensor) -> Tensor:
        """Normalized values ``(B, M, C)`` at ``x (B, M, d)`` and normalized parameters ``u (B, D)``."""
        b, m, d = x.shape
        feats = self.encoder()(x.reshape(b * m, d), self.grid_params).view(b, m, -1)
        blob = one_blob(u.to(feats.dtype), self.cfg.n_bins)[:, None, :].expand(b, m, -1)
        return mlp_forward(torch.cat([feats, blob], dim=-1), self.mlp.params, self.mlp_cfg)

    @torch.no_grad()
    def predict_grid(self, u: Sequence[float] | np.ndarray, shape: Sequence[int] | None = None) -> np.ndarray:
        """Normalized values on a node-centred grid at normalized parameters ``u (D,)`` (see CoordNet's)."""
        return predict_grid(self.query, self.info, u, shape, self.device, chunk=1 << 17)

    # -- files -------------------------------------------------------------------------------------------
    def model_file(self) -> tuple[str, dict, dict[str, np.ndarray]]:
        return (
            self.KIND,
            {"hashinr": self.cfg.to_dict(), "field": self.info.to_dict()},
            {
                "grid_params": self.grid_params.detach().cpu().float().numpy(),
                "mlp_params": self.mlp.params.detach().cpu().float().numpy(),
            },
        )

    def save(self, path: str | os.PathLike) -> None:
        write_model_file(path, *self.model_file())

    @classmethod
    def load(cls, path: str | os.PathLike, device: str | torch.device | None = None) -> HashINR:
        mf = read_model_file(path, kind=cls.KIND)
        try:
            model = cls(
                HashINRConfig.from_dict(mf.config["hashinr"]), FieldInfo.from_dict(mf.config["field"])
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise FileFormatError(mf.path, f"invalid HashINR config: {exc}") from None
        grid = mf.array("grid_params", (model.cfg.encoding.n_params,))
        mlp = mf.array("mlp_params", (model.mlp_cfg.n_params,))
        with torch.no_grad():
            model.grid_params.copy_(torch.from_numpy(grid))
            model.mlp.params.copy_(torch.from_numpy(mlp))
        return model.to(device) if device is not None else model


@dataclass
class HashINRJob(RunOptions):
    """``hyperinr train --baseline hashinr``: fit a HashINR directly to the training frames."""

    log2_hashmap_size: int | None = None
    compile: bool = False


def train_hashinr(job: HashINRJob) -> TrainResult:
    """Train (or resume) a HashINR on the training frames of ``job.data``; budget and batch as HyperINR's."""
    from hyperinr_core.data.dataset import open_dataset
    from hyperinr_core.device import pick_device
    from hyperinr_core.train.budget import resolve_budget
    from hyperinr_core.train.fit import FitRun, fit
    from hyperinr_core.train.outputs import check_outputs, finish_outputs, jsonable
    from hyperinr_core.train.presets import preset_for
    from hyperinr_core.train.sampling import frame_sampler

    device = pick_device(job.device)
    preset = preset_for(job.preset, device)
    out = Path(job.out)
    ckpt = check_outputs(out, job.force, job.resume)
    with open_dataset(job.data) as ds:
        info = FieldInfo.from_dataset(ds)
        resume_from = read_checkpoint(ckpt) if job.resume else None
        if resume_from is not None:
            model = HashINR.load(ckpt)
        else:
            cfg = HashINRConfig()
            if job.log2_hashmap_size:
                cfg = replace(cfg, encoding=replace(cfg.encoding, log2_hashmap_size=job.log2_hashmap_size))
            model = HashINR(cfg, info, generator=seeded_generator(job.seed + 7))
        model.to(device)
        model.encoder(job.compile)
        fit_cfg = preset.distill_fit
        budget = resolve_budget(
            job.steps,
            job.minutes,
            preset.distill_steps,
            preset.distill_minutes,
            resume_from.state.get("budget") if resume_from else None,
        )
        record = {
            "stage": "hashinr",
            "data": os.path.abspath(job.data),
            "seed": job.seed,
            "fit": jsonable(asdict(fit_cfg)),
            "preset": preset.name,
        }
        sampler = frame_sampler(ds, device, job.seed, job.memory_budget, job.refresh_every)
        result = fit(FitRun(
            "hashinr",
            list(model.parameters()),
            model.query,
            sampler,
            fit_cfg,
            budget,
            seeded_generator(job.seed),
            model.model_file,
            device,
            ds.is_image,
            ckpt,
            record,
            resume_from,
            job.checkpoint_every_s,
            job.checkpoint_every_steps,
            job.progress,
        ))
        sampler.close()
    finish_outputs(result, model.save, out, ckpt)
    return result
