"""View datasets for novel view synthesis (NVS): path-traced images of one volume from many directions.

A view direction is a pair ``(theta, phi)`` in degrees: ``theta`` is the polar angle of the camera position
seen from the volume centre, measured from +z (world up), ``phi`` its azimuth around +z from +x; the same
spherical convention as :func:`renderer.light.light_direction`. The orbit camera sits at
``elevation = 90 - theta``, ``azimuth = phi``.

Default parameter square (:class:`ViewConfig`): ``theta`` in [20, 160] and ``phi`` in [0, 180]. Why: it
keeps 20 degrees away from the poles (where the turntable camera's azimuth stops mattering and its up vector
flips), covers views from above, the side and below, and spans half a turn in azimuth: the Taylor-Green
vortex repeats under quarter turns about z, so a wider azimuth range would mostly repeat views while
spreading the same number of training views thinner. With 100 training views the neighbours are about
14 degrees apart in theta and 18 in phi, enough for the structures to move several pixels between views.

Directions are Bridson Poisson-disk samples of the normalized square (:func:`sample_views`); a seeded random
half is marked for training. Every view is rendered by the torch path tracer with its own seed (independent
noise per view), one directional light fixed in the world (so shading and shadows change with the view), and
by default the light's global shadows looked up in a shadow volume computed once (``shadow="field"``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass

import numpy as np
import torch

from .camera import Camera
from .fields import Field, GridField
from .light import Light
from .tracer import PathTracer, RenderSettings
from .transfer import TransferFunction

__all__ = [
    "VIEW_PARAM_NAMES",
    "ViewConfig",
    "sample_views",
    "split_views",
    "view_camera",
    "ViewRenderer",
    "write_view_dataset",
]

#: Parameter names of NVS datasets and models, in degrees.
VIEW_PARAM_NAMES = ["theta", "phi"]


@dataclass
class ViewConfig:
    """What to render for a view dataset. Angles in degrees, lengths in unit-cube units.

    Attributes:
        n_views: number of view directions (Poisson-disk samples; the paper: 200).
        width, height: image size in pixels (the paper: 256 x 256).
        spp: samples per pixel. 4 is clean at 256^2: two independent 4-spp renders of the TGV demo differ
            by about 53 dB PSNR, far above any reconstruction error of interest.
        theta_range, phi_range: the parameter square (see the module docstring for the default's reasons).
        train_fraction: share of the views marked for training in ``/train`` (the paper: half).
        distance, fov: orbit camera distance from the volume centre and vertical field of view.
        step: ray-marching step. 1/128 (half a voxel of a 64^3 volume) halves the cost of the transfer
            function's reference step 1/256; the opacity correction keeps the optics the same.
        shadow: "field" (a shadow volume computed once, one lookup per sample), "rays" (secondary rays,
            exact but O(n^2) per ray) or "none".
        shadow_resolution: grid of the shadow volume for ``shadow="field"``.
        background: linear RGB behind the volume.
        seed: seeds the directions, the train/test split and (offset by the view index) the tracer.
    """

    n_views: int = 200
    width: int = 256
    height: int = 256
    spp: int = 4
    theta_range: tuple[float, float] = (20.0, 160.0)
    phi_range: tuple[float, float] = (0.0, 180.0)
    train_fraction: float = 0.5
    distance: float = 2.4
    fov: float = 35.0
    step: float = 1.0 / 128.0
    shadow: str = "field"
    shadow_resolution: int = 64
    background: tuple[float, float, float] = (0.08, 0.08, 0.1)
    seed: int = 0

    def __post_init__(self) -> None:
        from hyperinr_core.errors import HyperINRError

        self.theta_range = tuple(float(v) for v in self.theta_range)
        self.phi_range = tuple(float(v) for v in self.phi_range)
        if self.n_views < 2:
            raise HyperINRError(f"need at least 2 views, got {self.n_views}")
        if not (0 < self.width <= 8192 and 0 < self.height <= 8192) or self.spp < 1:
            raise HyperINRError(f"invalid image size {self.width}x{self.height} or spp {self.spp}")
        lo, hi = self.theta_range
        if not 0.0 <= lo < hi <= 180.0:
            raise HyperINRError(f"theta range must satisfy 0 <= lo < hi <= 180, got {self.theta_range}")
        if not self.phi_range[0] < self.phi_range[1]:
            raise HyperINRError(f"phi range must satisfy lo < hi, got {self.phi_range}")
        if not 0.0 < self.train_fraction < 1.0:
            raise HyperINRError(f"train fraction must be in (0, 1), got {self.train_fraction}")
        if self.shadow not in ("none", "rays", "field"):
            raise HyperINRError(f"shadow must be none, rays or field, got {self.shadow!r}")

    @property
    def param_lo(self) -> list[float]:
        return [self.theta_range[0], self.phi_range[0]]

    @property
    def param_hi(self) -> list[float]:
        return [self.theta_range[1], self.phi_range[1]]

    def to_attrs(self) -> dict:
        """JSON-able description stored with the dataset (so a view can be re-rendered)."""
        return asdict(self)


def sample_views(cfg: ViewConfig) -> np.ndarray:
    """``(n_views, 2)`` float64 ``(theta, phi)`` in degrees: Poisson-disk samples of the parameter square."""
    from hyperinr_core.model.positions import poisson_disk_positions

    u = poisson_disk_positions(2, count=cfg.n_views, seed=cfg.seed)
    if len(u) < cfg.n_views:  # pragma: no cover - the bisection always finds enough for sane counts
        raise RuntimeError(f"Poisson-disk sampling gave {len(u)} of {cfg.n_views} views")
    lo, hi = np.asarray(cfg.param_lo), np.asarray(cfg.param_hi)
    return lo + u * (hi - lo)


def split_views(n: int, train_fraction: float, seed: int = 0) -> np.ndarray:
    """``(n,)`` bool training mask: a seeded random ``round(n * train_fraction)`` of the views (at least
    one training and one held-out view)."""
    k = int(np.clip(round(n * train_fraction), 1, n - 1))
    mask = np.zeros(n, dtype=bool)
    mask[np.random.default_rng(seed).permutation(n)[:k]] = True
    return mask


def view_camera(theta: float, phi: float, distance: float = 2.4, fov: float = 35.0) -> Camera:
    """The orbit camera looking at the volume centre from direction ``(theta, phi)`` (degrees)."""
    return Camera(azimuth=float(phi) % 360.0, elevation=90.0 - float(theta), distance=distance, fov=fov)


class ViewRenderer:
    """Renders one field from any view direction with a fixed transfer function, light and settings.

    The shadow volume (``shadow="field"``) and the macro cells are built once and shared by every view.
    """

    def __init__(
        self,
        field: Field,
        tf: TransferFunction,
        light: Light | None = None,
        cfg: ViewConfig | None = None,
        progress: bool = False,
    ):
        self.cfg = cfg or ViewConfig()
        self.light = light or Light()
        c = self.cfg
        shadow_field = None
        if c.shadow == "field":
            from .shadows import shadow_volume

            sv = shadow_volume(
                field, tf, self.light.direction(), c.shadow_resolution, step=c.step, progress=progress
            )
            shadow_field = GridField(sv)
        settings = RenderSettings(
            width=c.width, height=c.height, step=c.step, shadow=c.shadow, background=c.background
        )
        self.tracer = PathTracer(field, tf, light=self.light, settings=settings, shadow_field=shadow_field)

    @torch.no_grad()
    def render(self, theta: float, phi: float, seed: int = 0) -> np.ndarray:
        """``(H, W, 3)`` float32 linear RGB in [0, 1] of the view ``(theta, phi)`` (degrees)."""
        c = self.cfg
        self.tracer.camera = view_camera(theta, phi, c.distance, c.fov)
        self.tracer.seed = int(seed)
        self.tracer.reset()
        img = self.tracer.render(c.spp)
        return img.clamp(0.0, 1.0).cpu().numpy().astype(np.float32)

    def render_all(self, params: np.ndarray, progress: bool = True) -> Iterator[np.ndarray]:
        """Yield the image of every row ``(theta, phi)`` of ``params`` (N, 2), with tqdm progress."""
        from tqdm import tqdm

        rows = np.asarray(params, dtype=np.float64).reshape(-1, 2)
        for i, (theta, phi) in enumerate(tqdm(rows, desc="views", unit="view", disable=not progress)):
            yield self.render(theta, phi, seed=self.cfg.seed * 100_003 + i)


def write_view_dataset(
    path: str | os.PathLike,
    field: Field,
    tf: TransferFunction,
    light: Light | None = None,
    cfg: ViewConfig | None = None,
    attrs: dict | None = None,
    progress: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Render a view dataset and write it as an ``nvs`` dataset file (atomically, streaming frame by frame).

    Frames are ``(N, H, W, 3)`` float32 linear RGB in [0, 1]; ``param_names`` are :data:`VIEW_PARAM_NAMES`
    (degrees) with the config's ranges as bounds; ``/train`` marks the training views. The attrs record the
    transfer function, light and render settings.

    Returns:
        ``params (N, 2)`` degrees and the ``(N,)`` bool training mask.
    """
    import json

    from hyperinr_core.data.dataset_writer import write_dataset

    cfg = cfg or ViewConfig()
    light = light or Light()
    params = sample_views(cfg)
    train = split_views(len(params), cfg.train_fraction, cfg.seed)
    renderer = ViewRenderer(field, tf, light, cfg, progress=progress)
    meta = {
        "transfer_function": json.dumps(tf.to_dict()),
        "tf_fingerprint": tf.fingerprint(),
        "light": json.dumps(light.to_dict()),
        "render": json.dumps(cfg.to_attrs()),
        "view_convention": "theta: polar angle of the camera from +z, phi: azimuth from +x, degrees; "
        "camera elevation = 90 - theta, azimuth = phi, looking at the volume centre",
        "color_space": "linear RGB in [0, 1]",
        **(attrs or {}),
    }
    write_dataset(
        path,
        "nvs",
        VIEW_PARAM_NAMES,
        cfg.param_lo,
        cfg.param_hi,
        params,
        renderer.render_all(params, progress),
        train_mask=train,
        attrs=meta,
    )
    return params, train
