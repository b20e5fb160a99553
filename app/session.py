"""What the explorer shows, free of Qt: the :class:`ExplorerSession`.

The session holds the open model (a volume HyperINR with its optional shadow model, or an NVS model), the
bundle it came from, the transfer function, the light, the parameter values and the shadow mode, and owns
the worker that turns them into volumes or images (:mod:`hyperinr_app.controller`, :mod:`hyperinr_app.nvs`,
both on :class:`~hyperinr_app.workers.LatestRequestWorker`). Every change goes through a method here, which
tells the views through an :class:`~hyperinr_app.events.Event`: the window's docks, dialogs and canvas read
and write the session, never each other (docs/ARCHITECTURE.md, "Data flow of one interactive frame").

Worker results arrive on the worker thread; the session hands each one to ``post(fn, *args)``, which the
explorer sets to its GUI-thread inbox, so every event is emitted on the GUI thread. Without a ``post``
(headless use, tests) events are emitted on the thread that caused them, worker threads included.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import partial

import numpy as np

from hyperinr_app.controller import GenerationWorker, Request, Result
from hyperinr_app.events import Event
from hyperinr_app.nvs import NVSWorker, ViewRequest, view_shapes

__all__ = ["ExplorerSession", "SHADOW_MODES"]

SHADOW_MODES = ("none", "rays", "field")


def call_now(fn: Callable, *args) -> None:
    fn(*args)


class ExplorerSession:
    """The explorer's state and its worker. Events (all on the thread ``post`` delivers to):

    - ``model_changed()``: a model was opened (:attr:`model` / :attr:`nvs_model`, :attr:`params` reset);
    - ``params_changed(params)``, ``light_changed(light)``, ``tf_changed(tf)``,
      ``shadow_mode_changed(mode)``, ``shadow_availability_changed(reason or None)``;
    - ``volume_ready(Result)``: a volume (and shadow volume) to show; ``image_ready(ViewImage)`` for NVS;
    - ``first_frame()``: the first full-quality frame is up (see :meth:`frame_shown`);
    - ``error(title, message)``: something failed that the user should hear about.
    """

    def __init__(self, post: Callable | None = None, resolutions=(32, 64), threads: int | None = 1):
        from hyperinr_renderer import Light, TransferFunction

        self.post = post or call_now
        self.resolutions = tuple(resolutions)
        self.threads = threads
        self.model = None  # the volume HyperINR, or None
        self.shadow_model = None
        self.nvs_model = None  # the NVS HyperINR when an image model is open (then ``model`` is None)
        self.bundle = None
        self.source: str | None = None  # the file the model came from
        self.bundle_tf = None  # the transfer function the bundle itself names
        self.tf = TransferFunction.preset("viridis")
        self.light = Light(azimuth=45.0, polar=45.0)
        self.params: dict[str, float] = {}  # the open model's parameters, in its order
        self.initial_params: dict[str, float] = {}  # --param values, applied when a model opens
        self.shadow_mode = "none"
        self.shadow_explicit = False  # --shadow given: keep that mode instead of field shadows by default
        self.compile_decoder = True  # compile the decoder after the first full frame (not for one screenshot)
        self.worker: GenerationWorker | None = None
        self.view_worker: NVSWorker | None = None
        self.view_shapes: tuple[tuple[int, int], ...] = ()
        self.histogram: np.ndarray | None = None  # of the last full-resolution volume shown
        self.shown_final = False  # the volume shown is the newest request's full-resolution one
        self.pending_first = True  # no full-quality frame shown yet
        self.stats = {"gen": 0.0, "decode": 0.0, "res": 0}  # of the last volume: ms and resolution
        self._opened = 0  # models opened so far: results of an earlier one are dropped
        self.model_changed = Event("model_changed")
        self.params_changed = Event("params_changed")
        self.light_changed = Event("light_changed")
        self.tf_changed = Event("tf_changed")
        self.shadow_mode_changed = Event("shadow_mode_changed")
        self.shadow_availability_changed = Event("shadow_availability_changed")
        self.volume_ready = Event("volume_ready")
        self.image_ready = Event("image_ready")
        self.first_frame = Event("first_frame")
        self.error = Event("error")

    # -- opening ---------------------------------------------------------------------------------------------
    def set_model(self, bundle, model, shadow_model=None, tf=None, source=None, bundle_tf=None) -> None:
        """Show the volume ``model`` (and ``shadow_model``) with ``tf`` (None: keep the current one)."""
        self.close_workers()
        self.nvs_model, self.view_shapes = None, ()
        self.bundle, self.model, self.shadow_model = bundle, model, shadow_model
        self.source = str(source) if source is not None else None
        self.bundle_tf = bundle_tf
        self.params = self._start_params(model)
        if tf is not None:
            self.tf = tf
            self.tf_changed.emit(tf)
        self.update_shadow_availability()
        if shadow_model is not None and self.field_unavailable_reason() is None and not self.shadow_explicit:
            self.set_shadow_mode("field")  # the shadow model was made for this TF: show it
        # The decoder compiles once the first full-quality frame is up (frame_shown), not during the first
        # image; a model opened later starts compiling after its first volume.
        self.worker = GenerationWorker(model, self._poster(self._on_volume), shadow_model=shadow_model,
                                       threads=self.threads, compile_after_first=not self.pending_first)
        self.shown_final = False
        self.model_changed.emit()
        self.request()

    def open_nvs(self, bundle, model) -> None:
        """Show the NVS ``model``: images for view directions instead of volumes."""
        self.close_workers()
        self.model = self.shadow_model = None
        self.bundle, self.nvs_model, self.source, self.bundle_tf = bundle, model, None, None
        self.params = self._start_params(model)
        self.view_shapes = view_shapes(model)
        self.view_worker = NVSWorker(model, self._poster(self.image_ready.emit), threads=self.threads)
        self.update_shadow_availability()
        self.model_changed.emit()
        self.request()

    def _poster(self, fn: Callable) -> Callable:
        """The callback for a new worker: posts its results to ``fn``, dropped once another model opened."""
        self._opened += 1
        return partial(self.post, self._deliver, self._opened, fn)

    def _deliver(self, opened: int, fn: Callable, result) -> None:
        if opened == self._opened:  # not a late result of a model closed meanwhile
            fn(result)

    def _start_params(self, model) -> dict[str, float]:
        cfg = model.cfg
        # mid-range (mid-series: where the flow is developed) unless --param asked for a value
        return {n: float(self.initial_params.get(n, (lo + hi) / 2))
                for n, lo, hi in zip(cfg.param_names, cfg.param_lo, cfg.param_hi, strict=True)}

    @property
    def active_model(self):
        """The model open now, volume or NVS (None before one is opened)."""
        return self.model if self.model is not None else self.nvs_model

    @property
    def title(self) -> str:
        from pathlib import Path

        b = self.bundle
        return "" if b is None else (b.title or Path(b.model).name)

    # -- parameters ------------------------------------------------------------------------------------------
    def theta(self) -> list[float]:
        return list(self.params.values())

    def set_param(self, name: str, value: float) -> None:
        self.set_params(**{name: value})

    def set_params(self, **values: float) -> None:
        """Set parameters by name (clamped to the model's range); one request for all of them."""
        m = self.active_model
        if m is None:
            return
        cfg = m.cfg
        unknown = set(values) - set(cfg.param_names)
        if unknown:
            raise KeyError(f"the model has no parameter {sorted(unknown)[0]!r}")
        for n, lo, hi in zip(cfg.param_names, cfg.param_lo, cfg.param_hi, strict=True):
            if n in values:
                self.params[n] = min(max(float(values[n]), lo), hi)
        self.params_changed.emit(dict(self.params))
        self.request()

    def request(self) -> None:
        """Ask the worker for the volume (and shadow volume), or the NVS image, at the current state."""
        if self.view_worker is not None:
            self.view_worker.request(ViewRequest(self.theta(), self.view_shapes))
        if self.worker is None:
            return
        want_shadow = self.shadow_model is not None and self.shadow_mode == "field"
        light = (self.light.azimuth, self.light.polar) if want_shadow else None
        self.worker.request(Request(self.theta(), light, self.resolutions))

    # -- light and shadows -----------------------------------------------------------------------------------
    def set_light(self, **kw) -> None:
        """``set_light(azimuth=..., polar=...)`` in degrees."""
        self.light = replace(self.light, **kw)
        self.light_changed.emit(self.light)
        if self.shadow_mode == "field":
            self.request()

    def set_shadow_mode(self, mode: str) -> None:
        if mode not in SHADOW_MODES:
            raise ValueError(f"unknown shadow mode {mode!r} ({', '.join(SHADOW_MODES)})")
        if mode == self.shadow_mode:
            return
        self.shadow_mode = mode
        self.shadow_mode_changed.emit(mode)
        if mode == "field":
            self.request()

    def field_unavailable_reason(self) -> str | None:
        if self.shadow_model is None:
            return "Shadow field needs a shadow model (open a bundle that has one)."
        made_for = self.shadow_model.cfg.metadata.get("tf_fingerprint")
        if made_for and made_for != self.tf.fingerprint():
            return "The shadow model was made for another transfer function; use rays, or reload its TF."
        return None

    def update_shadow_availability(self) -> None:
        """Tell the views whether field shadows can be shown; leave field mode when they cannot."""
        reason = self.field_unavailable_reason()
        self.shadow_availability_changed.emit(reason)
        if reason and self.shadow_mode == "field":
            self.set_shadow_mode("none")

    # -- transfer function -----------------------------------------------------------------------------------
    def set_tf(self, tf) -> None:
        self.tf = tf
        self.tf_changed.emit(tf)
        self.update_shadow_availability()

    def data_range(self, tail: float = 0.002) -> tuple[float, float] | None:
        """The shown volume's value range from its histogram, without the lowest ``tail`` of the values."""
        h = self.histogram
        if h is None or h.sum() == 0:
            return None
        edges = np.linspace(0.0, 1.0, len(h) + 1)
        cdf = np.cumsum(h) / h.sum()
        lo = edges[int(np.searchsorted(cdf, tail, side="right"))]
        hi = edges[int(np.flatnonzero(h)[-1]) + 1]
        return float(lo), float(max(hi, lo + 1.0 / len(h)))

    def fit_opacity(self) -> tuple[float, float] | None:
        """Stretch the opacity curve from [0, 1] over the shown volume's value range (e.g. an early timestep
        whose values all lie where the series-wide curve is still transparent); the range, or None."""
        rng = self.data_range()
        if rng is None:
            return None
        lo, hi = rng
        self.set_tf(self.tf.with_opacity([(lo + v * (hi - lo), a) for v, a in self.tf.opacity]))
        return rng

    # -- results and frames ----------------------------------------------------------------------------------
    def _on_volume(self, r: Result) -> None:
        if r.error:
            self.error.emit("Generating the volume failed", r.error)
            return
        self.stats.update(gen=r.generate_ms, decode=r.decode_ms + r.shadow_ms, res=r.resolution)
        self.shown_final = r.final
        if r.histogram is not None:  # final volumes: the TF editor follows the volume shown
            self.histogram = r.histogram
        self.volume_ready.emit(r)

    def frame_shown(self, interactive: bool, spp: int) -> None:
        """The view drew a frame; the first one at full quality starts the decoder's compilation."""
        if self.pending_first and self.shown_final and not interactive and spp >= 4:
            self.pending_first = False
            if self.worker is not None and self.compile_decoder:
                self.worker.start_compiling()
            self.first_frame.emit()

    # -- exports and closing ---------------------------------------------------------------------------------
    def export_scene(self, camera, background=None):
        """What an export renders: the model at the current parameters, TF, light and shadows."""
        from hyperinr_app.export_scene import ExportScene

        if self.model is None:
            raise ValueError("nothing to export: open a model first")
        extra = {} if background is None else {"background": background}
        shadow = self.shadow_model if self.shadow_mode == "field" else None
        return ExportScene(model=self.model, theta=self.theta(), shadow_model=shadow, light=self.light,
                           tf=self.tf, camera=camera, shadow_mode=self.shadow_mode, **extra)

    def close_workers(self) -> None:
        for w in (self.worker, self.view_worker):
            if w is not None:
                w.close()
        self.worker = self.view_worker = None
        self._opened += 1  # what they posted and the GUI thread has not run yet is dropped

    def close(self) -> None:
        """Stop the workers; the state stays readable."""
        self.close_workers()

