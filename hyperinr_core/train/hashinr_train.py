"""Training the HashINR baseline (:mod:`hyperinr_core.model.hashinr`) directly on the training frames:
``hyperinr train --baseline hashinr``, and the ``hashinr`` teacher."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from hyperinr_core.model.field_info import FieldInfo
from hyperinr_core.model.hashinr import HashINR, HashINRConfig
from hyperinr_core.train.budget import seeded_generator
from hyperinr_core.train.checkpoint import read_checkpoint
from hyperinr_core.train.job import RunOptions
from hyperinr_core.train.loop import TrainResult

__all__ = ["HashINRJob", "train_hashinr"]


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
