"""What every training command shares: the data in, the model out, the budget, the seed and device, and how
the run checkpoints, shows progress and holds frames in memory (docs/ARCHITECTURE.md, "Training")."""

from __future__ import annotations

from dataclasses import dataclass

from hyperinr_core.train.budget import DEFAULT_MEMORY_BUDGET

__all__ = ["RunOptions"]


@dataclass
class RunOptions:
    """Options of one training run. Every job (:class:`~hyperinr_core.train.coordnet_teacher.TeacherJob`,
    :class:`~hyperinr_core.train.distill.DistillJob`, :class:`~hyperinr_core.train.hashinr_train.HashINRJob`,
    :class:`~hyperinr_core.train.pipeline.PipelineJob`) adds its own after these.

    Attributes:
        data, out: the dataset file read and the model file written.
        preset: model sizes and budgets (:mod:`~hyperinr_core.train.presets`; default by device).
        steps, minutes: the budget (the preset's when both are None).
        resume: continue from ``out``'s checkpoint; force: replace an existing ``out``.
        checkpoint_every_s, checkpoint_every_steps: how often the checkpoint is written.
        memory_budget: bytes of frames held in memory before they are streamed from the file.
        refresh_every: batches per streamed pool of frames.
    """

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
    memory_budget: int | None = DEFAULT_MEMORY_BUDGET
    refresh_every: int = 200
