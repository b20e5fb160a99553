"""Session state and the generation worker of the explorer, free of Qt.

The worker thread turns requests (parameter values, light, ...) into volumes ready to upload: generate
the INR, decode it to a grid (coarse rung first, then the fine rung if no newer request came), and the same
for the shadow INR. Requests coalesce: only the newest pending one is served ("latest request wins"), so
dragging a slider never queues up stale work. Results go to a callback on the worker thread; the GUI
forwards them to its own thread through a queued Qt signal.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

log = logging.getLogger(__name__)

__all__ = ["Request", "Result", "GenerationWorker", "lower_thread_priority"]

BACKGROUND_NICENESS = 5


def lower_thread_priority(niceness: int = BACKGROUND_NICENESS) -> bool:
    """Lower the calling thread's scheduling priority (Linux: per-thread nice), so that on a busy machine the
    GUI thread and the GL rasteriser win the cores over background generation: a dragged slider stays smooth
    and the volumes arrive a little later. Best effort; returns False where the platform does not allow it."""
    import os

    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + int(niceness)))
        return True
    except (AttributeError, OSError):
        return False


@dataclass
class Request:
    theta: list[float]
    light: tuple[float, float] | None = None  # (azimuth, polar) when a shadow volume is wanted
    resolutions: tuple[int, ...] = (32, 64)
    shadow_resolution: int = 48
    serial: int = 0


@dataclass
class Result:
    request: Request
    volume: np.ndarray | None = None  # (Z, Y, X) float16 normalized
    shadow: np.ndarray | None = None
    resolution: int = 0
    final: bool = True
    generate_ms: float = 0.0
    decode_ms: float = 0.0
    shadow_ms: float = 0.0
    error: str | None = None
    extra: dict = field(default_factory=dict)
    histogram: np.ndarray | None = None  # final volumes: counts in HISTOGRAM_BINS bins over [0, 1]


HISTOGRAM_BINS = 64


class GenerationWorker:
    """One background thread serving the newest :class:`Request` for ``model`` (and ``shadow_model``).

    Decoding is eager until the decoder's compilation is started: after the first request by default, or,
    with ``compile_after_first=False``, when :meth:`start_compiling` is called (the explorer calls it once its
    first full-quality frame is up, so that compiling competes with neither).
    """

    def __init__(
        self,
        model,
        on_result: Callable[[Result], None],
        shadow_model=None,
        threads: int | None = 1,
        compile_after_first: bool = True,
    ):
        self.model = model
        self.shadow_model = shadow_model
        self.on_result = on_result
        self.threads = threads
        self._cv = threading.Condition()
        self._pending: Request | None = None
        self._compile_wanted = False
        self._compile_after_first = compile_after_first
        self._stop = False
        self._serial = 0
        self._thread = threading.Thread(target=self._run, name="hyperinr-generation", daemon=True)
        self._thread.start()

    def request(self, req: Request) -> int:
        """Queue ``req`` (replacing any request not yet started); returns its serial number."""
        with self._cv:
            self._serial += 1
            req.serial = self._serial
            self._pending = req
            self._cv.notify()
        return req.serial

    def start_compiling(self) -> None:
        """Switch to the compiling decoder (it compiles in the background, eager until that lands)."""
        with self._cv:
            self._compile_wanted = True
            self._cv.notify()

    def _newer_waiting(self) -> bool:
        with self._cv:
            return self._pending is not None or self._stop

    def close(self, timeout: float = 10.0) -> None:
        with self._cv:
            self._stop = True
            self._cv.notify()
        self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        import torch

        lower_thread_priority()
        if self.threads:
            torch.set_num_threads(self.threads)
        from hyperinr_renderer.decode import Decoder, DecoderConfig

        # The first request is decoded eagerly, with no compiler running: compiling (a background thread and
        # C++ builds) slows the eager decodes it overlaps several times on a 2-core CPU, and the first image
        # would wait for it (first volume 6.3 s after launch instead of 2.4). Then (see the class docstring)
        # the compiling decoder takes over and starts compiling; it evaluates eagerly until that lands.
        decoder = Decoder(DecoderConfig(compile=False), device=self.model.device)
        compiling = False
        inr = None
        while True:
            with self._cv:
                while self._pending is None and not self._stop and (compiling or not self._compile_wanted):
                    self._cv.wait()
                if self._stop:
                    return
                req, self._pending = self._pending, None
                switch = not compiling and self._compile_wanted
            if switch:
                compiling = True
                try:
                    compiled = Decoder(device=self.model.device)
                    probe = inr if inr is not None else self.model.generate(self.model.cfg.param_lo)
                    compiled.evaluator(probe)  # starts compiling in the background
                    decoder = compiled
                except Exception:  # noqa: BLE001 - stay eager; decoding works without the compiler
                    log.warning("could not start compiling the decoder", exc_info=True)
            if req is None:
                continue
            try:
                inr = self._serve(req, decoder)
                if not compiling and self._compile_after_first:
                    with self._cv:
                        self._compile_wanted = True
            except Exception as exc:  # reported to the GUI, never kills the worker
                self.on_result(
                    Result(
                        req, error=f"{type(exc).__name__}: {exc}", extra={"traceback": traceback.format_exc()}
                    )
                )

    def _serve(self, req: Request, decoder):
        """Generate and decode ``req``, coarse to fine (stopping early for a newer request); the INR."""
        t0 = time.perf_counter()
        inr = self.model.generate(req.theta)
        gen_ms = (time.perf_counter() - t0) * 1e3
        shadow_inr = None
        if req.light is not None and self.shadow_model is not None:
            shadow_inr = self._shadow_inr(req)
        for k, res in enumerate(req.resolutions):
            if k > 0 and self._newer_waiting():
                return inr  # a newer request supersedes the refinement
            t1 = time.perf_counter()
            vol = decoder.decode(inr, res).cpu().numpy()
            t2 = time.perf_counter()
            shadow = None
            if shadow_inr is not None:
                shadow = decoder.decode_shadow(shadow_inr, min(res, req.shadow_resolution)).cpu().numpy()
            t3 = time.perf_counter()
            final = k == len(req.resolutions) - 1
            # the TF editor draws over the shown volume's histogram: counted here, not on the GUI thread
            hist = np.histogram(vol, bins=HISTOGRAM_BINS, range=(0.0, 1.0))[0] if final else None
            self.on_result(
                Result(
                    req,
                    vol,
                    shadow,
                    res,
                    final=final,
                    generate_ms=gen_ms,
                    decode_ms=(t2 - t1) * 1e3,
                    shadow_ms=(t3 - t2) * 1e3,
                    histogram=hist,
                )
            )
        return inr

    def _shadow_inr(self, req: Request):
        sm = self.shadow_model
        values = dict(zip(self.model.cfg.param_names, req.theta, strict=True))
        values["azimuth"], values["polar"] = req.light[0] % 360.0, req.light[1]
        theta = [
            values.get(n, (lo + hi) / 2)
            for n, lo, hi in zip(sm.cfg.param_names, sm.cfg.param_lo, sm.cfg.param_hi, strict=True)
        ]
        return sm.generate(theta)
