"""Build a teacher of any kind from a stack of training frames (normalized, in memory)."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass

import numpy as np
import torch

from hyperinr_core.data.dataset_writer import write_dataset
from hyperinr_core.errors import HyperINRError
from hyperinr_core.model.field_info import FieldInfo
from hyperinr_core.train.teachers import TEACHER_KINDS, LerpTeacher, ModelTeacher, Teacher

__all__ = ["TeacherBuild", "build_teacher", "NETWORK_TEACHERS"]

#: teachers trained by gradient descent (minutes), as opposed to those built in seconds (flow, lerp)
NETWORK_TEACHERS = ("coordnet", "hashinr")


@dataclass
class TeacherBuild:
    """How to build a network teacher (coordnet, hashinr): budget, where the model goes, and options."""

    out: str | None = None  # model file; None: a temporary file, removed after loading
    steps: int | None = None
    minutes: float | None = None
    preset: str | None = None
    seed: int = 0
    device: str | None = None
    progress: bool = True
    data: str | None = None  # the dataset itself, when the frames are all of its training frames


def build_teacher(
    kind: str,
    frames: np.ndarray,
    params_u: np.ndarray,
    info: FieldInfo,
    device: torch.device,
    build: TeacherBuild | None = None,
) -> Teacher | None:
    """A teacher of ``kind`` from ``frames (N, *frame_shape)`` (normalized) at ``params_u (N, D)``.

    ``none`` returns None. Network teachers train on a dataset holding these frames (``build.data`` when
    given, else a temporary one) within ``build``'s budget.
    """
    if kind not in TEACHER_KINDS:
        raise HyperINRError(f"unknown teacher {kind!r} (choose auto, {', '.join(TEACHER_KINDS)})")
    build = build or TeacherBuild()
    if kind == "none":
        return None
    if kind == "lerp":
        return LerpTeacher(frames, params_u, periodic=info.periodic_mask)
    if kind == "flow":
        from hyperinr_core.train.flow import FlowTeacher

        return FlowTeacher.fit(
            frames,
            params_u,
            device=device,
            progress=build.progress,
            is_image=info.n_space_dims == 2,
            periodic=info.periodic_mask,
        )
    return _network_teacher(kind, frames, params_u, info, build)


def _network_teacher(
    kind: str, frames: np.ndarray, params_u: np.ndarray, info: FieldInfo, build: TeacherBuild
) -> Teacher:
    from hyperinr_core.model.hashinr import HashINR
    from hyperinr_core.train.hashinr_train import HashINRJob, train_hashinr
    from hyperinr_core.model.coordnet import CoordNet
    from hyperinr_core.train.coordnet_teacher import TeacherJob, train_teacher

    if build.steps is None and build.minutes is None:
        raise HyperINRError(f"a {kind} teacher needs a budget in steps or minutes")
    with tempfile.TemporaryDirectory(prefix="hyperinr-teacher-") as tmp:
        data = build.data or _write_frames(os.path.join(tmp, "fit.h5"), frames, params_u, info)
        out = build.out or os.path.join(tmp, f"{kind}.h5")
        common = dict(
            data=data,
            out=out,
            preset=build.preset,
            steps=build.steps,
            minutes=build.minutes,
            seed=build.seed,
            device=build.device,
            force=True,
            progress=build.progress,
        )
        if kind == "coordnet":
            train_teacher(TeacherJob(**common))
            model = CoordNet.load(out, build.device)
        else:
            train_hashinr(HashINRJob(**common))
            model = HashINR.load(out, build.device)
    model.eval()
    # The teacher normalizes by the value range of the frames it saw; map its output to ``info``'s.
    (tlo, thi), (lo, hi) = model.info.value_range, info.value_range
    a, b = (thi - tlo) / (hi - lo), (tlo - lo) / (hi - lo)

    def predict_grid(u: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        return model.predict_grid(u, shape) * np.float32(a) + np.float32(b)

    return ModelTeacher(kind, predict_grid, tuple(info.frame_shape), info.n_space_dims == 2)


def _write_frames(path: str, frames: np.ndarray, params_u: np.ndarray, info: FieldInfo) -> str:
    """A dataset file holding ``frames`` (all training) in data units, for a network teacher to fit."""
    lo, hi = info.value_range
    lo_p, hi_p = np.asarray(info.param_lo), np.asarray(info.param_hi)
    params = lo_p + np.asarray(params_u) * (hi_p - lo_p)
    write_dataset(
        path,
        info.task,
        info.param_names,
        info.param_lo,
        info.param_hi,
        params,
        (f * (hi - lo) + lo for f in frames),
        train_mask=np.ones(len(frames), bool),
    )
    return path
