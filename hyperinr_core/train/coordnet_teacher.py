"""The paper's teacher stage: fit a CoordNet to the training frames (``hyperinr train-teacher``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import torch

from hyperinr_core.errors import HyperINRError
from hyperinr_core.model.coordnet import CoordNet
from hyperinr_core.train.job import RunOptions
from hyperinr_core.train.loop import TrainResult
from hyperinr_core.train.presets import FitConfig
from hyperinr_core.train.sampling import frame_sampler
from hyperinr_core.train.stage import open_stage


@dataclass
class TeacherJob(RunOptions):
    """``hyperinr train-teacher``: fit a CoordNet to the training frames of ``data``."""



def train_teacher(job: TeacherJob) -> TrainResult:
    """Train (or resume training) the CoordNet teacher and save it to ``job.out``.

    Under ``torchrun`` every process runs this; training is data-parallel and rank 0 writes the outputs.
    """
    with open_stage(job) as st:
        info, preset = st.info, st.preset
        if st.resume_from is not None:
            model = CoordNet.load(st.ckpt)
            if model.info.frame_shape != info.frame_shape or model.info.param_names != info.param_names:
                raise HyperINRError(f"{st.ckpt}: checkpoint was made for other data than {job.data}")
            fit_cfg = FitConfig(**{**asdict(preset.teacher_fit), **st.resume_from.state["job"].get("fit", {})})
        else:
            torch.manual_seed(job.seed)
            cfg = replace(
                preset.teacher,
                n_input_dims=info.n_param_dims + info.n_space_dims,
                n_output_dims=info.n_channels,
            )
            model = CoordNet(cfg, info)
            fit_cfg = preset.teacher_fit
        model.to(st.device)
        sampler = frame_sampler(st.ds, st.device, job.seed, job.memory_budget, job.refresh_every)
        budget = st.budget(preset.teacher_steps, preset.teacher_minutes)
        result = st.fit("teacher", model, model.query, sampler, fit_cfg, budget)
    st.finish(result, model.save)
    return result
