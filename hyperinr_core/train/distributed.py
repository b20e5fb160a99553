"""Data-parallel training across processes with ``torch.distributed`` (launched by ``torchrun``).

Under ``torchrun`` (environment variables ``WORLD_SIZE`` > 1, ``RANK``, ``LOCAL_RANK``, ``MASTER_ADDR``,
``MASTER_PORT``) the trainers join one process group: NCCL when training on CUDA (each process on the GPU
of its local rank), gloo on the CPU. Without those variables everything here is a no-op and training is a
single process.

Semantics (the same as DistributedDataParallel, implemented on flat gradient buffers because the
HyperINR is trained through a stateless evaluator, not a module's ``forward``):

- every process draws the *global* batch's random indices from the same seeded generator and keeps its own
  shard of it (:func:`shard_batch`), so the ranks see distinct samples and their union is exactly the
  single-process batch;
- each rank's loss is weighted by its share of the batch and the gradients are summed over ranks in one
  all-reduce per step, so the update equals the single-process one (up to float summation order);
- parameters are broadcast from rank 0 before the first step; the optimizer steps identically everywhere;
- the training clock, Ctrl-C and the budget are rank 0's (one tiny all-reduce per step keeps every rank
  on the same step); checkpoints and logs come from rank 0 only.

Nothing in a checkpoint depends on the number of processes, so any checkpoint resumes on any world size.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor

from hyperinr_core.device import env_rank, env_world_size
from hyperinr_core.errors import HyperINRError

__all__ = [
    "DistContext",
    "is_main_process",
    "lost_process",
    "init_from_env",
    "context",
    "barrier",
    "shutdown",
    "shard_batch",
    "GradientReducer",
    "broadcast_parameters",
    "sync_control",
]

# Ranks wait on rank 0 while it writes outputs or builds a distillation set (teacher inference over every
# sample): allow hours, not the default 30 minutes. A crashed rank still ends the job at once (torchrun
# stops the others).
TIMEOUT = datetime.timedelta(hours=6)


def is_main_process() -> bool:
    """Rank 0 (or no process group at all): the process that logs and writes files."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank() == 0
    return env_rank() == 0


@dataclass
class DistContext:
    """Where this process stands: ``rank`` of ``world_size`` (1 when not distributed)."""

    rank: int = 0
    world_size: int = 1
    backend: str | None = None

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


_control_group = None  # a gloo group for the per-step control all-reduce when the main backend is NCCL
_we_initialized = False


def init_from_env(device: torch.device | str = "cpu") -> DistContext:
    """Join the process group described by torchrun's environment (idempotent); return the context.

    NCCL for a CUDA ``device``, gloo otherwise. An already initialized group (a caller's own) is used as is.
    """
    global _control_group, _we_initialized
    if not dist.is_available():
        return DistContext()
    if not dist.is_initialized():
        if env_world_size() <= 1:
            return DistContext()
        dev = torch.device(device)
        backend = "nccl" if dev.type == "cuda" else "gloo"
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        dist.init_process_group(backend=backend, timeout=TIMEOUT)
        _we_initialized = True
    backend = dist.get_backend()
    if backend != "gloo" and _control_group is None and dist.get_world_size() > 1:
        _control_group = dist.new_group(backend="gloo", timeout=TIMEOUT)
    return DistContext(dist.get_rank(), dist.get_world_size(), backend)


def context() -> DistContext:
    """The current context without initializing anything."""
    if dist.is_available() and dist.is_initialized():
        return DistContext(dist.get_rank(), dist.get_world_size(), dist.get_backend())
    return DistContext()


#: what gloo and NCCL say when the process at the other end of a collective is gone
_LOST_PEER = (
    "Connection reset by peer",
    "Connection closed by peer",
    "Broken pipe",
    "NCCL communicator was aborted",
    "remote process exited",
    "Socket Timeout",
    "connection refused",
)


def lost_process(exc: BaseException, ctx: DistContext, checkpoint: object = None) -> HyperINRError | None:
    """The one-line error for a collective that failed because another process died (None for any other
    error): which process is gone when it can be told (two processes: the other one), and what to do."""
    if not ctx.distributed or not any(m.lower() in str(exc).lower() for m in _LOST_PEER):
        return None
    who = f"rank {1 - ctx.rank}" if ctx.world_size == 2 else "another process"
    where = f"the last checkpoint, {checkpoint}, is intact: " if checkpoint else ""
    return HyperINRError(
        f"rank {ctx.rank} of {ctx.world_size}: {who} stopped (lost in a collective); {where}run the same "
        "command with --resume to continue (on any number of processes)"
    )


def barrier() -> None:
    """Wait for every rank (no-op when not distributed)."""
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        dist.barrier(group=_control_group)


def shutdown() -> None:
    """Leave the process group if :func:`init_from_env` created it."""
    global _control_group, _we_initialized
    if _we_initialized and dist.is_initialized():
        if dist.get_world_size() > 1:
            # Meet before tearing down: a rank leaving while another still has gloo traffic in flight (seen after
            # a Ctrl-C on one rank) aborted in gloo's destructor ("terminate called without an active exception").
            try:
                dist.barrier(group=_control_group)
            except Exception:  # noqa: BLE001 - a peer died: leave anyway, torchrun reports the failure
                pass
        dist.destroy_process_group()
    _control_group = None
    _we_initialized = False


def shard_batch(rows: Tensor, flat: Tensor, shard: tuple[int, int]) -> tuple[Tensor, Tensor]:
    """This rank's part of a global batch: ``rows (B,)`` frame choices, ``flat (B, M)`` point choices.

    Split by frames when the world size divides B (B/W frames of M points each), else by points (all B
    frames, about M/W points each; shards may differ by one point). Rank r's shard is contiguous, and the
    shards of ranks 0..W-1 together are the whole batch.
    """
    rank, world = shard
    if world <= 1:
        return rows, flat
    b = rows.shape[0]
    if b % world == 0:
        k = b // world
        return rows[rank * k : (rank + 1) * k], flat[rank * k : (rank + 1) * k]
    return rows, torch.tensor_split(flat, world, dim=1)[rank]


def broadcast_parameters(params: list[Tensor]) -> None:
    """Copy rank 0's parameter values to every rank (a no-op when not distributed)."""
    ctx = context()
    if not ctx.distributed:
        return
    with torch.no_grad():
        for p in params:
            dist.broadcast(p.data, src=0)


class GradientReducer:
    """Sums the gradients of ``params`` (and one loss value) over all ranks with one all-reduce per step.

    The gradients are copied into one preallocated flat buffer (one collective instead of one per tensor,
    like DDP's buckets), reduced, and copied back. Parameters without a gradient count as zeros, so every
    rank's buffer has the same layout.
    """

    def __init__(self, params: list[Tensor], device: torch.device):
        self.params = [p for p in params if p.requires_grad]
        self.sizes = [p.numel() for p in self.params]
        self.buffer = torch.zeros(sum(self.sizes) + 1, dtype=torch.float32, device=device)

    def all_reduce(self, loss: Tensor) -> Tensor:
        """Sum gradients and ``loss`` (a scalar) over ranks in place; returns the summed loss."""
        buf = self.buffer
        off = 0
        for p, n in zip(self.params, self.sizes, strict=True):
            if p.grad is None:
                buf[off : off + n].zero_()
            else:
                buf[off : off + n].copy_(p.grad.reshape(-1))
            off += n
        buf[off].copy_(loss.detach().float())
        dist.all_reduce(buf, op=dist.ReduceOp.SUM)
        off = 0
        for p, n in zip(self.params, self.sizes, strict=True):
            g = buf[off : off + n].view_as(p)
            if p.grad is None:
                p.grad = g.to(p.dtype).clone()
            else:
                p.grad.copy_(g)
            off += n
        return buf[off].clone()


def sync_control(seconds: float, stop: bool, rank: int) -> tuple[float, bool]:
    """Rank 0's training seconds and whether any rank asked to stop (Ctrl-C), on every rank."""
    t = torch.tensor([seconds if rank == 0 else 0.0, 1.0 if stop else 0.0], dtype=torch.float64)
    dist.all_reduce(t, op=dist.ReduceOp.SUM, group=_control_group)
    return float(t[0]), bool(t[1] > 0)


def broadcast_floats(values: list[float]) -> list[float]:
    """Rank 0's ``values`` on every rank (CPU, control group)."""
    if not context().distributed:
        return values
    t = torch.tensor(values, dtype=torch.float64)
    dist.broadcast(t, src=0, group=_control_group)
    return [float(v) for v in t]
