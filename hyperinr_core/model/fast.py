"""The fastest available INR evaluator on the current device, for decoding and benchmarks.

- The backend (:func:`~hyperinr_core.model.backends.select_backend`) decides. ``triton`` (CUDA's default
  when triton imports): one fused kernel, hash grid into the MLP, fp16 operands with fp32 accumulation
  unless ``mlp_dtype`` says otherwise. ``tcnn``: tiny-cuda-nn's fused kernels, fed the same parameter vectors.
- ``torch`` (every CPU): the reference hash grid + MLP under ``torch.compile`` (one fused loop for the index/weight
  arithmetic; ~1.8x on this 2-core CPU, see ``bench/inference.py``), in fixed-size chunks so it compiles once.
  Falls back to eager torch if compilation is unavailable (no C++ compiler) or fails.
- ``background=True`` compiles on a background thread and evaluates eagerly until the compiled graph is
  ready: compiling takes 20 s or more on a cold cache with a busy 2-core CPU, and an interactive viewer must
  show its first frame long before that. :func:`shared_evaluator` keeps one evaluator per shape for the whole
  process, so a compiled graph (and its warm-up thread) is shared by every window and decoder.
- ``mlp_dtype=torch.bfloat16`` runs the MLP in bf16 (AMX on recent CPUs); off by default because its error
  (~2e-3 of the value range) is above the 1e-3 the decoder promises.
"""

from __future__ import annotations

import logging
import os
import threading

import torch
from torch import Tensor
from torch.nn import functional as F

from hyperinr_core.model.encoding import DeviceTables, HashGridConfig, corner_indices_and_weights
from hyperinr_core.model.inr import INR
from hyperinr_core.model.mlp import MLPConfig, mlp_forward

__all__ = ["FastINREvaluator", "shared_evaluator", "compile_threads", "join_compile_threads"]

log = logging.getLogger(__name__)

#: Set HYPERINR_NO_COMPILE=1 to force eager evaluation (debugging, or machines without a compiler).
NO_COMPILE = os.environ.get("HYPERINR_NO_COMPILE", "") not in ("", "0")


class FastINREvaluator:
    """Evaluate INRs of one (encoding, MLP) shape quickly: ``ev(inr, x) -> (N, C)`` float32."""

    def __init__(
        self,
        enc_cfg: HashGridConfig,
        mlp_cfg: MLPConfig,
        device: str | torch.device = "cpu",
        compile: bool = True,
        mlp_dtype: torch.dtype | None = None,
        chunk: int = 1 << 14,
        background: bool = False,
        backend: str | None = None,
    ):
        from hyperinr_core.model.backends import select_backend

        self.enc_cfg, self.mlp_cfg = enc_cfg, mlp_cfg
        self.device = torch.device(device)
        self.chunk = chunk
        self.backend = select_backend(self.device, backend)
        self.mlp_dtype = mlp_dtype or self.backend.default_mlp_dtype
        self._tables = DeviceTables.get(enc_cfg, self.device)
        # Plain ints, so the compiled graph sees constants instead of tracing the config's numpy layout.
        self._shape = (enc_cfg.n_entries, enc_cfg.n_features_per_level, 1 << enc_cfg.n_input_dims,
                       enc_cfg.n_output_dims)
        self._kernel = self.backend.name != "torch"  # a fused kernel evaluates; nothing to compile
        # (function, compiled?) swapped as one tuple: no call mixes the compiled function with eager padding.
        self._impl: tuple = (self._eager, False)
        self.ready = threading.Event()  # set once the final implementation (compiled or eager) is in place
        self._warmup_thread: threading.Thread | None = None
        if compile and not NO_COMPILE and not self._kernel:
            try:
                fn = torch.compile(self._eager, dynamic=False)
            except Exception as exc:  # pragma: no cover - depends on the toolchain
                log.warning("torch.compile unavailable (%s); using eager evaluation", exc)
                self.ready.set()
            else:
                if background:
                    # Not a daemon: the interpreter joins it at exit rather than tearing torch down under it
                    # (a compile cut off at exit aborts the process: "terminate called without an active
                    # exception"). It only compiles, so joining it ends (see join_compile_threads).
                    self._warmup_thread = threading.Thread(
                        target=self._warm_up, args=(fn,), name="hyperinr-compile", daemon=False
                    )
                    self._warmup_thread.start()
                    with _THREADS_LOCK:
                        _WARMUP_THREADS.append(self._warmup_thread)
                else:
                    self._impl = (fn, True)
                    self.ready.set()
        else:
            self.ready.set()

    @property
    def compiled(self) -> bool:
        """Whether calls now go through the compiled graph."""
        return self._impl[1]

    def _warm_up(self, fn) -> None:
        """Compile ``fn`` on dummy inputs of the evaluation shape, then switch to it (background thread)."""
        try:
            n_in = self.enc_cfg.n_input_dims
            x = torch.zeros(self.chunk, n_in, device=self.device)
            enc = torch.zeros(self.enc_cfg.n_params, device=self.device)
            mlp = torch.zeros(self.mlp_cfg.n_params, device=self.device)
            with torch.no_grad():
                fn(x, enc, mlp)
            self._impl = (fn, True)
        except Exception as exc:  # pragma: no cover - depends on the toolchain
            log.warning("torch.compile failed (%s); staying with eager evaluation", exc)
        finally:
            self.ready.set()

    def wait_compiled(self, timeout: float | None = None) -> bool:
        """Block until background compilation has finished (or failed); True if calls are compiled now."""
        self.ready.wait(timeout)
        return self.compiled

    def describe(self) -> str:
        if self._kernel:
            return f"{self.backend.name}, mlp {str(self.mlp_dtype).replace('torch.', '')}"
        return f"torch{'+compile' if self.compiled else ''}, mlp {str(self.mlp_dtype).replace('torch.', '')}"

    def _eager(self, x: Tensor, enc_params: Tensor, mlp_params: Tensor) -> Tensor:
        n_entries, n_feat, corners, n_out = self._shape
        idx, w = corner_indices_and_weights(x, self.enc_cfg, self._tables)
        h = F.embedding_bag(
            idx.view(-1, corners), enc_params.view(n_entries, n_feat),
            per_sample_weights=w.view(-1, corners), mode="sum",
        ).view(x.shape[0], n_out)
        return mlp_forward(h.to(self.mlp_dtype), mlp_params, self.mlp_cfg).float()

    @torch.no_grad()
    def __call__(self, inr: INR, x: Tensor, out: Tensor | None = None) -> Tensor:
        n = x.shape[0]
        c = self.mlp_cfg.n_output_dims
        if out is None:
            out = torch.empty(n, c, device=self.device)
        if self._kernel:
            return self.backend.inr_forward(x, inr.enc_params, inr.mlp_params, self.enc_cfg, self.mlp_cfg,
                                            self.mlp_dtype, out)
        enc, mlp = inr.enc_params, inr.mlp_params
        fn, compiled = self._impl
        for s in range(0, n, self.chunk):
            xs = x[s : s + self.chunk]
            m = xs.shape[0]
            if m < self.chunk and compiled:  # pad so the compiled graph keeps one static shape
                xs = torch.cat([xs, xs.new_zeros(self.chunk - m, xs.shape[1])])
            out[s : s + m] = fn(xs, enc, mlp)[:m]
        return out

    @torch.no_grad()
    def decode_grid(self, inr: INR, out: Tensor) -> Tensor | None:
        """The first channel clamped to [0, 1] on the node-centred grid of ``out``'s shape, in one kernel
        launch where the backend has one (Triton); None otherwise (the caller evaluates coordinates)."""
        if not self._kernel:
            return None
        return self.backend.decode_grid(out, inr.enc_params, inr.mlp_params, self.enc_cfg, self.mlp_cfg,
                                        self.mlp_dtype)

    def sample_grid(self, inr: INR, resolution, out: Tensor | None = None) -> Tensor:
        """Like :meth:`INR.sample_grid` (node-centred), through the fast path."""
        from hyperinr_core.model.inr import grid_coordinates

        d = self.enc_cfg.n_input_dims
        shape = (int(resolution),) * d if isinstance(resolution, int) else tuple(resolution)
        x = grid_coordinates(shape, device=self.device)
        vals = self(inr, x)
        c = self.mlp_cfg.n_output_dims
        vals = vals.view(*shape) if c == 1 else vals.view(*shape, c)
        if out is not None:
            out.copy_(vals)
            return out
        return vals


_SHARED: dict = {}
_SHARED_LOCK = threading.Lock()
_THREADS_LOCK = threading.Lock()
_WARMUP_THREADS: list[threading.Thread] = []  # every evaluator's, for compile_threads()


def shared_evaluator(
    enc_cfg: HashGridConfig,
    mlp_cfg: MLPConfig,
    device: str | torch.device = "cpu",
    *,
    compile: bool = True,
    mlp_dtype: torch.dtype | None = None,
    chunk: int = 1 << 14,
    background: bool = False,
) -> FastINREvaluator:
    """The process-wide :class:`FastINREvaluator` for this shape: compiled once, reused by every caller.

    With ``background=True`` the first caller starts compilation on a thread and everyone evaluates eagerly
    until it lands; a later blocking caller (``background=False``) waits for that compilation to finish.
    """
    from hyperinr_core.model.backends import select_backend

    dev = torch.device(device)
    backend = select_backend(dev).name
    key = (enc_cfg, mlp_cfg, str(dev), bool(compile), mlp_dtype, int(chunk), backend)
    with _SHARED_LOCK:
        ev = _SHARED.get(key)
        if ev is None:
            ev = FastINREvaluator(enc_cfg, mlp_cfg, device=dev, compile=compile, mlp_dtype=mlp_dtype,
                                  chunk=chunk, background=background, backend=backend)
            _SHARED[key] = ev
    if not background:
        ev.ready.wait()
    return ev


def compile_threads() -> list[threading.Thread]:
    """Background compilation threads still running (process-wide, of every evaluator)."""
    with _THREADS_LOCK:
        _WARMUP_THREADS[:] = [t for t in _WARMUP_THREADS if t.is_alive()]
        return list(_WARMUP_THREADS)


def join_compile_threads(timeout: float | None = None) -> bool:
    """Wait for background compilations to finish (an application calls this before it exits); True if
    none is left running."""
    for t in compile_threads():
        t.join(timeout)
    return not compile_threads()
