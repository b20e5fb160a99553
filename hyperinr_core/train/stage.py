"""The skeleton every file-based trainer shares: device, preset, outputs, data, resume, budget, fit, finish.

    with open_stage(job) as st:                      # device (+ process group), preset, outputs, dataset
        model = ... st.resume_from ...                # the trainer's own model, fresh or resumed
        result = st.fit("teacher", model, query, sampler, fit_cfg, st.budget(steps, minutes))
    st.finish(result, model.save)                     # atomic outputs, checkpoint removed when done

:func:`~hyperinr_core.train.coordnet_teacher.train_teacher`, :func:`~hyperinr_core.train.distill.distill` and
:func:`~hyperinr_core.train.hashinr_train.train_hashinr` are this skeleton with their own model and sampler.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from hyperinr_core.model.field_info import FieldInfo
from hyperinr_core.train.budget import Budget, resolve_budget, seeded_generator
from hyperinr_core.train.checkpoint import Checkpoint, read_checkpoint
from hyperinr_core.train.fit import FitRun, fit
from hyperinr_core.train.job import RunOptions
from hyperinr_core.train.loop import TrainResult
from hyperinr_core.train.outputs import check_outputs, finish_outputs, jsonable
from hyperinr_core.train.presets import FitConfig, Preset, preset_for

__all__ = ["Stage", "open_stage"]


@dataclass
class Stage:
    """One trainer's run of ``job``: where it runs, with what, into which files, resumed from what."""

    job: RunOptions
    device: torch.device
    preset: Preset
    out: Path
    ckpt: Path
    ds: Any
    info: FieldInfo
    resume_from: Checkpoint | None

    def budget(self, default_steps: int | None, default_minutes: float | None) -> Budget:
        """The job's budget, else the checkpoint's (on resume), else the preset's defaults given."""
        rec = self.resume_from.state.get("budget") if self.resume_from else None
        return resolve_budget(self.job.steps, self.job.minutes, default_steps, default_minutes, rec)

    def fit(
        self,
        name: str,
        model: torch.nn.Module,
        query: Callable,
        sampler: Any,
        fit_cfg: FitConfig,
        budget: Budget,
        **record: Any,
    ) -> TrainResult:
        """Train ``model`` through ``query`` on ``sampler``'s batches (closed afterwards); ``record`` joins the
        checkpoint's job record, which a resume checks."""
        job = self.job
        rec = {
            "stage": name,
            "data": os.path.abspath(job.data),
            "seed": job.seed,
            "fit": jsonable(asdict(fit_cfg)),
            "preset": self.preset.name,
            **record,
        }
        try:
            return fit(
                FitRun(
                    name,
                    list(model.parameters()),
                    query,
                    sampler,
                    fit_cfg,
                    budget,
                    seeded_generator(job.seed),
                    model.model_file,
                    self.device,
                    self.ds.is_image,
                    self.ckpt,
                    rec,
                    self.resume_from,
                    job.checkpoint_every_s,
                    job.checkpoint_every_steps,
                    job.progress,
                )
            )
        finally:
            if hasattr(sampler, "close"):
                sampler.close()

    def finish(self, result: TrainResult, save: Callable[[Path], None]) -> None:
        """Write the model (atomically) and drop the checkpoint once the budget is spent."""
        finish_outputs(result, save, self.out, self.ckpt)


@contextmanager
def open_stage(job: RunOptions) -> Iterator[Stage]:
    """Device (joining the process group under ``torchrun``), preset, checked outputs, the open dataset and
    the checkpoint to resume from (with ``job.resume``)."""
    from hyperinr_core.data.dataset import open_dataset
    from hyperinr_core.device import pick_device
    from hyperinr_core.train.distributed import init_from_env

    device = pick_device(job.device)
    init_from_env(device)
    preset = preset_for(job.preset, device)
    out = Path(job.out)
    ckpt = check_outputs(out, job.force, job.resume)
    with open_dataset(job.data) as ds:
        resume_from = read_checkpoint(ckpt) if job.resume else None
        yield Stage(job, device, preset, out, ckpt, ds, FieldInfo.from_dataset(ds), resume_from)
