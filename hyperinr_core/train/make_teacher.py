"""Build a teacher of any kind from a stack of training frames (normalized, in memory)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from hyperinr_core.errors import HyperINRError
from hyperinr_core.model.field_info import FieldInfo
from hyperinr_core.train.teachers import TEACHER_KINDS, LerpTeacher, ModelTeacher, Teacher

__all__ = ["TeacherBuild", "build_teacher", "NETWORK_TEACHERS"]

#: teachers trained by gradient descent (minutes), as opposed to those built in seconds (flow, lerp)
NETWORK_TEACHERS = ("coordnet", "hashinr")

if TYPE_CHECKING:
    from hyperinr_core.train.flow_motion import FlowCache


@dataclass
class TeacherBuild:
    """How to build a teacher: a network teacher's (coordnet, hashinr) budget, where its model goes and
    options; a flow teacher's :class:`~hyperinr_core.train.flow_motion.FlowCache` and the frames' keys in it
    (``frame_keys (N,)``, say indices into all training frames)."""

    out: str | None = None  # model file the teacher is saved to (None: kept in memory only)
    steps: int | None = None
    minutes: float | None = None
    preset: str | None = None
    seed: int = 0
    device: str | None = None
    progress: bool = True
    flow_cache: FlowCache | None = None
    frame_keys: np.ndarray | None = None


def build_teacher(
    kind: str,
    frames: np.ndarray,
    params_u: np.ndarray,
    info: FieldInfo,
    device: torch.device,
    build: TeacherBuild | None = None,
) -> Teacher | None:
    """A teacher of ``kind`` from ``frames (N, *frame_shape)`` (normalized) at ``params_u (N, D)``.

    ``none`` returns None. Network teachers train on these frames in memory within ``build``'s budget.
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
            cache=build.flow_cache,
            keys=build.frame_keys,
        )
    return _network_teacher(kind, frames, params_u, info, build)


def _network_teacher(
    kind: str, frames: np.ndarray, params_u: np.ndarray, info: FieldInfo, build: TeacherBuild
) -> Teacher:
    """A CoordNet or HashINR fitted to the frames in memory (normalized; its value range is ``info``'s);
    saved to ``build.out`` when given."""
    from dataclasses import replace

    from hyperinr_core.device import pick_device
    from hyperinr_core.model.coordnet import CoordNet
    from hyperinr_core.model.hashinr import HashINR, HashINRConfig
    from hyperinr_core.train.budget import Budget, seeded_generator
    from hyperinr_core.train.fit import FitRun, fit
    from hyperinr_core.train.presets import preset_for
    from hyperinr_core.train.targets import in_memory_sampler

    if build.steps is None and build.minutes is None:
        raise HyperINRError(f"a {kind} teacher needs a budget in steps or minutes")
    device = pick_device(build.device)
    preset = preset_for(build.preset, device)
    is_image = info.n_space_dims == 2
    if kind == "coordnet":
        torch.manual_seed(build.seed)
        cfg = replace(
            preset.teacher, n_input_dims=info.n_param_dims + info.n_space_dims, n_output_dims=info.n_channels
        )
        model, fit_cfg = CoordNet(cfg, info), preset.teacher_fit
    else:
        model = HashINR(HashINRConfig(), info, generator=seeded_generator(build.seed + 7))
        fit_cfg = preset.distill_fit
    model.to(device)
    sampler = in_memory_sampler(frames, params_u, is_image, device, build.seed)
    try:
        fit(FitRun(
            f"{kind} teacher",
            list(model.parameters()),
            model.query,
            sampler,
            fit_cfg,
            Budget(build.steps, build.minutes),
            seeded_generator(build.seed),
            model.model_file,
            device,
            is_image,
            None,
            {},
            progress=build.progress,
        ))
    finally:
        sampler.close()
    model.eval()
    if build.out:
        model.save(build.out)

    def predict_grid(u: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        return model.predict_grid(u, shape)

    return ModelTeacher(kind, predict_grid, tuple(info.frame_shape), is_image)
