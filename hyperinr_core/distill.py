"""Training: the CoordNet teacher, the distillation set, knowledge distillation into a HyperINR, and
direct training (no teacher, the paper's ablation).

Pipeline (paper, section 2.1): train the teacher on the training frames; evaluate it at sampled
parameters (uniform in 1-D; Poisson disk + Gaussian kernels around the training parameters in n-D) to
get the distillation set, precomputed into a chunked HDF5 file (reused by later runs) or generated on
demand; train the HyperINR end to end through its stateless evaluator on that set (Adam, betas
0.9/0.999, eps 1e-10, lr 1e-3; L1 for volumes, L2 for images; AMP + gradient scaling on CUDA).

Every stage is a *job* (a dataclass) run by one function, with the training UX of
:mod:`.training`: budgets, tqdm, checkpoints, ``resume`` and Ctrl-C.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch
from torch import Tensor

from .encoding import HashGridConfig
from .errors import FileFormatError, HyperINRError
from .fileio import atomic_path
from .mlp import MLPConfig, mlp_forward
from .teacher import CoordNet, CoordNetConfig
from .training import (
    DEFAULT_MEMORY_BUDGET,
    Budget,
    FieldInfo,
    FrameSampler,
    LRSchedule,
    TrainingEncoder,
    TrainLoop,
    TrainResult,
    checkpoint_path,
    node_coordinates,
    pick_device,
    read_checkpoint,
    seeded_generator,
)

__all__ = [
    "FitConfig",
    "Preset",
    "PRESETS",
    "preset_for",
    "TeacherJob",
    "DistillJob",
    "train_teacher",
    "distill",
    "distillation_params",
    "encoder_positions",
    "DistillationSet",
    "build_distillation_set",
    "open_distillation_set",
    "teacher_fingerprint",
]

DSET_FORMAT = "hyperinr-distillation-set"
DSET_VERSION = 1


# -- configuration -------------------------------------------------------------------------------------------
@dataclass
class FitConfig:
    """Optimizer, batch and loss of one training stage.

    A batch is ``batch_frames`` frames (parameter samples) x ``batch_points`` random voxels/pixels each.
    """

    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-10
    weight_decay: float = 0.0
    batch_frames: int = 4
    batch_points: int = 16384
    loss: str = "auto"  # "l1", "l2", or "auto": L1 for volumes, L2 for images (the paper's choice)
    decay_fraction: float = 0.3
    final_lr_factor: float = 0.1
    amp: bool = True  # CUDA only: float16 autocast + GradScaler

    def schedule(self) -> LRSchedule:
        return LRSchedule(self.lr, self.decay_fraction, self.final_lr_factor)


@dataclass
class Preset:
    """Model sizes and budgets of the whole pipeline.

    ``cpu`` is sized so that the default TGV demo (64^3, 20 training frames) trains in under 30 minutes
    on a 2-core CPU; ``paper`` is the paper's configuration (section 4) for a GPU.
    """

    name: str
    teacher: CoordNetConfig
    teacher_fit: FitConfig
    teacher_minutes: float | None
    teacher_steps: int | None
    encoding: HashGridConfig
    mlp_neurons: int
    mlp_hidden_layers: int
    encoders_per_train_frame: float  # N encoders = this x training frames (1-D), at least 2
    distill_samples: int  # size of the distillation set (1-D), or per training frame x this (n-D: / 4)
    distill_fit: FitConfig
    distill_minutes: float | None
    distill_steps: int | None
    pipeline_minutes: float | None = None  # ``hyperinr train``: the distillation ends by then

    def to_dict(self) -> dict:
        d = asdict(self)
        d["encoding"] = self.encoding.to_dict()
        return d


_CPU = Preset(
    name="cpu",
    teacher=CoordNetConfig(encoder_widths=[32, 64, 128], n_hidden_blocks=3),
    teacher_fit=FitConfig(
        lr=3e-4,
        eps=1e-8,
        weight_decay=1e-6,
        batch_frames=16,
        batch_points=2048,
        loss="l2",
        amp=False,  # sine layers at omega_0 = 30 need float32 arguments
        decay_fraction=0.4,
        final_lr_factor=0.05,
    ),
    teacher_minutes=13.0,
    teacher_steps=None,
    encoding=HashGridConfig(3, 8, 4, 15, 4, 2.0),
    mlp_neurons=64,
    mlp_hidden_layers=4,
    encoders_per_train_frame=1.0,
    distill_samples=40,
    # 4 frames x 4096 points: on 2 cores a step costs about a third of 4 x 16384's, and for the same time the
    # TGV demo's held-out PSNR rose from 33.6 to 38.4 dB (more, smaller Adam steps on the hash tables).
    distill_fit=FitConfig(lr=1e-3, batch_frames=4, batch_points=4096),
    distill_minutes=9.0,
    distill_steps=None,
    pipeline_minutes=27.0,
)

PRESETS: dict[str, Preset] = {
    "cpu": _CPU,
    "paper": Preset(
        name="paper",
        teacher=CoordNetConfig(),
        teacher_fit=FitConfig(
            lr=1e-5,
            eps=1e-8,
            weight_decay=1e-6,
            batch_frames=32,
            batch_points=8192,
            loss="l2",
            amp=False,  # sine layers at omega_0 = 30 need float32 arguments
            decay_fraction=0.2,
            final_lr_factor=0.1,
        ),
        teacher_minutes=None,
        teacher_steps=200_000,
        encoding=HashGridConfig(3, 8, 4, 15, 4, 2.0),
        mlp_neurons=64,
        mlp_hidden_layers=4,
        encoders_per_train_frame=1.2,  # 24 encoders for the paper's 20 training frames
        distill_samples=100,
        distill_fit=FitConfig(lr=1e-3, batch_frames=8, batch_points=65536),
        distill_minutes=None,
        distill_steps=50_000,
    ),
    # The bundled demo (``hyperinr demo build``): the cpu preset with encoders small enough that 20 of them
    # fit the bundle (6 levels up to 128^3, F = 2: 206k parameters each instead of the paper's 674k).
    "demo": replace(
        _CPU,
        name="demo",
        encoding=HashGridConfig(3, 6, 2, 15, 4, 2.0),
        pipeline_minutes=24.0,
        teacher_minutes=12.0,
        distill_minutes=8.0,
    ),
    # The demo's shadow model over (t, azimuth, polar): shadows are smooth, so small encoders suffice and
    # many of them cover the 3-D parameter space (direct training on the shadow volumes).
    "demo-shadow": replace(
        _CPU,
        name="demo-shadow",
        encoding=HashGridConfig(3, 4, 2, 12, 4, 2.0),
        mlp_neurons=32,
        mlp_hidden_layers=2,
        encoders_per_train_frame=0.6,
        distill_fit=FitConfig(lr=1e-3, batch_frames=8, batch_points=8192),
        distill_minutes=8.0,
        pipeline_minutes=8.0,
    ),
    # Seconds, not minutes: smoke tests of the whole pipeline (and the test suite).
    "tiny": Preset(
        name="tiny",
        teacher=CoordNetConfig(encoder_widths=[16, 32], n_hidden_blocks=1),
        teacher_fit=FitConfig(
            lr=1e-4, eps=1e-8, weight_decay=1e-6, batch_frames=4, batch_points=256, loss="l2"
        ),
        teacher_minutes=None,
        teacher_steps=20,
        encoding=HashGridConfig(3, 4, 2, 10, 2, 2.0),
        mlp_neurons=16,
        mlp_hidden_layers=2,
        encoders_per_train_frame=1.0,
        distill_samples=6,
        distill_fit=FitConfig(lr=1e-3, batch_frames=2, batch_points=256),
        distill_minutes=None,
        distill_steps=20,
    ),
}


def preset_for(name: str | None, device: torch.device) -> Preset:
    """The named preset, or ``paper`` on CUDA and ``cpu`` elsewhere."""
    if name in (None, "", "auto"):
        name = "paper" if device.type == "cuda" else "cpu"
    if name not in PRESETS:
        raise HyperINRError(f"unknown preset {name!r} (choose {', '.join(PRESETS)})")
    return PRESETS[name]


def resolve_budget(
    steps: int | None,
    minutes: float | None,
    default_steps: int | None,
    default_minutes: float | None,
    ckpt_budget: dict | None = None,
) -> Budget:
    """Explicit options win, then the checkpoint's budget (on resume), then the preset's."""
    if steps is not None or minutes is not None:
        return Budget(steps, minutes)
    if ckpt_budget:
        return Budget(ckpt_budget.get("steps"), ckpt_budget.get("minutes"))
    return Budget(default_steps, default_minutes)


# -- generic fitting -----------------------------------------------------------------------------------------
def _loss_fn(name: str, is_image: bool) -> Callable[[Tensor, Tensor], Tensor]:
    if name == "auto":
        name = "l2" if is_image else "l1"
    if name == "l1":
        return lambda p, y: (p - y).abs().mean()
    if name == "l2":
        return lambda p, y: ((p - y) ** 2).mean()
    raise HyperINRError(f"unknown loss {name!r} (l1, l2)")


def fit(
    name: str,
    params: list[Tensor],
    query: Callable[[Tensor, Tensor], Tensor],
    sampler: Any,
    fit_cfg: FitConfig,
    budget: Budget,
    generator: torch.Generator,
    model_file: Callable[[], tuple[str, dict, dict]],
    device: torch.device,
    is_image: bool,
    checkpoint: Path | None,
    job: dict,
    resume_from: Any | None = None,
    checkpoint_every_s: float = 300.0,
    checkpoint_every_steps: int | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train ``params`` so that ``query(u (B, D), x (B, M, d)) -> (B, M, C)`` matches the sampler's
    targets (``sampler.sample(generator, B, M, step) -> (u, x, y)``).

    Under ``torchrun`` this is data-parallel (:mod:`.distributed`): the sampler returns this rank's shard
    of the global batch (its ``shard`` attribute), the loss is weighted by the shard's share of the batch,
    and gradients (and the loss) are summed over ranks before the optimizer step, so the update and the
    loss curve are those of one process on the whole batch.
    """
    from .distributed import GradientReducer, broadcast_parameters, init_from_env

    ctx = init_from_env(device)
    reducer = None
    n_global = fit_cfg.batch_frames * fit_cfg.batch_points
    if ctx.distributed:
        if not hasattr(sampler, "shard"):
            raise HyperINRError(f"{type(sampler).__name__} cannot split batches across processes")
        if n_global < ctx.world_size:
            raise HyperINRError(
                f"a batch of {n_global} samples cannot be split across {ctx.world_size} processes"
            )
        sampler.shard = (ctx.rank, ctx.world_size)
        broadcast_parameters(params)
        reducer = GradientReducer(params, device)
    # Fused Adam: one kernel over each parameter instead of a chain of foreach ops. On a 2-core CPU the
    # step of an NVS HyperINR (177 encoders, 85M parameters) drops from ~0.6 s to ~0.12 s.
    opt = torch.optim.Adam(
        params,
        lr=fit_cfg.lr,
        betas=tuple(fit_cfg.betas),
        eps=fit_cfg.eps,
        weight_decay=fit_cfg.weight_decay,
        fused=device.type in ("cpu", "cuda"),
    )
    use_amp = fit_cfg.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda") if use_amp else None
    loss_fn = _loss_fn(fit_cfg.loss, is_image)
    loop = TrainLoop(
        name,
        opt,
        generator,
        budget,
        fit_cfg.schedule(),
        model_file,
        checkpoint=checkpoint,
        checkpoint_every_s=checkpoint_every_s,
        checkpoint_every_steps=checkpoint_every_steps,
        job=job,
        scaler=scaler,
        progress=progress,
    )
    if resume_from is not None:
        loop.restore(resume_from)

    def step(i: int) -> Tensor:
        u, x, y = sampler.sample(generator, fit_cfg.batch_frames, fit_cfg.batch_points, i)
        with torch.autocast(device.type, dtype=torch.float16, enabled=use_amp):
            pred = query(u, x)
        loss = loss_fn(pred.float(), y)
        if reducer is not None:  # this shard's share of the global mean
            loss = loss * (y.shape[0] * y.shape[1] / n_global)
        opt.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            if reducer is not None:
                loss = reducer.all_reduce(loss)
            scaler.step(opt)
            scaler.update()
        else:
            loss.backward()
            if reducer is not None:
                loss = reducer.all_reduce(loss)
            opt.step()
        return loss.detach()

    return loop.run(step)


def check_outputs(out: Path, force: bool, resume: bool) -> Path:
    """Refuse to overwrite an existing output; return the checkpoint path."""
    ckpt = checkpoint_path(out)
    if out.exists() and not force:
        raise HyperINRError(f"{out}: output exists; choose another name or pass --force")
    if resume and not ckpt.exists():
        raise HyperINRError(f"{ckpt}: no checkpoint to resume from")
    return ckpt


def finish_outputs(result: TrainResult, save: Callable[[Path], None], out: Path, ckpt: Path) -> None:
    from .distributed import barrier, is_main_process

    if is_main_process():
        save(out)
        if ckpt.exists():
            ckpt.unlink()  # the finished model supersedes it
    barrier()  # the next stage (on any rank) may read ``out``


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


# -- teacher -------------------------------------------------------------------------------------------------
@dataclass
class TeacherJob:
    """``hyperinr train-teacher``: fit a CoordNet to the training frames of ``data``."""

    data: str
    out: str
    preset: str | None = None
    steps: int | None = None
    minutes: float | None = None
    seed: int = 0
    device: str | None = None
    resume: bool = False
    force: bool = False
    checkpoint_every_s: float = 300.0
    checkpoint_every_steps: int | None = None
    progress: bool = True
    memory_budget: int | None = DEFAULT_MEMORY_BUDGET  # bytes of frames in memory before streaming
    refresh_every: int = 200  # batches per streamed pool of frames


def train_teacher(job: TeacherJob) -> TrainResult:
    """Train (or resume training) the CoordNet teacher and save it to ``job.out``.

    Under ``torchrun`` every process runs this; training is data-parallel and rank 0 writes the outputs.
    """
    from .data import open_dataset
    from .distributed import init_from_env

    device = pick_device(job.device)
    init_from_env(device)
    preset = preset_for(job.preset, device)
    out = Path(job.out)
    ckpt = check_outputs(out, job.force, job.resume)
    with open_dataset(job.data) as ds:
        info = FieldInfo.from_dataset(ds)
        resume_from = read_checkpoint(ckpt) if job.resume else None
        if resume_from is not None:
            model = CoordNet.load(ckpt)
            if model.info.frame_shape != info.frame_shape or model.info.param_names != info.param_names:
                raise HyperINRError(f"{ckpt}: checkpoint was made for other data than {job.data}")
            fit_cfg = FitConfig(**{**asdict(preset.teacher_fit), **resume_from.state["job"].get("fit", {})})
        else:
            torch.manual_seed(job.seed)
            cfg = replace(
                preset.teacher,
                n_input_dims=info.n_param_dims + info.n_space_dims,
                n_output_dims=info.n_channels,
            )
            model = CoordNet(cfg, info)
            fit_cfg = preset.teacher_fit
        model.to(device)
        budget = resolve_budget(
            job.steps,
            job.minutes,
            preset.teacher_steps,
            preset.teacher_minutes,
            resume_from.state.get("budget") if resume_from else None,
        )
        sampler = frame_sampler(ds, device, job.seed, job.memory_budget, job.refresh_every)
        gen = seeded_generator(job.seed)
        record = {
            "stage": "teacher",
            "data": os.path.abspath(job.data),
            "seed": job.seed,
            "fit": jsonable(asdict(fit_cfg)),
            "preset": preset.name,
        }
        try:
            result = fit(
                "teacher",
                list(model.parameters()),
                model.query,
                sampler,
                fit_cfg,
                budget,
                gen,
                model.model_file,
                device,
                ds.is_image,
                ckpt,
                record,
                resume_from,
                job.checkpoint_every_s,
                job.checkpoint_every_steps,
                job.progress,
            )
        finally:
            sampler.close()
    finish_outputs(result, model.save, out, ckpt)
    return result


def jsonable(d: dict) -> dict:
    return json.loads(json.dumps(d))


# -- distillation set ----------------------------------------------------------------------------------------
def distillation_params(
    n_param_dims: int, n: int, train_u: np.ndarray | None = None, seed: int = 0
) -> np.ndarray:
    """Parameters ``(S, D)`` in [0, 1]^D at which the teacher is sampled.

    1-D: ``n`` uniformly spaced values (ends included). n-D: Poisson-disk samples (about half of ``n``)
    plus Gaussian kernels around the training parameters (the rest), so the set leans towards the data the
    teacher actually saw (paper, Figure 4).
    """
    from .positions import (
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


def encoder_positions(
    n_param_dims: int, n: int, train_u: np.ndarray | None = None, seed: int = 0
) -> np.ndarray:
    """Encoder positions ``(N, D)``: uniform in 1-D; in n-D a quarter Poisson disk and three quarters
    Gaussian kernels around the training parameters (the paper's best DGS layout, section 5.4)."""
    from .positions import (
        gaussian_kernel_positions,
        poisson_disk_positions,
        uniform_positions,
        union_positions,
    )

    if n_param_dims == 1:
        return uniform_positions(max(2, n))
    pd = poisson_disk_positions(n_param_dims, count=max(2, n // 4), seed=seed)
    if train_u is None or len(train_u) == 0:
        return poisson_disk_positions(n_param_dims, count=max(2, n), seed=seed)
    per = max(1, (n - len(pd)) // len(train_u))
    sigma = 0.5 * (1.0 / max(n, 1)) ** (1.0 / n_param_dims)
    return union_positions(pd, gaussian_kernel_positions(train_u, per, sigma, seed=seed + 2))


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
        from .distributed import shard_batch

        rows = torch.randint(0, len(self.params_u), (n_frames,), generator=gen)
        flat = torch.randint(0, self.n_points, (n_frames, n_points), generator=gen)
        rows, flat = shard_batch(rows, flat, self.shard)
        b, m = flat.shape
        u = self.params_u[rows].to(self.device)
        x = node_coordinates(flat.reshape(-1), self.space_shape).view(b, m, -1).to(self.device)
        with torch.no_grad():
            y = self.teacher.query(u, x).float()
        return u, x, y


# -- HyperINR ------------------------------------------------------------------------------------------------
@dataclass
class DistillJob:
    """``hyperinr distill``: train a HyperINR from a teacher (or, with ``teacher=None``, from the data)."""

    data: str
    out: str
    teacher: str | None = None
    preset: str | None = None
    steps: int | None = None
    minutes: float | None = None
    seed: int = 0
    device: str | None = None
    resume: bool = False
    force: bool = False
    n_encoders: int | None = None
    distill_samples: int | None = None
    distill_set: str | None = None  # default: <out>.distill.h5
    on_demand: bool = False
    compile: bool = False
    checkpoint_every_s: float = 300.0
    checkpoint_every_steps: int | None = None
    progress: bool = True
    deadline: float | None = None  # time.time() by which training must end (a pipeline's total budget)
    memory_budget: int | None = (
        DEFAULT_MEMORY_BUDGET  # bytes of frames / set samples in memory before streaming
    )
    refresh_every: int = 200  # batches per streamed pool


def default_distill_set_path(out: str | os.PathLike) -> Path:
    p = Path(out)
    return p.with_name(p.stem + ".distill.h5")


def new_hyperinr(
    info: FieldInfo,
    preset: Preset,
    n_enc: int,
    train_u: np.ndarray,
    seed: int,
    positions: np.ndarray | None = None,
):
    """A freshly initialized HyperINR for ``info``; ``positions (N, D)`` overrides the preset's layout."""
    from .hyperinr import HyperINR, HyperINRConfig

    enc = preset.encoding
    if enc.n_input_dims != info.n_space_dims:
        base = 8 if info.task == "nvs" else enc.base_resolution  # the paper's NVS setting
        enc = replace(enc, n_input_dims=info.n_space_dims, base_resolution=base)
    mlp = MLPConfig(enc.n_output_dims, info.n_channels, preset.mlp_neurons, preset.mlp_hidden_layers)
    cfg = HyperINRConfig(
        encoding=enc,
        mlp=mlp,
        param_names=list(info.param_names),
        param_lo=list(info.param_lo),
        param_hi=list(info.param_hi),
        value_range=tuple(info.value_range),
        task=info.task,
        metadata={"frame_shape": list(info.frame_shape)},
    )
    if positions is not None:
        pos = np.asarray(positions, np.float64)
    elif info.task == "nvs":  # the paper's NVS layout: Poisson disk over the view square
        from .nvs import nvs_encoder_positions

        pos = nvs_encoder_positions(n_enc, seed)
    else:
        pos = encoder_positions(info.n_param_dims, n_enc, train_u, seed)
    return HyperINR(cfg, pos, generator=seeded_generator(seed + 7))


def hyperinr_model_file(model) -> Callable[[], tuple[str, dict, dict]]:
    def contents() -> tuple[str, dict, dict]:
        return (
            model.KIND,
            model.cfg.to_dict(),
            {
                "positions": model.encoder_positions,
                "encoder_params": model.encoder_params.detach().cpu().float().numpy(),
                "mlp_params": model.mlp.params.detach().cpu().float().numpy(),
            },
        )

    return contents


def hyperinr_query(model, compile: bool = False) -> Callable[[Tensor, Tensor], Tensor]:
    """``(u (B, D), x (B, M, d)) -> (B, M, C)``: :meth:`HyperINR.forward` with the fast training encoder."""
    enc = TrainingEncoder(model.cfg.encoding, model.device, compile=compile)

    def query(u: Tensor, x: Tensor) -> Tensor:
        params = model.encoder_params_at(u)
        return mlp_forward(enc(x, params), model.mlp.params, model.cfg.mlp)

    return query


def distill(job: DistillJob) -> TrainResult:
    """Train a HyperINR by knowledge distillation from ``job.teacher`` (or directly on the data).

    Under ``torchrun`` every process runs this; rank 0 builds the distillation set and writes the outputs,
    training is data-parallel.
    """
    from .data import open_dataset
    from .distributed import barrier, init_from_env, is_main_process
    from .hyperinr import HyperINR

    device = pick_device(job.device)
    init_from_env(device)
    main = is_main_process()
    progress = job.progress and main
    preset = preset_for(job.preset, device)
    out = Path(job.out)
    ckpt = check_outputs(out, job.force, job.resume)
    direct = job.teacher is None
    dset: DistillationSet | None = None
    with open_dataset(job.data) as ds:
        info = FieldInfo.from_dataset(ds)
        train_u = ds.normalized_params()[ds.train_indices]
        teacher = None
        if not direct:
            teacher = CoordNet.load(job.teacher, device)
            teacher.info.check_compatible(ds, f"teacher {job.teacher}")
            teacher.requires_grad_(False)
        resume_from = read_checkpoint(ckpt) if job.resume else None
        if resume_from is not None:
            model = HyperINR.load(ckpt)
            rec = resume_from.state.get("job", {})
            if bool(rec.get("direct")) != direct:
                raise HyperINRError(
                    f"{ckpt}: checkpoint is from a {'direct' if rec.get('direct') else 'distillation'} "
                    "run; resume it with the same options"
                )
            fit_cfg = FitConfig(**{**asdict(preset.distill_fit), **rec.get("fit", {})})
            n_samples = int(rec.get("distill_samples", preset.distill_samples))
        else:
            per_frame = preset.encoders_per_train_frame
            if info.task == "nvs":  # 177 encoders for 100 training views (paper, section 4)
                from .nvs import ENCODERS_PER_TRAIN_VIEW as per_frame
            n_enc = job.n_encoders or max(2, round(per_frame * len(train_u)))
            model = new_hyperinr(info, preset, n_enc, train_u, job.seed)
            fit_cfg = preset.distill_fit
            n_samples = job.distill_samples or (
                preset.distill_samples
                if info.n_param_dims == 1
                else 4 * len(train_u) * preset.distill_samples // 10
            )
            if info.task == "nvs" and not job.distill_samples:  # images: sized by teacher work per view
                from .nvs import nvs_distill_samples

                n_samples = nvs_distill_samples(len(train_u), preset.name)
        model.to(device)
        gen = seeded_generator(job.seed)
        if direct:
            sampler: Any = frame_sampler(ds, device, job.seed, job.memory_budget, job.refresh_every)
        else:
            params_u = distillation_params(info.n_param_dims, n_samples, train_u, job.seed)
            if job.on_demand:
                sampler = OnDemandSampler(teacher, params_u, tuple(ds.frame_shape), device)
            else:
                dpath = Path(job.distill_set) if job.distill_set else default_distill_set_path(out)
                fp = teacher_fingerprint(teacher)
                if main:  # one process writes the set; the others wait for it
                    if dpath.exists() and job.force:
                        try:  # --force replaces a set made by another teacher or at other parameters
                            open_distillation_set(dpath, fp, params_u, tuple(ds.frame_shape)).close()
                        except FileFormatError:
                            dpath.unlink()
                    if not dpath.exists():
                        t0 = time.perf_counter()
                        build_distillation_set(teacher, params_u, dpath, tuple(ds.frame_shape), progress)
                        if progress:
                            print(
                                f"distillation set: {len(params_u)} samples -> {dpath} "
                                f"({time.perf_counter() - t0:.0f} s)"
                            )
                    elif progress:
                        print(f"distillation set: reusing {dpath}")
                barrier()
                dset = open_distillation_set(dpath, fp, params_u, tuple(ds.frame_shape))
                sampler = FrameSampler(
                    dset.frames,
                    dset.params,
                    dset.frame_shape,
                    ds.is_image,
                    (0.0, 1.0),
                    device=device,
                    seed=job.seed,
                    memory_limit=job.memory_budget,
                    pool_steps=job.refresh_every,
                )
        budget = resolve_budget(
            job.steps,
            job.minutes,
            preset.distill_steps,
            preset.distill_minutes,
            resume_from.state.get("budget") if resume_from else None,
        )
        if job.deadline is not None and budget.minutes is not None:
            # Building the distillation set took time out of the pipeline's budget: train for what is left
            # (counted from the training time already spent when resuming), at least a minute.
            done = resume_from.state["seconds"] / 60.0 if resume_from else 0.0
            left = (job.deadline - time.time()) / 60.0
            budget = Budget(budget.steps, max(1.0, done + left))
        record = {
            "stage": "direct" if direct else "distill",
            "data": os.path.abspath(job.data),
            "teacher": None if direct else os.path.abspath(job.teacher),
            "direct": direct,
            "seed": job.seed,
            "fit": jsonable(asdict(fit_cfg)),
            "distill_samples": n_samples,
            "preset": preset.name,
        }
        try:
            result = fit(
                "direct" if direct else "distill",
                list(model.parameters()),
                hyperinr_query(model, job.compile),
                sampler,
                fit_cfg,
                budget,
                gen,
                hyperinr_model_file(model),
                device,
                ds.is_image,
                ckpt,
                record,
                resume_from,
                job.checkpoint_every_s,
                job.checkpoint_every_steps,
                job.progress,
            )
        finally:
            if hasattr(sampler, "close"):
                sampler.close()
            if dset is not None:
                dset.close()
    model.cfg.metadata.update(
        {
            "trained": "direct" if direct else "distilled",
            "steps": result.step,
            "train_seconds": round(result.seconds, 1),
        }
    )
    finish_outputs(result, model.save, out, ckpt)
    return result


def count_params(model: torch.nn.Module) -> int:
    return int(sum(p.numel() for p in model.parameters()))
