"""Out-of-core frame access for training: frames under a memory budget, read in the background from chunked
HDF5 (one chunk per frame), so series several times larger than RAM train at close to in-memory throughput.

Two loaders:

- :class:`FramePools` (what training uses): all frames when they fit in the budget, else a sequence of
  *pools* of frames, pool ``k`` serving batches ``k*pool_steps .. (k+1)*pool_steps - 1``. Which frames form
  pool ``k`` depends only on the seed and ``k``, so streamed training is reproducible, resumes exactly, and
  every data-parallel rank holds the same pool. Two preallocated buffers take turns: while batches are
  drawn from pool ``k``, a background thread reads pool ``k + 1`` into the other one.
- :class:`ResidentFrames`: a resident set refilled continuously in the background (the frame that served
  the most batches is replaced first). Which frames are resident depends on thread timing, so it suits
  interactive or exploratory sampling, not reproducible training.

When every frame fits in the budget both read each frame once and stop: the in-memory case is the same code.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence

import numpy as np

from hyperinr_core.data.dataset import open_dataset

__all__ = ["FramePools", "ResidentFrames", "parse_size"]

# Frames of scratch memory a read needs besides the buffers: the array as read, its float32 copy and the
# temporaries of its checks (a frame is read, validated, then copied into a buffer).
_IN_FLIGHT = 3


def parse_size(text: str | int | float) -> int:
    """Bytes of a size like ``512M``, ``8G``, ``1.5GiB``, ``200000000`` (K/M/G/T are powers of 1024;
    a plain number is bytes)."""
    if isinstance(text, (int, float)):
        return int(text)
    s = str(text).strip().upper().replace(" ", "")
    for suffix in ("IB", "B"):
        if s.endswith(suffix) and len(s) > len(suffix):
            s = s[: -len(suffix)]
            break
    mult = 1
    if s and s[-1] in "KMGT":
        mult = 1024 ** ("KMGT".index(s[-1]) + 1)
        s = s[:-1]
    try:
        v = float(s)
    except ValueError:
        raise ValueError(f"not a size: {text!r} (examples: 512M, 8G, 1.5GiB)") from None
    if not v > 0:
        raise ValueError(f"size must be positive, got {text!r}")
    return int(v * mult)


class FramePools:
    """Normalized float32 frames under ``budget_bytes``: all resident, or pools streamed in the background.

    Args:
        read_frames: ``indices -> (k, *frame_shape)`` values in data units, called with one index at a time
            when filling the buffers (one frame in flight, counted as three frames of scratch memory).
        n_frames: frames addressed 0..n_frames-1 by ``read_frames``.
        frame_shape: shape of one frame.
        budget_bytes: what the buffers plus the frame in flight may hold (None: no limit, all resident).
        pool_steps: batches served by each pool when streaming.
        seed: seeds the pool draws.
        value_range: ``(lo, hi)``: values are stored as ``(v - lo) / (hi - lo)``.
        prefetch: read the next pool in a background thread (False: read it when it is needed).

    Memory: ``resident_bytes()`` is what the buffers hold now, ``peak_bytes`` the most they plus the frame
    in flight ever held; both stay within ``budget_bytes`` by construction.
    """

    def __init__(
        self,
        read_frames: Callable[[np.ndarray], np.ndarray],
        n_frames: int,
        frame_shape: Sequence[int],
        budget_bytes: int | None = None,
        pool_steps: int = 200,
        seed: int = 0,
        value_range: tuple[float, float] = (0.0, 1.0),
        prefetch: bool = True,
    ):
        if n_frames < 1:
            raise ValueError("no frames to serve")
        if pool_steps < 1:
            raise ValueError(f"pool_steps must be >= 1, got {pool_steps}")
        self.read_frames = read_frames
        self.n_frames = int(n_frames)
        self.frame_shape = tuple(int(s) for s in frame_shape)
        self.frame_size = int(np.prod(self.frame_shape))
        self.frame_bytes = 4 * self.frame_size
        self.lo = float(value_range[0])
        self.span = float(value_range[1] - value_range[0]) or 1.0
        self.seed = int(seed)
        self.pool_steps = int(pool_steps)
        self.budget_bytes = None if budget_bytes is None else int(budget_bytes)
        # Besides the buffers: the scratch memory of the frame being read.
        slots = None if budget_bytes is None else int(budget_bytes) // self.frame_bytes - _IN_FLIGHT
        if slots is None or slots >= self.n_frames:
            self.streaming = False
            self.pool_size = self.n_frames
            n_buffers = 1
        else:
            if slots < 2:
                raise ValueError(
                    f"memory budget {budget_bytes} bytes is too small to stream frames of "
                    f"{self.frame_bytes} bytes: it must hold at least {2 + _IN_FLIGHT} (two pools of one "
                    "frame, and the scratch memory of one being read)"
                )
            self.streaming = True
            self.pool_size = slots // 2
            n_buffers = 2
        self._buffers = [np.empty((self.pool_size, self.frame_size), np.float32) for _ in range(n_buffers)]
        self._buf_pool: list[int | None] = [None] * n_buffers  # pool id each buffer holds (or is loading)
        self._buf_ready = [threading.Event() for _ in range(n_buffers)]
        self._buf_error: list[BaseException | None] = [None] * n_buffers
        self._buf_idx: list[np.ndarray | None] = [None] * n_buffers
        self._in_flight = 0
        self._lock = threading.Lock()
        self.peak_bytes = self.resident_bytes()
        self.loads = 0  # frames read
        self.wait_seconds = 0.0  # time batches waited for a pool
        self._current: int | None = None  # buffer the batches are drawn from
        self._prefetch = prefetch and self.streaming
        self._thread: threading.Thread | None = None
        self._queue: list[tuple[int, int]] = []
        self._wake = threading.Condition()
        self._stop = False

    # -- memory accounting ------------------------------------------------------------------------------
    def resident_bytes(self) -> int:
        """Bytes held by the buffers (allocated once; they never grow)."""
        return sum(b.nbytes for b in self._buffers)

    def _note_in_flight(self, nbytes: int) -> None:
        with self._lock:
            self._in_flight += nbytes
            self.peak_bytes = max(self.peak_bytes, self.resident_bytes() + self._in_flight)

    # -- pools ------------------------------------------------------------------------------------------
    def pool_indices(self, pool_id: int) -> np.ndarray:
        """Sorted frame indices of pool ``pool_id`` (all frames when not streaming)."""
        if not self.streaming:
            return np.arange(self.n_frames)
        import torch

        g = torch.Generator().manual_seed(self.seed * 1_000_003 + int(pool_id))
        return np.sort(torch.randperm(self.n_frames, generator=g)[: self.pool_size].numpy())

    def _fill(self, buf: int, pool_id: int) -> None:
        idx = self.pool_indices(pool_id)
        out = self._buffers[buf]
        try:
            for k, i in enumerate(idx):
                self._note_in_flight(_IN_FLIGHT * self.frame_bytes)
                try:
                    frame = np.asarray(self.read_frames(np.asarray([i]))[0], dtype=np.float32)
                    row = out[k]
                    row[:] = frame.reshape(-1)
                    del frame
                    row -= self.lo
                    row /= self.span
                finally:
                    self._note_in_flight(-_IN_FLIGHT * self.frame_bytes)
                self.loads += 1
            self._buf_idx[buf] = idx
        except BaseException as exc:  # re-raised where the pool is needed
            self._buf_error[buf] = exc
        finally:
            self._buf_ready[buf].set()

    def _worker(self) -> None:
        while True:
            with self._wake:
                while not self._queue and not self._stop:
                    self._wake.wait()
                if self._stop:
                    return
                buf, pool_id = self._queue.pop(0)
            self._fill(buf, pool_id)

    def _schedule(self, buf: int, pool_id: int) -> None:
        self._buf_pool[buf] = pool_id
        self._buf_ready[buf].clear()
        self._buf_error[buf] = None
        if not self._prefetch:
            self._fill(buf, pool_id)
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._worker, name="hyperinr-frame-pools", daemon=True)
            self._thread.start()
        with self._wake:
            self._queue.append((buf, pool_id))
            self._wake.notify()

    def acquire(self, pool_id: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Frame indices ``(k,)`` and normalized values ``(k, frame_size)`` of pool ``pool_id``.

        The returned array is valid until the next call with another pool id (its buffer is then refilled).
        """
        pool_id = 0 if not self.streaming else int(pool_id)
        if pool_id not in self._buf_pool:
            # Not loaded nor loading (the first pool, or a jump on resume): read it now into a free buffer.
            buf = 0 if self._current is None else 1 - self._current
            self._wait(buf)  # a buffer still being filled with another pool: let that finish first
            self._schedule(buf, pool_id)
        buf = self._buf_pool.index(pool_id)
        self._wait(buf)
        if self._buf_error[buf] is not None:
            err = self._buf_error[buf]
            self._buf_pool[buf] = None
            raise err
        self._current = buf
        if self.streaming:
            other = 1 - buf
            if self._buf_pool[other] != pool_id + 1:
                self._wait(other)
                self._schedule(other, pool_id + 1)
        return self._buf_idx[buf], self._buffers[buf]

    def _wait(self, buf: int) -> None:
        if self._buf_pool[buf] is None or self._buf_ready[buf].is_set():
            return
        t0 = time.perf_counter()
        self._buf_ready[buf].wait()
        self.wait_seconds += time.perf_counter() - t0

    def close(self) -> None:
        """Stop the background reader (waits for a read in progress)."""
        with self._wake:
            self._stop = True
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=60)
            self._thread = None

    def __enter__(self) -> FramePools:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class ResidentFrames:
    """Frames of a dataset kept resident under ``budget_bytes``, with background refill.

    Args:
        path: dataset file.
        indices: frame indices to serve (e.g. the training frames).
        budget_bytes: memory the resident frames may use (None: all of them).
        seed: seeds the visiting order (and therefore which frames are resident when).
        prefetch: start the background thread (False: load synchronously, for tests and tiny data).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        indices: Sequence[int],
        budget_bytes: int | None = None,
        seed: int = 0,
        prefetch: bool = True,
    ):
        self.path = os.fspath(path)
        self._ds = open_dataset(path)
        self.indices = np.asarray(indices, dtype=np.int64)
        if len(self.indices) == 0:
            raise ValueError("no frames to serve")
        frame_bytes = int(np.prod(self._ds.frame_shape)) * 4
        capacity = len(self.indices) if budget_bytes is None else int(budget_bytes // frame_bytes)
        if capacity < 1:
            raise ValueError(
                f"memory budget {budget_bytes} bytes is smaller than one frame ({frame_bytes} bytes)"
            )
        self.capacity = min(capacity, len(self.indices))
        self.frame_bytes = frame_bytes
        self._rng = np.random.default_rng(seed)
        order = self._rng.permutation(self.indices)
        self._pending = list(order[self.capacity :])  # frames waiting to become resident
        self._lock = threading.Lock()
        self._slots: list[np.ndarray] = [None] * self.capacity  # type: ignore[list-item]
        self._slot_frame = np.asarray(order[: self.capacity], dtype=np.int64)
        self._uses = np.zeros(self.capacity, np.int64)
        for s, i in enumerate(self._slot_frame):
            self._slots[s] = self._ds.frame(int(i))
        self.loads = self.capacity
        self._stop = threading.Event()
        self._thread = None
        if prefetch and self.capacity < len(self.indices):
            self._thread = threading.Thread(target=self._refill, name="hyperinr-frame-loader", daemon=True)
            self._thread.start()

    @property
    def streaming(self) -> bool:
        return self.capacity < len(self.indices)

    def resident_bytes(self) -> int:
        return self.capacity * self.frame_bytes

    def _refill(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                if not self._pending:
                    self._pending = list(self._rng.permutation(self.indices))
                    resident = set(self._slot_frame.tolist())
                    self._pending = [i for i in self._pending if i not in resident]
                    if not self._pending:
                        return
                nxt = int(self._pending.pop())
            frame = self._ds.frame(nxt)  # read outside the lock: batches keep flowing meanwhile
            with self._lock:
                slot = int(np.argmax(self._uses))
                self._slots[slot] = frame
                self._slot_frame[slot] = nxt
                self._uses[slot] = 0
                self.loads += 1
            # Stay a little behind: refreshing faster than batches are drawn only burns I/O.
            self._stop.wait(0.001)

    def sample(self, n_frames: int, rng: np.random.Generator) -> tuple[np.ndarray, list[np.ndarray]]:
        """``n_frames`` resident frames (with replacement): their dataset indices and arrays."""
        with self._lock:
            slots = rng.integers(0, self.capacity, n_frames)
            np.add.at(self._uses, slots, 1)
            return self._slot_frame[slots].copy(), [self._slots[s] for s in slots]

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._ds.close()

    def __enter__(self) -> ResidentFrames:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
