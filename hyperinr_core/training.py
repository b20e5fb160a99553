"""The training loop every trainer shares: seeded sampling, a budget in steps or minutes, tqdm progress,
periodic atomic checkpoints, exact ``--resume`` and Ctrl-C that saves before it exits.

A checkpoint is a model file (:mod:`.modelfile`, loadable as the model it holds) with one extra group,
``/checkpoint``: the optimizer (and gradient scaler) state as tensors, the random generators' states as
byte arrays and the loop state (step, training seconds, loss curve, the job description) as a JSON
attribute. Nothing is pickled. Restoring all of it makes a resumed run follow the same loss curve as an
uninterrupted one (bit-identical on CPU with a step budget).

The sampling helpers turn frames (dataset frames or distillation-set samples, normalized to [0, 1]) into
batches: ``u (B, D)`` normalized parameters, ``x (B, M, d)`` node-centred coordinates, ``y (B, M, C)``
targets. All randomness comes from one ``torch.Generator`` that is checkpointed.
"""

from __future__ import annotations

import json
import math
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch
from torch import Tensor

from .errors import FileFormatError, HyperINRError
from .fileio import atomic_path
from .modelfile import write_model_file

__all__ = [
    "DEFAULT_MEMORY_BUDGET",
    "FieldInfo",
    "Budget",
    "LRSchedule",
    "TrainLoop",
    "TrainResult",
    "Checkpoint",
    "read_checkpoint",
    "checkpoint_path",
    "FrameSampler",
    "node_coordinates",
    "seeded_generator",
    "pick_device",
    "configure_threads",
]


# Bytes of frames a trainer keeps in memory (per process) before it streams them from the file instead.
DEFAULT_MEMORY_BUDGET = 4 << 30


# -- what a trained model knows about its data ------------------------------------------------------------
@dataclass
class FieldInfo:
    """The data a model was trained on, as far as using the model needs to know.

    Attributes:
        param_names, param_lo, param_hi: D parameter names and bounds (user units).
        value_range: (lo, hi) data units; models predict (v - lo) / (hi - lo).
        task: "tsr", "dgs" or "nvs".
        n_space_dims: 3 for volumes, 2 for images.
        n_channels: values per point (1 for volumes, C for images).
        frame_shape: (Z, Y, X) or (H, W, C) of the training frames (a default grid for sampling).
    """

    param_names: list[str] = field(default_factory=lambda: ["t"])
    param_lo: list[float] = field(default_factory=lambda: [0.0])
    param_hi: list[float] = field(default_factory=lambda: [1.0])
    value_range: tuple[float, float] = (0.0, 1.0)
    task: str = "tsr"
    n_space_dims: int = 3
    n_channels: int = 1
    frame_shape: list[int] = field(default_factory=list)

    @property
    def n_param_dims(self) -> int:
        return len(self.param_names)

    @classmethod
    def from_dataset(cls, ds: Any) -> FieldInfo:
        """From an open :class:`~hyperinr_core.data.Dataset`."""
        lo, hi = ds.value_range
        if not hi > lo:  # a constant dataset: any positive span keeps the normalization finite
            hi = lo + 1.0
        return cls(
            param_names=list(ds.param_names),
            param_lo=[float(v) for v in ds.param_lo],
            param_hi=[float(v) for v in ds.param_hi],
            value_range=(float(lo), float(hi)),
            task=ds.task,
            n_space_dims=2 if ds.is_image else 3,
            n_channels=int(ds.frame_shape[-1]) if ds.is_image else 1,
            frame_shape=[int(s) for s in ds.frame_shape],
        )

    def to_dict(self) -> dict:
        d = asdict(self)
        d["value_range"] = [float(v) for v in self.value_range]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> FieldInfo:
        kw = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        if "value_range" in kw:
            kw["value_range"] = tuple(float(v) for v in kw["value_range"])
        return cls(**kw)

    def normalize(self, theta: np.ndarray) -> np.ndarray:
        """User-unit parameters (..., D) -> [0, 1]^D."""
        lo, hi = np.asarray(self.param_lo), np.asarray(self.param_hi)
        return np.clip((np.asarray(theta, dtype=np.float64) - lo) / (hi - lo), 0.0, 1.0)

    def check_compatible(self, ds: Any, what: str) -> None:
        """Raise HyperINRError when dataset ``ds`` does not fit a model trained on this field."""
        if list(ds.param_names) != list(self.param_names):
            raise HyperINRError(
                f"{what} has parameters {self.param_names}, {ds.path} has {list(ds.param_names)}"
            )
        if ds.task != self.task:
            raise HyperINRError(f"{what} was trained for task {self.task}, {ds.path} is a {ds.task} dataset")
        if (2 if ds.is_image else 3) != self.n_space_dims or (
            ds.is_image and int(ds.frame_shape[-1]) != self.n_channels
        ):
            raise HyperINRError(
                f"{what} does not produce frames of shape {tuple(ds.frame_shape)} ({ds.path})"
            )


def pick_device(name: str | None = None) -> torch.device:
    """``name`` or CUDA when available, else CPU. An unusable device name is a user error.

    Under ``torchrun`` (more than one process) ``cuda`` without an index means the GPU of the process's
    local rank.
    """
    from .distributed import env_local_rank, env_world_size

    if name in (None, "", "auto"):
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(name)
    except RuntimeError as exc:
        raise HyperINRError(f"unknown device {name!r}: {exc}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise HyperINRError(f"device {name!r} requested but CUDA is not available")
    if dev.type == "cuda" and dev.index is None and env_world_size() > 1:
        local = env_local_rank()
        if local >= torch.cuda.device_count():
            raise HyperINRError(
                f"local rank {local} has no GPU ({torch.cuda.device_count()} visible); "
                "start at most one process per GPU (torchrun --nproc_per_node)"
            )
        dev = torch.device("cuda", local)
    return dev


def configure_threads(threads: int | None = None) -> int:
    """Set torch's CPU thread count: ``threads``, or automatically fewer on a busy machine.

    Why: when other processes already keep the cores busy, OpenMP worker threads wait on each other and a
    two-thread step can be several times slower than a one-thread step (measured on the shared 2-core
    development machine: CoordNet training 7k vs 36k points/s). Auto keeps all cores on an idle machine.
    """
    if threads is not None:
        if threads < 1:
            raise HyperINRError(f"--threads must be >= 1, got {threads}")
        torch.set_num_threads(int(threads))
        return int(threads)
    try:
        n_cpu = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        n_cpu = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except OSError:  # pragma: no cover
        load = 0.0
    n = max(1, min(torch.get_num_threads(), n_cpu - int(math.ceil(load - 0.5))))
    torch.set_num_threads(n)
    return n


def seeded_generator(seed: int) -> torch.Generator:
    """The sampling generator of a run (on the CPU, so sampling is identical on every device)."""
    return torch.Generator().manual_seed(int(seed))


# -- budget and learning-rate schedule -----------------------------------------------------------------------
@dataclass
class Budget:
    """Stop after ``steps`` optimizer steps or ``minutes`` of training time, whichever comes first.

    Training time counts only the loop (not loading, not checkpoint writes) and carries over a resume.
    Step budgets make runs reproducible; time budgets make them finish on time.
    """

    steps: int | None = None
    minutes: float | None = None

    def __post_init__(self) -> None:
        if self.steps is None and self.minutes is None:
            raise HyperINRError("a training budget needs --steps or --minutes")
        if self.steps is not None and self.steps < 1:
            raise HyperINRError(f"--steps must be >= 1, got {self.steps}")
        if self.minutes is not None and not self.minutes > 0:
            raise HyperINRError(f"--minutes must be > 0, got {self.minutes}")

    def fraction(self, step: int, seconds: float) -> float:
        """Progress in [0, 1]: the larger of the step and the time fraction."""
        f = 0.0
        if self.steps is not None:
            f = max(f, step / self.steps)
        if self.minutes is not None:
            f = max(f, seconds / (60.0 * self.minutes))
        return min(f, 1.0)

    def done(self, step: int, seconds: float) -> bool:
        return self.fraction(step, seconds) >= 1.0


@dataclass
class LRSchedule:
    """Constant learning rate, then exponential decay to ``final_factor`` over the last ``decay_fraction``.

    A function of budget progress, so the same schedule serves step and time budgets.
    """

    lr: float = 1e-3
    decay_fraction: float = 0.3
    final_factor: float = 0.1

    def __call__(self, progress: float) -> float:
        start = 1.0 - self.decay_fraction
        if self.decay_fraction <= 0 or progress <= start:
            return self.lr
        t = min((progress - start) / self.decay_fraction, 1.0)
        return self.lr * self.final_factor**t


#: tqdm format of a time-budget bar: seconds done of the budget, no rate (it would be seconds per second).
TIME_BAR_FORMAT = "{l_bar}{bar}| {n_fmt}/{total_fmt} s [{elapsed}<{remaining}{postfix}]"


# -- checkpoints -------------------------------------------------------------------------------------------
def checkpoint_path(out: str | os.PathLike) -> Path:
    """Where the checkpoint of a run writing ``out`` lives: ``model.h5`` -> ``model.ckpt.h5``."""
    p = Path(out)
    return p.with_name(p.stem + ".ckpt" + (p.suffix or ".h5"))


def _encode_tree(obj: Any, arrays: dict[str, np.ndarray], prefix: str) -> Any:
    """JSON-able copy of a nested state dict; tensors go to ``arrays`` and leave a reference behind."""
    if isinstance(obj, Tensor):
        name = f"{prefix}/t{len(arrays)}"
        t = obj.detach().cpu()
        dtype = str(t.dtype).replace("torch.", "")
        if t.dtype == torch.bfloat16:
            t = t.float()
        arrays[name] = t.numpy()
        return {"__tensor__": name, "dtype": dtype}
    if isinstance(obj, dict):
        # JSON keys are strings; remember which were ints (optimizer state is keyed by parameter index).
        return {"__dict__": [[k, type(k).__name__, _encode_tree(v, arrays, prefix)] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        return {"__seq__": type(obj).__name__, "items": [_encode_tree(v, arrays, prefix) for v in obj]}
    if isinstance(obj, float) and not math.isfinite(obj):
        return {"__float__": repr(obj)}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"cannot checkpoint a {type(obj).__name__}")


def _decode_tree(obj: Any, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            t = torch.from_numpy(np.array(arrays[obj["__tensor__"]]))
            return t.to(getattr(torch, obj["dtype"]))
        if "__dict__" in obj:
            return {
                (int(k) if kind == "int" else k): _decode_tree(v, arrays) for k, kind, v in obj["__dict__"]
            }
        if "__seq__" in obj:
            items = [_decode_tree(v, arrays) for v in obj["items"]]
            return tuple(items) if obj["__seq__"] == "tuple" else items
        if "__float__" in obj:
            return float(obj["__float__"])
    return obj


@dataclass
class Checkpoint:
    """What :func:`read_checkpoint` returns: the loop state and the saved optimizer/scaler/RNG states."""

    path: str
    kind: str
    state: dict
    optimizer: dict | None
    scaler: dict | None
    rng: dict[str, Tensor]


def write_checkpoint(
    path: str | os.PathLike,
    model_file: tuple[str, dict, dict[str, np.ndarray]],
    optimizer: torch.optim.Optimizer,
    scaler: Any | None,
    generator: torch.Generator,
    state: dict,
) -> None:
    """Write a checkpoint atomically: model file contents + ``/checkpoint`` group."""
    kind, config, model_arrays = model_file
    arrays: dict[str, np.ndarray] = {}
    tree = {
        "optimizer": _encode_tree(optimizer.state_dict(), arrays, "checkpoint/tensors"),
        "scaler": _encode_tree(scaler.state_dict(), arrays, "checkpoint/tensors")
        if scaler is not None and scaler.is_enabled()
        else None,
    }
    rng = {"generator": generator.get_state(), "torch_cpu": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            rng[f"cuda{i}"] = s
    with atomic_path(path) as tmp:
        write_model_file(tmp, kind, config, model_arrays)
        with h5py.File(tmp, "a") as f:
            g = f.create_group("checkpoint")
            g.attrs["state"] = json.dumps(state)
            g.attrs["tree"] = json.dumps(tree)
            for name, a in arrays.items():
                f.create_dataset(name, data=a)
            for name, s in rng.items():
                g.create_dataset(f"rng/{name}", data=s.numpy())


def read_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Read the training part of a checkpoint (the model part loads with the model's own ``load``)."""
    from .h5safe import read_attr
    from .modelfile import peek_kind

    path = os.fspath(path)
    kind = peek_kind(path)
    try:
        with h5py.File(path, "r") as f:
            g = f.get("checkpoint")
            if not isinstance(g, h5py.Group):
                raise FileFormatError(path, "a model file, not a checkpoint (no /checkpoint group)")
            state = json.loads(read_attr(g, "state"))
            tree = json.loads(read_attr(g, "tree"))
            arrays: dict[str, np.ndarray] = {}
            if "tensors" in g:
                for name, ds in g["tensors"].items():
                    arrays[f"checkpoint/tensors/{name}"] = ds[()]
            rng = {name: torch.from_numpy(ds[()]) for name, ds in g["rng"].items()}
    except (KeyError, ValueError, OSError, json.JSONDecodeError) as exc:
        raise FileFormatError(path, f"malformed checkpoint ({exc})") from None
    return Checkpoint(
        path,
        kind,
        state,
        _decode_tree(tree["optimizer"], arrays),
        _decode_tree(tree["scaler"], arrays) if tree.get("scaler") else None,
        rng,
    )


# -- the loop ----------------------------------------------------------------------------------------------
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
        from .distributed import context

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

        from .distributed import broadcast_floats, sync_control

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
            with _SigintFlag() as sigint:
                while not self.budget.done(self.step, self.seconds):
                    t0 = time.perf_counter()
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
                    self.seconds += time.perf_counter() - t0
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
                    "(run the same command with --resume to continue)"
                )
            raise KeyboardInterrupt
        final = float(np.mean([v for _, v in self.losses[-5:]])) if self.losses else float("nan")
        return TrainResult(self.step, self.seconds, True, list(self.losses), final)

    def _flush(self, pending: list[tuple[int, Tensor]]) -> None:
        for s, v in pending:
            self.losses.append((s, float(v)))
        pending.clear()


# -- sampling ----------------------------------------------------------------------------------------------
def node_coordinates(flat_index: Tensor, shape: Sequence[int]) -> Tensor:
    """Node-centred coordinates ``(M, d)`` as (x, y[, z]) of flat indices into a (Z, Y, X) / (H, W) grid."""
    coords = []
    rem = flat_index
    for n in reversed(shape):  # X (fastest) first
        coords.append((rem % n).float() / max(int(n) - 1, 1))
        rem = rem // n
    return torch.stack(coords, dim=-1)


class FrameSampler:
    """Random batches from a stack of frames with their normalized parameters.

    Frames are held in memory as float32 (normalized to [0, 1]) when they fit in ``memory_limit`` bytes;
    larger sets are streamed by :class:`~hyperinr_core.streaming.FramePools`: a pool of frames is redrawn
    every ``pool_steps`` batches from a generator seeded by the pool number (so streaming stays reproducible
    and resumable), and the next pool is read in the background while the current one serves batches.

    Under data-parallel training ``shard = (rank, world_size)``: every rank draws the global batch's indices
    from the same generator and returns its own part (:func:`~hyperinr_core.distributed.shard_batch`).

    Args:
        read_frames: ``indices -> (k, *frame_shape)`` float32 in data units (or already normalized).
        params_u: (S, D) normalized parameters of the frames.
        frame_shape: (Z, Y, X) volumes or (H, W, C) images.
        is_image: images have a channel axis and 2-D coordinates.
        value_range: (lo, hi) used to normalize what ``read_frames`` returns; (0, 1) when already normalized.
        memory_limit: bytes the loader may hold (frames in memory plus the one being read); None: no limit.
        pool_steps: batches per pool when streaming.
        prefetch: read the next pool in a background thread.
    """

    def __init__(
        self,
        read_frames: Callable[[np.ndarray], np.ndarray],
        params_u: np.ndarray,
        frame_shape: Sequence[int],
        is_image: bool,
        value_range: tuple[float, float] = (0.0, 1.0),
        device: torch.device | str = "cpu",
        memory_limit: int | None = DEFAULT_MEMORY_BUDGET,
        pool_steps: int = 200,
        seed: int = 0,
        prefetch: bool = True,
    ):
        from .streaming import FramePools

        self.params_u = torch.as_tensor(np.asarray(params_u, dtype=np.float32))
        self.frame_shape = tuple(int(s) for s in frame_shape)
        self.is_image = is_image
        self.space_shape = self.frame_shape[:-1] if is_image else self.frame_shape
        self.n_channels = self.frame_shape[-1] if is_image else 1
        self.n_points = int(np.prod(self.space_shape))
        self.device = torch.device(device)
        self.seed = seed
        self.shard: tuple[int, int] = (0, 1)
        try:
            self.pools = FramePools(
                read_frames,
                len(self.params_u),
                self.frame_shape,
                memory_limit,
                pool_steps=pool_steps,
                seed=seed,
                value_range=value_range,
                prefetch=prefetch,
            )
        except ValueError as exc:
            raise HyperINRError(str(exc)) from None
        self.pool_size = self.pools.pool_size
        self.pool_steps = pool_steps
        self._pool_id: int | None = None
        self._pool_idx = np.arange(self.n_frames)
        self._values: Tensor | None = None
        if not self.pools.streaming:
            self._ensure_pool(0)

    @property
    def n_frames(self) -> int:
        return len(self.params_u)

    @property
    def streaming(self) -> bool:
        return self.pools.streaming

    def _ensure_pool(self, batch_number: int) -> None:
        pid = batch_number // self.pool_steps if self.pools.streaming else 0
        if pid != self._pool_id:
            idx, vals = self.pools.acquire(pid)
            self._values = None  # drop the previous pool's device copy first
            self._pool_idx = idx
            self._values = (
                torch.from_numpy(vals).view(len(idx), self.n_points, self.n_channels).to(self.device)
            )
            self._pool_id = pid

    def sample(
        self, gen: torch.Generator, n_frames: int, n_points: int, step: int = 0
    ) -> tuple[Tensor, Tensor, Tensor]:
        """``u (B, D)``, ``x (B, M, d)``, ``y (B, M, C)`` on the sampler's device; B frames drawn with
        replacement, M voxels (pixels) per frame uniformly at random. ``step`` picks the streaming pool.
        With a ``shard``, this rank's part of the batch (fewer frames or points)."""
        from .distributed import shard_batch

        self._ensure_pool(step)
        k = len(self._pool_idx)
        rows = torch.randint(0, k, (n_frames,), generator=gen)
        flat = torch.randint(0, self.n_points, (n_frames, n_points), generator=gen)
        rows, flat = shard_batch(rows, flat, self.shard)
        b, m = flat.shape
        frame_ids = torch.from_numpy(self._pool_idx)[rows]
        u = self.params_u[frame_ids].to(self.device)
        x = node_coordinates(flat.reshape(-1), self.space_shape).view(b, m, -1).to(self.device)
        flat_d = flat.to(self.device)
        y = self._values[rows.to(self.device)[:, None], flat_d]  # (B, M, C)
        return u, x, y

    def close(self) -> None:
        """Stop the background reader (the sampler can no longer switch pools)."""
        self.pools.close()


# -- fast differentiable hash encoding for training --------------------------------------------------------
class _WeightedGather(torch.autograd.Function):
    """``embedding_bag(idx, table, w, mode="sum")`` whose backward is one ``index_add_`` (a scatter-add).

    The stock embedding-bag backward sorts every index first, which on a CPU costs more than the whole
    forward pass; a scatter-add gives the same gradient (up to float summation order).
    """

    @staticmethod
    def forward(ctx, table: Tensor, idx: Tensor, w: Tensor) -> Tensor:
        ctx.save_for_backward(idx, w)
        ctx.table_shape = table.shape
        return torch.nn.functional.embedding_bag(idx, table, per_sample_weights=w.to(table.dtype), mode="sum")

    @staticmethod
    def backward(ctx, grad: Tensor):
        idx, w = ctx.saved_tensors
        g = torch.zeros(ctx.table_shape, dtype=grad.dtype, device=grad.device)
        contrib = (grad[:, None, :] * w[..., None].to(grad.dtype)).reshape(-1, grad.shape[-1])
        g.index_add_(0, idx.reshape(-1), contrib)
        return g, None, None


class TrainingEncoder:
    """``hash_encode`` for training: same values and gradients, faster on a CPU.

    The table indices and interpolation weights depend on the coordinates only (never on the parameters),
    so they are computed without autograd, under ``torch.compile`` when available (the index arithmetic is
    a long chain of small elementwise ops that compilation fuses); the parameters enter through one
    weighted gather with a scatter-add backward.
    """

    def __init__(self, cfg: Any, device: torch.device | str = "cpu", compile: bool = False):
        from .encoding import corner_indices_and_weights, DeviceTables
        from .fast import NO_COMPILE

        self.cfg = cfg
        self.device = torch.device(device)
        tables = DeviceTables.get(cfg, self.device)

        def idx_w(x: Tensor) -> tuple[Tensor, Tensor]:
            return corner_indices_and_weights(x, cfg, tables)

        self._idx_w = idx_w
        self.compiled = False
        if compile and not NO_COMPILE:
            try:
                self._idx_w = torch.compile(idx_w, dynamic=False)
                self.compiled = True
            except Exception:  # pragma: no cover - depends on the toolchain
                self._idx_w = idx_w

    def indices(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(N, L, 2^d) global table indices and weights of points ``x (N, d)``."""
        with torch.no_grad():
            if self.compiled:
                try:
                    return self._idx_w(x)
                except Exception:  # pragma: no cover - compiler missing at run time: stay eager
                    self.compiled = False
                    self._idx_w = lambda xx: _eager_idx(xx, self.cfg)
            return self._idx_w(x)

    def __call__(self, x: Tensor, params: Tensor) -> Tensor:
        """Features ``(N, L*F)`` of ``x (N, d)`` with ``params (P,)``, or ``(B, M, L*F)`` of ``x (B, M, d)``
        with one parameter vector per row, ``params (B, P)``."""
        cfg = self.cfg
        n_corners, feats = 1 << cfg.n_input_dims, cfg.n_features_per_level
        if x.dim() == 3:
            b, m, d = x.shape
            idx, w = self.indices(x.reshape(b * m, d))
            shift = (torch.arange(b, device=x.device) * cfg.n_entries).repeat_interleave(m).view(-1, 1, 1)
            idx = idx + shift
            table = params.reshape(b * cfg.n_entries, feats)
            out = _WeightedGather.apply(table, idx.view(-1, n_corners), w.view(-1, n_corners))
            return out.view(b, m, -1)
        idx, w = self.indices(x)
        table = params.view(cfg.n_entries, feats)
        return _WeightedGather.apply(table, idx.view(-1, n_corners), w.view(-1, n_corners)).view(
            x.shape[0], -1
        )


def _eager_idx(x: Tensor, cfg: Any) -> tuple[Tensor, Tensor]:
    from .encoding import corner_indices_and_weights

    return corner_indices_and_weights(x, cfg)
