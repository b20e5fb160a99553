"""Device-agnostic volumetric path tracer (torch): the export renderer and the GL path's reference.

Optical model (docs/ARCHITECTURE.md, "One optical model"): emission-absorption ray marching through the unit cube
with a jittered start, opacity correction ``1 - (1 - a) ** (step / ref_step)``, colour from the transfer
function, one directional light plus ambient with single scattering (isotropic phase, unnormalized):
a sample of colour ``c`` scatters ``c * (ambient + intensity * T_light)`` where ``T_light`` is the
transmittance toward the light (shadow mode ``none``: 1; ``rays``: a secondary ray; ``field``: one lookup in a
shadow field). Rays stop when their transmittance falls below ``termination``. Output is linear RGB composited
over the background: ``C + T * background``.

Sample streaming: all active rays advance together by ``K`` lattice steps per iteration, ``K`` chosen so that
``rays * K`` is about ``batch`` field samples; finished rays are compacted away, so the batch stays large
until the last ray. Samples sit on a per-ray lattice ``t = entry + (k + u) * step`` (u per ray and frame), so
skipping empty macro cells or clipping to their bounding box never moves a sample.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import Tensor

from .camera import Camera
from .fields import Field
from .light import Light
from .macrocells import MacroCells
from .marcher import Marcher, MarchStats, intersect_box
from .sampling import STREAM_JITTER_X, STREAM_JITTER_Y, STREAM_SHADOW, STREAM_START, hash_uniform
from .transfer import TransferFunction

__all__ = ["RenderSettings", "Marcher", "PathTracer", "intersect_box", "SHADOW_MODES"]

SHADOW_MODES = ("none", "rays", "field")


@dataclass
class RenderSettings:
    """Everything about how (not what) to render. Lengths are in unit-cube units."""

    width: int = 800
    height: int = 600
    step: float = 1.0 / 256.0
    shadow: str = "none"
    shadow_step: float | None = None  # None: same as ``step``
    macro_cells: bool = True
    voxels_per_cell: int = 16
    background: tuple[float, float, float] = (0.08, 0.08, 0.1)
    termination: float = 1e-3
    batch: int = 1 << 18
    table_size: int = 256
    max_rays: int = 1 << 21  # rays in flight when rendering several samples per pixel at once

    def __post_init__(self) -> None:
        if self.shadow not in SHADOW_MODES:
            raise ValueError(f"shadow mode must be one of {SHADOW_MODES}, got {self.shadow!r}")
        if not (self.width > 0 and self.height > 0 and self.step > 0):
            raise ValueError(f"invalid size {self.width}x{self.height} or step {self.step}")
        self.background = tuple(float(c) for c in self.background)

    @property
    def light_step(self) -> float:
        return self.shadow_step or self.step


class PathTracer:
    """Progressive renderer: each :meth:`render` call adds ``spp`` jittered samples per pixel to a running
    mean, until anything about the scene changes (then it starts over).

    The scene is the public attributes ``field``, ``tf``, ``camera``, ``light``, ``settings``,
    ``shadow_field``; change them freely between calls. ``stats`` counts field samples of the last call.
    """

    def __init__(
        self,
        field: Field,
        tf: TransferFunction,
        camera: Camera | None = None,
        light: Light | None = None,
        settings: RenderSettings | None = None,
        shadow_field: Field | None = None,
        seed: int = 0,
    ):
        self.field, self.tf = field, tf
        self.camera = camera or Camera()
        self.light = light or Light()
        self.settings = settings or RenderSettings()
        self.shadow_field = shadow_field
        self.seed = int(seed)
        self.frames = 0
        self.image: Tensor | None = None
        self.stats = MarchStats()
        self._key = None
        self._cells: MacroCells | None = None
        self._cells_key = None

    @property
    def device(self) -> torch.device:
        return self.field.device

    def reset(self) -> None:
        """Restart the accumulation (changes of the public attributes are detected; call this after changing
        a field's contents in place)."""
        self.frames, self.image, self._key = 0, None, None

    def invalidate_field(self) -> None:
        """The field's values changed in place (e.g. a HyperINR generated into the same buffer): rebuild the
        macro cells and restart the accumulation."""
        self._cells_key = None
        self.reset()

    def _scene_key(self) -> str:
        return json.dumps(
            [
                id(self.field),
                id(self.shadow_field),
                self.tf.fingerprint(),
                self.camera.to_dict(),
                self.light.to_dict(),
                asdict(self.settings),
                self.seed,
            ],
            sort_keys=True,
        )

    def macro_cells(self) -> MacroCells | None:
        """The field's macro cells, rebuilt when the field changes, refreshed when the TF changes."""
        s = self.settings
        if not s.macro_cells:
            return None
        key = (id(self.field), s.voxels_per_cell)
        if self._cells_key != key:
            self._cells, self._cells_key = MacroCells(self.field, s.voxels_per_cell), key
        self._cells.refresh(self.tf, torch.from_numpy(self.tf.table(s.table_size)).to(self.device))
        return self._cells

    @torch.no_grad()
    def render(self, spp: int = 1) -> Tensor:
        """Add ``spp`` samples per pixel; returns the running mean, ``(H, W, 3)`` float32 linear RGB."""
        s = self.settings
        if s.shadow == "field" and self.shadow_field is None:
            raise ValueError("shadow mode 'field' needs a shadow_field")
        key = self._scene_key()
        if key != self._key:
            self.frames, self.image, self._key = 0, None, key
        marcher = Marcher(self.field, self.tf, self.macro_cells(), s.batch, s.termination, s.table_size)
        n_pix = s.width * s.height
        per_group = max(1, s.max_rays // n_pix)
        for g in range(0, spp, per_group):
            frames = list(range(self.frames + g, self.frames + min(spp, g + per_group)))
            imgs = self._trace_frames(marcher, frames)
            for img in imgs:  # running mean, frame by frame: a constant pixel stays bit-exact
                n = self.frames + 1
                self.image = img if self.image is None else self.image + (img - self.image) / n
                self.frames = n
        self.stats = marcher.stats
        return self.image

    def _trace_frames(self, marcher: Marcher, frames: list[int]) -> list[Tensor]:
        s, dev = self.settings, self.device
        n_pix = s.width * s.height
        pix = torch.arange(n_pix, device=dev).repeat(len(frames))
        frame = torch.tensor(frames, device=dev).repeat_interleave(n_pix)
        jitter = (
            torch.stack(
                [
                    hash_uniform(self.seed, STREAM_JITTER_X, frame, pix),
                    hash_uniform(self.seed, STREAM_JITTER_Y, frame, pix),
                ],
                1,
            )
            - 0.5
        )
        # Camera rays for pixel centres + jitter: the camera's own ray generator, once per frame.
        o, d = [], []
        for i, _ in enumerate(frames):
            oi, di = self.camera.rays(s.width, s.height, dev, jitter[i * n_pix : (i + 1) * n_pix])
            o.append(oi)
            d.append(di)
        o, d = torch.cat(o), torch.cat(d)
        t0, t1 = intersect_box(o, d)
        hit = t1 > t0
        n = o.shape[0]
        rays = {
            "o": o,
            "d": d,
            "base": t0,
            "t1": torch.where(hit, t1, torch.full_like(t1, -1.0)),
            "u": hash_uniform(self.seed, STREAM_START, frame, pix),
            "T": torch.ones(n, device=dev),
            "C": torch.zeros(n, 3, device=dev),
            "pix": pix,
            "frame": frame,
        }
        res = marcher.march(rays, s.step, shade=self._shader(marcher), outputs=("T", "C"))
        bg = torch.tensor(s.background, device=dev)
        img = res["C"] + res["T"][:, None] * bg
        return list(img.view(len(frames), s.height, s.width, 3).unbind(0))

    def _shader(self, marcher: Marcher):
        s, light = self.settings, self.light
        ldir = torch.tensor(light.direction(), dtype=torch.float32, device=self.device)

        def shade(rays: dict, pos: Tensor, kk: Tensor, mask: Tensor, A: Tensor, T_in: Tensor) -> None:
            if "_rgb" not in rays:
                return
            w = T_in * A
            T_light = torch.ones_like(A)
            if s.shadow != "none":
                # Only samples that still contribute need a shadow term.
                need = mask & (A > 0)
                p = pos[need]
                if s.shadow == "rays":
                    rows = need.nonzero(as_tuple=True)[0]
                    u = hash_uniform(
                        self.seed, STREAM_SHADOW, rays["frame"][rows], rays["pix"][rows], kk[need]
                    )
                    before = marcher.stats.field_samples
                    T_light[need] = marcher.transmittance(p, ldir, u, s.light_step)
                    # secondary-ray samples are shadow work: count them apart from the primary samples
                    marcher.stats.shadow_samples += marcher.stats.field_samples - before
                    marcher.stats.field_samples = before
                else:
                    T_light[need] = self.shadow_field(p)
                    marcher.stats.shadow_samples += p.shape[0]
            radiance = torch.zeros(*A.shape, 3, device=A.device)
            radiance[mask] = rays["_rgb"] * (light.ambient + light.intensity * T_light[mask])[:, None]
            rays["C"] = rays["C"] + (w[..., None] * radiance).sum(1)

        return shade

    # -- output ------------------------------------------------------------------------------------------
    def to_uint8(self) -> np.ndarray:
        """The current image as ``(H, W, 3)`` uint8 (linear values clipped to [0, 1])."""
        if self.image is None:
            raise RuntimeError("nothing rendered yet")
        return (self.image.clamp(0, 1) * 255 + 0.5).to(torch.uint8).cpu().numpy()


def save_png(image: np.ndarray, path) -> None:
    """Write an ``(H, W, 3)`` uint8 image atomically."""
    import imageio.v3 as iio

    from hyperinr_core.fileio import atomic_path

    with atomic_path(path) as tmp:
        iio.imwrite(tmp, image, extension=".png")
