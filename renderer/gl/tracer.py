"""The GL path tracer as a vispy gloo "visual": textures + programs from ``shaders/``, drawn into ping-pong float
framebuffers that hold the running mean of all frames since the last change (progressive accumulation).

The optics are those of :mod:`renderer.tracer` line by line (see ``shaders/pt_trace.frag.glsl``), and the random
numbers are the same counter-based hash (``shaders/pt_random.glsl`` = :mod:`renderer.sampling`): a GL frame
with index ``f`` draws the jitters of the torch frame ``f``. Macro cells (:class:`renderer.macrocells.GridMacroCells`
of the grid, refreshed when the transfer function changes) let rays hop over cells that cannot contribute.

Every method that touches GL must run with the owning canvas's context current (vispy gloo objects queue GL
commands on the current canvas).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass

import numpy as np
from vispy import gloo

from ..camera import Camera
from ..light import Light
from ..transfer import TransferFunction
from .shaders import shader_source

__all__ = ["GLPathTracer", "AccumulationTarget", "TraceSettings", "SHADOW_MODES"]

SHADOW_MODES = ("none", "rays", "field")
_MODE_DEFINE = {"none": 0, "rays": 1, "field": 2}


@dataclass
class TraceSettings:
    """How (not what) to render. Lengths in unit-cube units; defaults match :class:`renderer.tracer.RenderSettings`."""

    step: float = 1.0 / 256.0
    shadow_step: float | None = None  # None: same as ``step``
    termination: float = 1e-3
    background: tuple[float, float, float] = (0.08, 0.08, 0.1)
    seed: int = 0
    voxels_per_cell: int = 8
    table_size: int = 256

    @property
    def light_step(self) -> float:
        return self.shadow_step or self.step


class AccumulationTarget:
    """Two RGBA32F textures + framebuffers of one size; ``texture`` holds the mean of ``frames`` frames."""

    def __init__(self, width: int, height: int):
        self.size = (int(width), int(height))
        shape = (self.size[1], self.size[0], 4)
        self.textures = [
            gloo.Texture2D(shape=shape, format="rgba", internalformat="rgba32f", interpolation="linear")
            for _ in range(2)
        ]
        self.fbos = [gloo.FrameBuffer(color=t) for t in self.textures]
        self.current = 0
        self.frames = 0  # completed frames (every pixel has this many samples)
        self.band = 0  # next band of the frame in progress
        self.bands = 1  # bands per frame, fixed while a frame is in progress
        self.key: str | None = None

    @property
    def texture(self) -> gloo.Texture2D:
        return self.textures[self.current]

    def read(self) -> np.ndarray:
        """The running mean as ``(H, W, 3)`` float32 linear RGB, row 0 at the top."""
        w, h = self.size
        with self.fbos[self.current]:
            img = gloo.read_pixels((0, 0, w, h), alpha=False, out_type="float")
        return np.ascontiguousarray(img)


def _texture3d(old: gloo.Texture3D | None, data: np.ndarray, internalformat: str, interpolation: str):
    data = np.ascontiguousarray(data, dtype=np.float32)
    if old is not None and old.shape[:3] == data.shape and old.internalformat == internalformat:
        old.set_data(data)
        return old
    return gloo.Texture3D(data, internalformat=internalformat, interpolation=interpolation,
                          wrapping="clamp_to_edge")


class GLPathTracer:
    """Scene state + GL resources of the path tracer. Change the scene through the setters; every change bumps
    :attr:`version`, which resets accumulation in every target on its next frame."""

    def __init__(self, settings: TraceSettings | None = None):
        self.settings = settings or TraceSettings()
        self.tf = TransferFunction()
        self.light = Light()
        self.shadow_mode = "none"
        self.version = 0
        self._programs: dict[str, gloo.Program] = {}
        quad = np.array([[-1, -1], [1, -1], [-1, 1], [1, 1]], dtype=np.float32)
        self._quad = gloo.VertexBuffer(quad)
        self._display = gloo.Program(shader_source("pt_quad.vert.glsl"), shader_source("pt_display.frag.glsl"))
        self._display["a_position"] = self._quad
        self._copy = gloo.Program(shader_source("pt_quad.vert.glsl"), shader_source("pt_copy.frag.glsl"))
        self._copy["a_position"] = self._quad
        self._volume: gloo.Texture3D | None = None
        self._volume_shape = (2, 2, 2)
        self._grid: np.ndarray | None = None  # (Z, Y, X) float32 copy for macro cells
        self._cells = None
        self._cells_tex: gloo.Texture3D | None = None
        self._shadow: gloo.Texture3D | None = None
        self._shadow_shape = (2, 2, 2)
        self._tf_tex: gloo.Texture2D | None = None
        self._empty = True
        self._bounds = ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
        self.set_volume(np.zeros((2, 2, 2), np.float32))
        self.set_transfer_function(self.tf)

    # -- scene -------------------------------------------------------------------------------------------
    def _changed(self) -> None:
        self.version += 1

    def set_volume(self, volume: np.ndarray) -> None:
        """``(Z, Y, X)`` normalized values in [0, 1] (float16 is kept as a half-float texture).

        Cheap enough for the GUI thread while scrubbing: one texture upload and numpy macro cells (no torch)."""
        vol = np.asarray(volume)
        if vol.ndim != 3 or min(vol.shape) < 2:
            raise ValueError(f"a volume must be (Z, Y, X) with every side >= 2, got {vol.shape}")
        fmt = "r16f" if vol.dtype == np.float16 else "r32f"
        self._volume = _texture3d(self._volume, vol, fmt, "linear")
        self._volume_shape = vol.shape
        # Macro cells see exactly the values the texture holds (half floats rounded as GL rounds them).
        self._grid = np.clip(np.asarray(vol, dtype=np.float32), 0.0, 1.0)
        self._rebuild_cells()
        self._changed()

    def _rebuild_cells(self) -> None:
        from ..macrocells import GridMacroCells

        self._cells = GridMacroCells(self._grid, voxels_per_cell=self.settings.voxels_per_cell)
        self._refresh_cells()

    def set_shadow_volume(self, volume: np.ndarray | None) -> None:
        """``(Z, Y, X)`` transmittance toward the light at grid nodes (shadow mode 'field'), or None."""
        if volume is None:
            self._shadow = None
        else:
            vol = np.asarray(volume)
            if vol.ndim != 3 or min(vol.shape) < 2:
                raise ValueError(f"a shadow volume must be (Z, Y, X) with every side >= 2, got {vol.shape}")
            fmt = "r16f" if vol.dtype == np.float16 else "r32f"
            self._shadow = _texture3d(self._shadow, vol, fmt, "linear")
            self._shadow_shape = vol.shape
        self._changed()

    @property
    def has_shadow_volume(self) -> bool:
        return self._shadow is not None

    def set_transfer_function(self, tf: TransferFunction) -> None:
        self.tf = tf
        table = tf.table(self.settings.table_size).astype(np.float32)[None]  # (1, n, 4)
        if self._tf_tex is None or self._tf_tex.shape[1] != table.shape[1]:
            self._tf_tex = gloo.Texture2D(table, format="rgba", internalformat="rgba32f",
                                          interpolation="linear", wrapping="clamp_to_edge")
        else:
            self._tf_tex.set_data(table)
        self._refresh_cells()
        self._changed()

    def set_light(self, light: Light) -> None:
        self.light = light
        self._changed()

    def set_shadow_mode(self, mode: str) -> None:
        if mode not in SHADOW_MODES:
            raise ValueError(f"shadow mode must be one of {SHADOW_MODES}, got {mode!r}")
        self.shadow_mode = mode
        self._changed()

    def set_settings(self, **changes) -> None:
        vpc = self.settings.voxels_per_cell
        for k, v in changes.items():
            if not hasattr(self.settings, k):
                raise AttributeError(f"unknown trace setting {k!r}")
            setattr(self.settings, k, v)
        if self.settings.voxels_per_cell != vpc and self._grid is not None:
            self._rebuild_cells()
        self._changed()

    def _refresh_cells(self) -> None:
        if self._cells is None:
            return
        self._cells.refresh(self.tf.table(self.settings.table_size))
        occ = self._cells.occupied.astype(np.float32)
        if self._cells_tex is not None and self._cells_tex.shape[:3] == occ.shape:
            self._cells_tex.set_data(occ)
        else:
            self._cells_tex = gloo.Texture3D(occ, internalformat="r32f", interpolation="nearest",
                                             wrapping="clamp_to_edge")
        b = self._cells.bounds()
        self._empty = b is None
        if b is not None:
            self._bounds = (tuple(float(x) for x in b[0]), tuple(float(x) for x in b[1]))

    # -- programs ----------------------------------------------------------------------------------------
    def _program(self, mode: str) -> gloo.Program:
        if mode not in self._programs:
            frag = shader_source("pt_trace.frag.glsl", {"SHADOW_MODE": _MODE_DEFINE[mode]})
            prog = gloo.Program(shader_source("pt_quad.vert.glsl"), frag)
            prog["a_position"] = self._quad
            self._programs[mode] = prog
        return self._programs[mode]

    def scene_key(self, camera: Camera, size: tuple[int, int], step: float) -> str:
        """Everything an accumulated image depends on."""
        return json.dumps([self.version, camera.to_dict(), list(size), step, self.shadow_mode,
                           asdict(self.settings)], sort_keys=True, default=str)

    # -- rendering ---------------------------------------------------------------------------------------
    def trace(self, target: AccumulationTarget, camera: Camera, frames: int = 1, step: float | None = None,
              max_frames: int | None = None, bands: int = 1) -> int:
        """Add ``frames`` frames to ``target`` (reset first if the scene, camera or step changed).

        Args:
            step: primary step for these frames (default ``settings.step``); the adaptive interaction passes
                a coarser one. Opacity correction keeps the look independent of it.
            max_frames: stop accumulating once the target holds this many frames.
            bands: split each frame into this many horizontal bands and trace ONE band per call (``frames``
                is then ignored): the canvas keeps its frame rate at rest when a full frame costs more than
                its budget. A frame's bands all use the same random-number frame key, so the result equals
                unbanded rendering. Takes effect at the next frame boundary.
        Returns:
            The number of complete frames the target holds now.
        """
        s = self.settings
        step = float(step or s.step)
        mode = self.shadow_mode
        if mode == "field" and self._shadow is None:
            mode = "none"  # nothing to look up yet; the canvas reports it
        key = self.scene_key(camera, target.size, step)
        if key != target.key:
            target.key, target.frames, target.band = key, 0, 0
        if target.band == 0:
            target.bands = max(1, min(int(bands), target.size[1]))
        prog = self._program(mode)
        self._set_uniforms(prog, mode, camera, target.size, step)
        w, h = target.size
        gloo.set_state(blend=False, depth_test=False, cull_face=False, scissor_test=False)
        n = 1 if target.bands > 1 else int(frames)
        for _ in range(n):
            if max_frames is not None and target.frames >= max_frames:
                break
            src, dst = target.current, 1 - target.current
            prog["u_prev"] = target.textures[src]
            prog["u_frame"] = int(target.frames)
            with target.fbos[dst]:
                gloo.set_viewport(0, 0, w, h)
                if target.bands > 1:
                    # Outside the band the mean is copied through (cheap), inside it is traced.
                    self._copy["u_prev"] = target.textures[src]
                    self._copy.draw("triangle_strip")
                    y0 = h * target.band // target.bands
                    y1 = h * (target.band + 1) // target.bands
                    gloo.set_state(scissor_test=True)
                    gloo.set_scissor(0, y0, w, y1 - y0)
                prog.draw("triangle_strip")
                gloo.set_state(scissor_test=False)
            target.current = dst
            target.band += 1
            if target.band >= target.bands:
                target.band = 0
                target.frames += 1
        return target.frames

    def _set_uniforms(self, prog: gloo.Program, mode: str, camera: Camera, size: tuple[int, int],
                      step: float) -> None:
        s = self.settings
        w, h = size
        r, u, f = camera.basis()
        half_h = math.tan(math.radians(camera.fov) / 2)
        lo, hi = self._bounds
        cells_shape = self._cells.shape  # (Cz, Cy, Cx)
        uniforms = {
            "u_volume": self._volume, "u_volume_shape": tuple(float(n) for n in reversed(self._volume_shape)),
            "u_tf": self._tf_tex, "u_tf_size": float(s.table_size), "u_ref_step": float(self.tf.ref_step),
            "u_cells": self._cells_tex, "u_cell_scale": tuple(self._cells.scale.tolist()),
            "u_cell_max": tuple(float(c - 1) for c in reversed(cells_shape)),
            "u_bounds_lo": lo, "u_bounds_hi": hi, "u_termination": float(s.termination),
            "u_seed": int(s.seed), "u_size": (float(w), float(h)),
            "u_eye": tuple(camera.eye()), "u_right": tuple(r), "u_up": tuple(u), "u_forward": tuple(f),
            "u_half": (half_h * w / h, half_h), "u_step": step,
            "u_light_step": float(s.shadow_step or step), "u_light_dir": tuple(self.light.direction()),
            "u_intensity": float(self.light.intensity), "u_ambient": float(self.light.ambient),
            "u_background": tuple(float(c) for c in s.background), "u_empty": 1.0 if self._empty else 0.0,
        }
        if mode == "field":
            uniforms["u_shadow"] = self._shadow
            uniforms["u_shadow_shape"] = tuple(float(n) for n in reversed(self._shadow_shape))
        for name, value in uniforms.items():
            prog[name] = value

    def display(self, target: AccumulationTarget, viewport: tuple[int, int, int, int]) -> None:
        """Draw the target's running mean into the current framebuffer's ``viewport`` (x, y, w, h)."""
        gloo.set_state(blend=False, depth_test=False, cull_face=False)
        gloo.set_viewport(*viewport)
        self._display["u_image"] = target.texture
        self._display.draw("triangle_strip")
