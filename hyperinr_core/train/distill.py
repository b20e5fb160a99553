"""Knowledge distillation into a HyperINR from the CoordNet teacher, and direct training (no teacher, the
paper's ablation).

Pipeline (paper, section 2.1): train the teacher on the training frames; evaluate it at sampled
parameters (uniform in 1-D; Poisson disk + Gaussian kernels around the training parameters in n-D) to
get the distillation set, precomputed into a chunked HDF5 file (reused by later runs) or generated on
demand; train the HyperINR end to end through its stateless evaluator on that set (Adam, betas
0.9/0.999, eps 1e-10, lr 1e-3; L1 for volumes, L2 for images; AMP + gradient scaling on CUDA).

The teacher stage is :mod:`~hyperinr_core.train.coordnet_teacher`, the set
:mod:`~hyperinr_core.train.distill_set`. Every stage is a *job* (a dataclass) run by one function, with the
training UX of :mod:`~hyperinr_core.train.loop`: budgets, tqdm, checkpoints, resume and Ctrl-C.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from hyperinr_core.errors import FileFormatError, HyperINRError
from hyperinr_core.model.coordnet import CoordNet
from hyperinr_core.model.field_info import FieldInfo
from hyperinr_core.model.mlp import MLPConfig, mlp_forward
from hyperinr_core.model.positions import encoder_positions
from hyperinr_core.model.training_encoder import TrainingEncoder
from hyperinr_core.train.budget import Budget, seeded_generator
from hyperinr_core.train.distill_set import (
    DistillationSet,
    OnDemandSampler,
    build_distillation_set,
    default_distill_set_path,
    distillation_params,
    open_distillation_set,
    teacher_fingerprint,
)
from hyperinr_core.train.job import RunOptions
from hyperinr_core.train.loop import TrainResult
from hyperinr_core.train.presets import FitConfig, Preset, nvs_distill_samples
from hyperinr_core.train.sampling import FrameSampler, frame_sampler
from hyperinr_core.train.targets import MixedSampler


@dataclass
class DistillJob(RunOptions):
    """``hyperinr distill``: train a HyperINR from a teacher (or, with ``teacher=None``, from the data)."""

    teacher: str | None = None
    n_encoders: int | None = None
    distill_samples: int | None = None
    distill_set: str | None = None  # default: <out>.distill.h5
    on_demand: bool = False
    compile: bool = False
    deadline: float | None = None  # time.time() by which training must end (a pipeline's total budget)
    gt_fraction: float = 0.5  # share of each batch's frames drawn from the training frames themselves


def new_hyperinr(
    info: FieldInfo,
    preset: Preset,
    n_enc: int,
    train_u: np.ndarray,
    seed: int,
    positions: np.ndarray | None = None,
):
    """A freshly initialized HyperINR for ``info``; ``positions (N, D)`` overrides the preset's layout."""
    from hyperinr_core.model.hyperinr import HyperINR, HyperINRConfig

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
        periodic=info.periodic_mask,
    )
    if positions is not None:
        pos = np.asarray(positions, np.float64)
    elif info.task == "nvs":  # the paper's NVS layout: Poisson disk over the view square
        from hyperinr_core.eval.nvs import nvs_encoder_positions

        pos = nvs_encoder_positions(n_enc, seed)
    else:
        pos = encoder_positions(info.n_param_dims, n_enc, train_u, seed)
    return HyperINR(cfg, pos, generator=seeded_generator(seed + 7))


def hyperinr_query(model, compile: bool = False) -> Callable[[Tensor, Tensor], Tensor]:
    """``(u (B, D), x (B, M, d)) -> (B, M, C)``: :meth:`HyperINR.forward` with the fast training encoder."""
    enc = TrainingEncoder(model.cfg.encoding, model.device, compile=compile)

    def query(u: Tensor, x: Tensor) -> Tensor:
        # The encoder at each frame's u blends K encoders; the Triton kernels gather from (and scatter
        # gradients into) their tables directly, the reference blends the tables first.
        kidx, kw = model.neighbour_tensors(u)
        return mlp_forward(enc.mixture(x, model.encoder_params, kidx, kw), model.mlp.params, model.cfg.mlp)

    return query


def distill(job: DistillJob) -> TrainResult:
    """Train a HyperINR by knowledge distillation from ``job.teacher`` (or directly on the data).

    Under ``torchrun`` every process runs this; rank 0 builds the distillation set and writes the outputs,
    training is data-parallel.
    """
    from hyperinr_core.model.hyperinr import HyperINR
    from hyperinr_core.train.distributed import barrier, is_main_process
    from hyperinr_core.train.stage import open_stage

    direct = job.teacher is None
    dset: DistillationSet | None = None
    with open_stage(job) as st:
        device, preset, out, ckpt, ds, info = st.device, st.preset, st.out, st.ckpt, st.ds, st.info
        main = is_main_process()
        progress = job.progress and main
        train_u = ds.normalized_params()[ds.train_indices]
        teacher = None
        if not direct:
            teacher = CoordNet.load(job.teacher, device)
            teacher.info.check_compatible(ds, f"teacher {job.teacher}")
            teacher.requires_grad_(False)
        resume_from = st.resume_from
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
            gt_fraction = float(rec.get("gt_fraction", 0.0))
        else:
            n_enc = job.n_encoders or max(2, round(preset.encoders_per_frame(info.task) * len(train_u)))
            model = new_hyperinr(info, preset, n_enc, train_u, job.seed)
            fit_cfg = preset.distill_fit
            n_samples = job.distill_samples or (
                preset.distill_samples
                if info.n_param_dims == 1
                else 4 * len(train_u) * preset.distill_samples // 10
            )
            if info.task == "nvs" and not job.distill_samples:  # images: sized by teacher work per view
                n_samples = nvs_distill_samples(len(train_u), preset.name)
            gt_fraction = 0.0 if direct else job.gt_fraction
            if not 0.0 <= gt_fraction <= 1.0:
                raise HyperINRError(
                    f"{{gt_fraction}} must lie in [0, 1], got {gt_fraction}", gt_fraction="gt_fraction"
                )
        model.to(device)
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
            if gt_fraction > 0.0:  # ground truth at the training frames, the teacher in between
                gt = frame_sampler(ds, device, job.seed + 1, job.memory_budget, job.refresh_every)
                sampler = MixedSampler(gt, sampler, gt_fraction)
        budget = st.budget(preset.distill_steps, preset.distill_minutes)
        if job.deadline is not None and budget.minutes is not None:
            # Building the distillation set took time out of the pipeline's budget: train for what is left
            # (counted from the training time already spent when resuming), at least a minute.
            done = resume_from.state["seconds"] / 60.0 if resume_from else 0.0
            left = (job.deadline - time.time()) / 60.0
            budget = Budget(budget.steps, max(1.0, done + left))
        try:
            result = st.fit(
                "direct" if direct else "distill",
                model,
                hyperinr_query(model, job.compile),
                sampler,
                fit_cfg,
                budget,
                teacher=None if direct else os.path.abspath(job.teacher),
                direct=direct,
                distill_samples=n_samples,
                gt_fraction=gt_fraction,
            )
        finally:
            if dset is not None:
                dset.close()
    model.cfg.metadata.update(
        {
            "trained": "direct" if direct else "distilled",
            "teacher": "none" if direct else "coordnet",
            "gt_fraction": 1.0 if direct else gt_fraction,
            "steps": result.step,
            "train_seconds": round(result.seconds, 1),
        }
    )
    st.finish(result, model.save)
    return result


def count_params(model: torch.nn.Module) -> int:
    return int(sum(p.numel() for p in model.parameters()))
