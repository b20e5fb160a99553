"""Where a training run writes: refuse to overwrite, then save the model and drop its checkpoint."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from hyperinr_core.errors import HyperINRError
from hyperinr_core.train.checkpoint import checkpoint_path
from hyperinr_core.train.loop import TrainResult


def check_outputs(out: Path, force: bool, resume: bool) -> Path:
    """Refuse to overwrite an existing output; return the checkpoint path."""
    ckpt = checkpoint_path(out)
    if out.exists() and not force:
        raise HyperINRError(
            f"{out}: output exists; choose another name or overwrite it ({{force}})", force="force=True"
        )
    if resume and not ckpt.exists():
        raise HyperINRError(f"{ckpt}: no checkpoint to resume from")
    return ckpt


def finish_outputs(result: TrainResult, save: Callable[[Path], None], out: Path, ckpt: Path) -> None:
    from hyperinr_core.train.distributed import barrier, is_main_process

    if is_main_process():
        save(out)
        if ckpt.exists():
            ckpt.unlink()  # the finished model supersedes it
    barrier()  # the next stage (on any rank) may read ``out``


def jsonable(d: dict) -> dict:
    return json.loads(json.dumps(d))
