"""Training the HashINR baseline (:mod:`hyperinr_core.model.hashinr`) directly on the training frames:
``hyperinr train --baseline hashinr``, and the ``hashinr`` teacher."""

from __future__ import annotations

from dataclasses import dataclass, replace

from hyperinr_core.model.hashinr import HashINR, HashINRConfig
from hyperinr_core.train.budget import seeded_generator
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
    from hyperinr_core.train.sampling import frame_sampler
    from hyperinr_core.train.stage import open_stage

    with open_stage(job) as st:
        if st.resume_from is not None:
            model = HashINR.load(st.ckpt)
        else:
            cfg = HashINRConfig()
            if job.log2_hashmap_size:
                cfg = replace(cfg, encoding=replace(cfg.encoding, log2_hashmap_size=job.log2_hashmap_size))
            model = HashINR(cfg, st.info, generator=seeded_generator(job.seed + 7))
        model.to(st.device)
        model.encoder(job.compile)
        sampler = frame_sampler(st.ds, st.device, job.seed, job.memory_budget, job.refresh_every)
        budget = st.budget(st.preset.distill_steps, st.preset.distill_minutes)
        result = st.fit("hashinr", model, model.query, sampler, st.preset.distill_fit, budget)
    st.finish(result, model.save)
    return result
