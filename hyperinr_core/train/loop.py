"""The training loop every trainer shares: seeded sampling, a budget in steps or minutes, tqdm progress,
periodic atomic checkpoints (:mod:`~hyperinr_core.train.checkpoint`), exact resume and Ctrl-C that saves
before it exits.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from hyperinr_core.errors import FileFormatError, HyperINRError
from hyperinr_core.train.budget import TIME_BAR_FORMAT, Budget, LRSchedule
from hyperinr_core.train.checkpoint import Checkpoint, write_checkpoint


@dataclass
class TrainResult:
    """How a loop ended: ``finished`` (budget spent) or interrupted, with the loss curve."""

    step: int
    seconds: float
    finished: bool
    losses: list[tuple[int, float]]
    final_loss: float


class _SigintFlag:
    """First Ctrl-C asks the loop to stop after the current step; a second one interrupts at once."""

    def __init__(self) -> None:
        self.hit = False
        self._old = None

    def __enter__(self) -> _SigintFlag:
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self.hit:
            raise KeyboardInterrupt
        self.hit = True

    def __exit__(self, *exc: object) -> None:
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)


@contextlib.contextmanager
def _lost_process_as_error(loop: TrainLoop):
    """Under torchrun, a collective that fails because another process died ends the run with one line
    (and no checkpoint attempt: writing one needs every process)."""
    from hyperinr_core.train.distributed import lost_process

    try:
        yield
    except RuntimeError as exc:
        ckpt = loop.checkpoint if loop.checkpoint is not None and loop.checkpoint.exists() else None
        err = lost_process(exc, loop.dist, ckpt)
        if err is None:
            raise
        raise err from None


class TrainLoop:
    """Runs ``step_fn`` until the budget is spent, with progress, checkpoints, resume and Ctrl-C.

    Args:
        name: progress-bar label.
        optimizer: its learning rate is set from ``schedule`` before each step.
        generator: the run's only source of randomness for sampling (checkpointed).
        budget: steps and/or minutes.
        schedule: learning rate as a function of budget progress.
        model_file: returns ``(kind, config, arrays)`` of the model now (for checkpoints).
        checkpoint: checkpoint path, or None for no checkpoints.
        checkpoint_every_s: seconds of training between checkpoints (also ``checkpoint_every_steps``).
        job: JSON-able description of the run (stored in the checkpoint, checked on resume).
        scaler: a ``torch.amp.GradScaler`` (AMP on CUDA) or None.
        log_every: record the loss curve every this many steps.
        progress: show a tqdm bar.

    Under data-parallel training (:mod:`.distributed`) every rank runs the loop on the same step: the budget,
    the training clock and Ctrl-C are rank 0's (synchronized after each step), and only rank 0 shows
    progress, prints and writes checkpoints.
    """

    def __init__(
        self,
        name: str,
        optimizer: torch.optim.Optimizer,
        generator: torch.Generator,
        budget: Budget,
        schedule: LRSchedule,
        model_file: Callable[[], tuple[str, dict, dict[str, np.ndarray]]],
        checkpoint: str | os.PathLike | None = None,
        checkpoint_every_s: float = 300.0,
        checkpoint_every_steps: int | None = None,
        job: dict | None = None,
        scaler: Any | None = None,
        log_every: int = 10,
        progress: bool = True,
    ):
        self.name = name
        self.optimizer = optimizer
        self.generator = generator
        self.budget = budget
        self.schedule = schedule
        self.model_file = model_file
        self.checkpoint = None if checkpoint is None else Path(checkpoint)
        self.checkpoint_every_s = checkpoint_every_s
        self.checkpoint_every_steps = checkpoint_every_steps
        self.job = job or {}
        self.scaler = scaler
        self.log_every = max(1, int(log_every))
        from hyperinr_core.train.distributed import context

        self.dist = context()
        self.progress = progress and self.dist.is_main
        self.step = 0
        self.seconds = 0.0
        self.losses: list[tuple[int, float]] = []

    # -- resume --------------------------------------------------------------------------------------------
    def restore(self, ckpt: Checkpoint) -> None:
        """Continue from ``ckpt`` (read with :func:`read_checkpoint`); the model must hold its weights."""
        st = ckpt.state
        self.step = int(st["step"])
        self.seconds = float(st["seconds"])
        self.losses = [(int(s), float(v)) for s, v in st.get("losses", [])]
        if ckpt.optimizer is not None:
            try:
                self.optimizer.load_state_dict(ckpt.optimizer)
            except (ValueError, KeyError, RuntimeError) as exc:
                raise FileFormatError(ckpt.path, f"optimizer state does not fit this model ({exc})") from None
        if ckpt.scaler is not None and self.scaler is not None and self.scaler.is_enabled():
            self.scaler.load_state_dict(ckpt.scaler)
        self.generator.set_state(ckpt.rng["generator"])
        torch.set_rng_state(ckpt.rng["torch_cpu"])
        cuda = [ckpt.rng[k] for k in sorted(ckpt.rng) if k.startswith("cuda")]
        if cuda and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(cuda[: torch.cuda.device_count()])

    def save_checkpoint(self) -> None:
        if self.checkpoint is None or not self.dist.is_main:
            return
        state = {
            "step": self.step,
            "seconds": self.seconds,
            "losses": self.losses,
            "budget": asdict(self.budget),
            "job": self.job,
        }
        write_checkpoint(
            self.checkpoint, self.model_file(), self.optimizer, self.scaler, self.generator, state
        )

    # -- run -----------------------------------------------------------------------------------------------
    def run(self, step_fn: Callable[[int], Tensor]) -> TrainResult:
        """Call ``step_fn(step)`` (one optimizer step, returning the detached loss; ``step`` counts from 0
        across resumes) until the budget is spent.

        Raises KeyboardInterrupt after saving a checkpoint when the user presses Ctrl-C.
        """
        from tqdm.auto import tqdm

        from hyperinr_core.device import retune_threads
        from hyperinr_core.train.distributed import broadcast_floats, sync_control

        distributed = self.dist.distributed
        if distributed:  # every rank follows rank 0's budget (a deadline-derived one may differ by ms)
            steps, minutes, seconds = broadcast_floats(
                [
                    -1.0 if self.budget.steps is None else float(self.budget.steps),
                    -1.0 if self.budget.minutes is None else float(self.budget.minutes),
                    self.seconds,
                ]
            )
            self.budget = Budget(None if steps < 0 else int(steps), None if minutes < 0 else minutes)
            self.seconds = seconds
        # A step budget counts steps; a time budget counts seconds of training (tqdm's ETA works for both).
        by_steps = self.budget.minutes is None
        total = self.budget.steps if by_steps else int(round(60 * self.budget.minutes))
        bar = tqdm(
            total=total,
            initial=min(self.step if by_steps else int(self.seconds), total),
            desc=self.name,
            unit="step" if by_steps else "s",
            # A time budget counts seconds of training: a rate would read "s/s"; the postfix has the step.
            bar_format=None if by_steps else TIME_BAR_FORMAT,
            disable=not self.progress,
            dynamic_ncols=True,
            leave=True,
        )
        last_ckpt_s, last_ckpt_step = self.seconds, self.step
        recent: list[float] = []  # the progress bar shows the mean of the last few logged losses
        pending: list[tuple[int, Tensor]] = []
        interrupted = False
        try:
            with _SigintFlag() as sigint, _lost_process_as_error(self):
                t0 = time.perf_counter()
                while not self.budget.done(self.step, self.seconds):
                    lr = self.schedule(self.budget.fraction(self.step, self.seconds))
                    for g in self.optimizer.param_groups:
                        g["lr"] = lr
                    loss = step_fn(self.step)
                    self.step += 1
                    if self.step % self.log_every == 0 or self.step == 1:
                        pending.append((self.step, loss))
                    if len(pending) >= 4:
                        # .item() synchronizes the device: do it in batches, not every step.
                        for s, v in pending:
                            val = float(v)
                            if not math.isfinite(val):
                                raise HyperINRError(
                                    f"{self.name}: loss became {val} at step {s}; try a lower learning rate"
                                )
                            self.losses.append((s, val))
                            recent = (recent + [val])[-5:]
                        pending.clear()
                    retune_threads()  # other processes come and go during a long run
                    # A time budget is wall time: the whole iteration counts (step, thread retuning, progress
                    # bar), only checkpoint writes do not.
                    now = time.perf_counter()
                    self.seconds += now - t0
                    t0 = now
                    if distributed:  # rank 0's clock and anyone's Ctrl-C: all ranks decide alike
                        self.seconds, stop = sync_control(self.seconds, sigint.hit, self.dist.rank)
                        sigint.hit = sigint.hit or stop
                    if recent and self.step % self.log_every == 0:
                        loss_txt = f"{sum(recent) / len(recent):.3g}"
                        bar.set_postfix(step=self.step, loss=loss_txt, lr=f"{lr:.2g}", refresh=False)
                    if by_steps:
                        bar.update(1)
                    else:
                        bar.update(min(int(self.seconds), total) - bar.n)
                    if self.checkpoint is not None and (
                        self.seconds - last_ckpt_s >= self.checkpoint_every_s
                        or (
                            self.checkpoint_every_steps
                            and self.step - last_ckpt_step >= self.checkpoint_every_steps
                        )
                    ):
                        self._flush(pending)
                        self.save_checkpoint()
                        last_ckpt_s, last_ckpt_step = self.seconds, self.step
                        t0 = time.perf_counter()
                    if sigint.hit:
                        interrupted = True
                        break
        finally:
            bar.close()
        self._flush(pending)
        if interrupted:
            self.save_checkpoint()
            if self.checkpoint is not None and self.dist.is_main:
                print(
                    f"{self.name}: interrupted at step {self.step}; checkpoint saved to {self.checkpoint} "
                    "(resume the run to continue)"
                )
            raise KeyboardInterrupt
        final = float(np.mean([v for _, v in self.losses[-5:]])) if self.losses else float("nan")
        return TrainResult(self.step, self.seconds, True, list(self.losses), final)

    def _flush(self, pending: list[tuple[int, Tensor]]) -> None:
        for s, v in pending:
            self.losses.append((s, float(v)))
        pending.clear()
