"""The student: a HyperINR trained on distillation targets (ground truth + teacher frames) in memory."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hyperinr_core.model.field_info import FieldInfo
from hyperinr_core.train.budget import Budget, seeded_generator
from hyperinr_core.train.distill import hyperinr_query, new_hyperinr
from hyperinr_core.train.fit import FitRun, fit
from hyperinr_core.train.loop import TrainResult
from hyperinr_core.train.presets import FitConfig, Preset
from hyperinr_core.train.targets import MixedSampler, in_memory_sampler

__all__ = [
    "StudentSpec",
    "train_student",
    "hyperinr_predictor",
    "student_positions",
    "new_student",
    "warm_start",
]


@dataclass
class StudentSpec:
    """Everything a student run needs besides its targets.

    Attributes:
        info: the field the student models.
        preset: model sizes and optimizer (``distill_fit``).
        n_encoders: encoders (default: one per ground-truth frame, the paper's TSR choice).
        gt_fraction: share of each batch's frames drawn from the ground truth (the rest: teacher frames).
        seed: initialization and batch seed.
        device: torch device.
        compile: ``torch.compile`` the hash-grid index arithmetic.
        progress: tqdm bar.
    """

    info: FieldInfo
    preset: Preset
    n_encoders: int | None = None
    gt_fraction: float = 0.5
    seed: int = 0
    device: torch.device = torch.device("cpu")
    compile: bool = False
    progress: bool = True


def student_positions(info: FieldInfo, gt_u: np.ndarray, n_enc: int) -> np.ndarray | None:
    """Encoder positions: in 1-D with one encoder per training frame, exactly at the training parameters,
    so that each training frame is reproduced by one encoder alone; otherwise the preset's layout."""
    if info.n_param_dims == 1 and n_enc == len(gt_u) and info.task != "nvs":
        pos = np.unique(np.asarray(gt_u, np.float64)[:, 0])
        if len(pos) == n_enc:
            return pos[:, None]
    return None


def new_student(spec: StudentSpec, gt_u: np.ndarray):
    """A freshly initialized student for ground truth at ``gt_u (N, D)`` (on the CPU)."""
    info = spec.info
    n_enc = spec.n_encoders or max(2, round(spec.preset.encoders_per_frame(info.task) * len(gt_u)))
    pos = student_positions(info, gt_u, n_enc)
    return new_hyperinr(info, spec.preset, n_enc, gt_u, spec.seed, positions=pos)


@torch.no_grad()
def warm_start(spec: StudentSpec, gt_u: np.ndarray, source: Any):
    """A new student for ``gt_u`` that starts where ``source`` ends: a student of the same field and preset
    fitted to fewer frames (the selection race's winner, on the frames it fitted).

    Its shared MLP is ``source``'s, and each of its encoders is what ``source`` generates at that encoder's
    position: the new student predicts what ``source`` does at every encoder, and the steps ``source``
    took are not lost.
    """
    model = new_student(spec, gt_u)
    if model.cfg.encoding != source.cfg.encoding or model.cfg.mlp != source.cfg.mlp:
        raise ValueError("warm_start: the source student has another encoding or MLP")
    enc = source.encoder_params_at(model.encoder_positions)
    model.encoder_params.copy_(enc.detach().to("cpu", model.encoder_params.dtype))
    for mine, theirs in zip(model.mlp.parameters(), source.mlp.parameters(), strict=True):
        mine.copy_(theirs.detach().to("cpu", mine.dtype))
    return model


def train_student(
    spec: StudentSpec,
    gt_frames: np.ndarray,
    gt_u: np.ndarray,
    teacher_frames: np.ndarray | None,
    teacher_u: np.ndarray | None,
    budget: Budget,
    name: str = "distill",
    checkpoint: Path | None = None,
    record: dict | None = None,
    resume_from: Any | None = None,
    model: Any | None = None,
    checkpoint_every_s: float = 300.0,
    on_step: Callable[[Any, int], None] | None = None,
) -> tuple[Any, TrainResult]:
    """Train a HyperINR on ``gt_frames (N, ...)`` at ``gt_u (N, D)`` and, when given, teacher frames
    ``(S, ...)`` at ``teacher_u (S, D)``; all frames normalized. Returns ``(model, result)``.

    ``model`` continues a resumed run (with ``resume_from``, the checkpoint's training state) or starts
    from a given one (:func:`warm_start`).
    ``on_step(model, steps_done)`` runs after every step (the race's validation probes).
    """
    info = spec.info
    if model is None:
        model = new_student(spec, gt_u)
    model.to(spec.device)
    is_image = info.n_space_dims == 2
    gt = in_memory_sampler(gt_frames, gt_u, is_image, spec.device, spec.seed)
    teach = None
    if teacher_frames is not None and len(teacher_frames):
        teach = in_memory_sampler(teacher_frames, teacher_u, is_image, spec.device, spec.seed + 1)
    sampler = MixedSampler(gt, teach, spec.gt_fraction)
    fit_cfg: FitConfig = replace(spec.preset.distill_fit)
    try:
        result = fit(FitRun(
            name,
            list(model.parameters()),
            hyperinr_query(model, spec.compile),
            sampler,
            fit_cfg,
            budget,
            seeded_generator(spec.seed),
            model.model_file,
            spec.device,
            is_image,
            checkpoint,
            record or {},
            resume_from,
            checkpoint_every_s,
            None,
            spec.progress,
            None if on_step is None else (lambda i: on_step(model, i)),
        ))
    finally:
        sampler.close()
    return model, result


def hyperinr_predictor(model: Any, frame_shape: tuple[int, ...], is_image: bool):
    """``u (D,) normalized -> normalized frame`` through :meth:`HyperINR.generate` and a grid decode."""
    space = tuple(frame_shape[:-1]) if is_image else tuple(frame_shape)

    @torch.no_grad()
    def predict(u: np.ndarray) -> np.ndarray:
        inr = model.generate(model.denormalize(np.asarray(u, np.float64)))
        return inr.sample_grid(space).cpu().numpy().reshape(frame_shape)

    return predict
