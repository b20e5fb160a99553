"""Out-of-core frame access for training: a resident set of frames under a memory budget, refilled in the
background from the chunked HDF5 dataset (one chunk per frame), so series several times larger than RAM train
at close to in-memory throughput.

When every frame fits in the budget the loader reads each frame once and stops: the in-memory case is the
same code. Otherwise a background thread keeps replacing the resident frame that has served the most batches
with a frame that is not resident, cycling through a shuffled order so every frame is visited.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence

import numpy as np

from .data import open_dataset

__all__ = ["ResidentFrames"]


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
            raise ValueError(f"memory budget {budget_bytes} bytes is smaller than one frame ({frame_bytes} bytes)")
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
