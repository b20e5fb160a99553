"""The generation worker of the explorer, free of Qt.

The worker thread turns requests (parameter values, light, ...) into volumes ready to upload: generate
the INR, decode it to a grid (coarse rung first, then the fine rung if no newer request came), and the same
for the shadow INR. Requests coalesce: only the newest pending one is served ("latest request wins", the
:class:`~hyperinr_app.workers.LatestRequestWorker` base), so dragging a slider never queues up stale work.
Results go to a callback on the worker thread; :class:`~hyperinr_app.session.ExplorerSession` hands them to
the GUI thread through the poster it was given.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from hyperinr_app.workers import LatestRequestWorker, lower_thread_priority

log = logging.getLogger(__name__)

__all__ = ["Request", "Result", "GenerationWorker", "lower_thread_priority"]


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


class GenerationWorker(LatestRequestWorker):
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
        self._compile_wanted = False
        self._compile_after_first = compile_after_first
        self._compiling = False
        self._decoder = None
        self._inr = None  # the last INR generated (the compiler's probe)
        super().__init__(on_result, "hyperinr-generation", threads)

    def start_compiling(self) -> None:
        """Switch to the compiling decoder (it compiles in the background, eager until that lands)."""
        with self.cv:
            self._compile_wanted = True
            self.cv.notify()

    def setup(self) -> None:
        from hyperinr_renderer.decode import Decoder, DecoderConfig

        # The first request is decoded eagerly, with no compiler running: compiling (a background thread and
        # C++ builds) slows the eager decodes it overlaps several times on a 2-core CPU, and the first image
        # would wait for it (first volume 6.3 s after launch instead of 2.4). Then (see the class docstring)
        # the compiling decoder takes over and starts compiling; it evaluates eagerly until that lands.
        self._decoder = Decoder(DecoderConfig(compile=False), device=self.model.device)

    def chore_pending(self) -> bool:
        return not self._compiling and self._compile_wanted

    def chore(self) -> None:
        from hyperinr_renderer.decode import Decoder
        from hyperinr_renderer.scene import Scene

        self._compiling = True
        try:
            compiled = Decoder(device=self.model.device)
            probe = self._inr if self._inr is not None else Scene(self.model, self.model.cfg.param_lo).inr()
            compiled.evaluator(probe)  # starts compiling in the background
            self._decoder = compiled
        except Exception:  # noqa: BLE001 - stay eager; decoding works without the compiler
            log.warning("could not start compiling the decoder", exc_info=True)

    def serve(self, req: Request) -> None:
        self._inr = self._serve(req, self._decoder)
        if not self._compiling and self._compile_after_first:
            with self.cv:
                self._compile_wanted = True

    def error_result(self, req: Request, message: str, trace: str) -> Result:
        return Result(req, error=message, extra={"traceback": trace})

    def _serve(self, req: Request, decoder):
        """Generate and decode ``req``, coarse to fine (stopping early for a newer request); the INR."""
        from hyperinr_renderer.light import Light
        from hyperinr_renderer.scene import Scene

        shadow_model = self.shadow_model if req.light is not None else None
        light = Light(*req.light) if req.light is not None else Light()
        scene = Scene(self.model, req.theta, shadow_model, light, decoder)
        t0 = time.perf_counter()
        inr = scene.inr()
        gen_ms = (time.perf_counter() - t0) * 1e3
        scene.shadow_inr()
        for k, res in enumerate(req.resolutions):
            if k > 0 and self.newer_waiting():
                return inr  # a newer request supersedes the refinement
            t1 = time.perf_counter()
            vol = scene.volume(res).cpu().numpy()
            t2 = time.perf_counter()
            shadow = None
            if shadow_model is not None:
                shadow = scene.shadow_volume(min(res, req.shadow_resolution)).cpu().numpy()
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
