"""The paper's teacher stage: fit a CoordNet to the training frames (``hyperinr train-teacher``)."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch

from hyperinr_core.device import pick_device
from hyperinr_core.errors import HyperINRError
from hyperinr_core.model.coordnet import CoordNet
from hyperinr_core.model.field_info import FieldInfo
from hyperinr_core.train.budget import resolve_budget, seeded_generator
from hyperinr_core.train.checkpoint import read_checkpoint
from hyperinr_core.train.fit import FitRun, fit
from hyperinr_core.train.job import RunOptions
from hyperinr_core.train.loop import TrainResult
from hyperinr_core.train.outputs import check_outputs, finish_outputs, jsonable
from hyperinr_core.train.presets import FitConfig, preset_for
from hyperinr_core.train.sampling import frame_sampler


@dataclass
class TeacherJob(RunOptions):
    """``hyperinr train-teacher``: fit a CoordNet to the training frames of ``data``."""



def train_teacher(job: TeacherJob) -> TrainResult:
    """Train (or resume training) the CoordNet teacher and save it to ``job.out``.

    Under ``torchrun`` every process runs this; training is data-parallel and rank 0 writes the outputs.
    """
    from hyperinr_core.data.dataset import open_dataset
    from hyperinr_core.train.distributed import init_from_env

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
                FitRun(
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
            )
        finally:
            sampler.close()
    finish_outputs(result, model.save, out, ckpt)
    return result
