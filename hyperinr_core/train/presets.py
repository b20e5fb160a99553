"""Presets: model sizes, optimizer settings and budgets of the whole training pipeline."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import torch

from hyperinr_core.errors import HyperINRError
from hyperinr_core.model.coordnet import CoordNetConfig
from hyperinr_core.model.encoding import HashGridConfig
from hyperinr_core.train.budget import LRSchedule


@dataclass
class FitConfig:
    """Optimizer, batch and loss of one training stage.

    A batch is ``batch_frames`` frames (parameter samples) x ``batch_points`` random voxels/pixels each.
    """

    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-10
    weight_decay: float = 0.0
    batch_frames: int = 4
    batch_points: int = 16384
    loss: str = "auto"  # "l1", "l2", or "auto": L1 for volumes, L2 for images (the paper's choice)
    decay_fraction: float = 0.3
    final_lr_factor: float = 0.1
    amp: bool = True  # CUDA only: float16 autocast + GradScaler

    def schedule(self) -> LRSchedule:
        return LRSchedule(self.lr, self.decay_fraction, self.final_lr_factor)


@dataclass
class Preset:
    """Model sizes and budgets of the whole pipeline.

    ``cpu`` is sized so that the default TGV demo (64^3, 20 training frames) trains in under 30 minutes
    on a 2-core CPU; ``paper`` is the paper's configuration (section 4) for a GPU.
    """

    name: str
    teacher: CoordNetConfig
    teacher_fit: FitConfig
    teacher_minutes: float | None
    teacher_steps: int | None
    encoding: HashGridConfig
    mlp_neurons: int
    mlp_hidden_layers: int
    encoders_per_train_frame: float  # N encoders = this x training frames (1-D), at least 2
    distill_samples: int  # size of the distillation set (1-D), or per training frame x this (n-D: / 4)
    distill_fit: FitConfig
    distill_minutes: float | None
    distill_steps: int | None
    pipeline_minutes: float | None = None  # ``hyperinr train``: the distillation ends by then
    # NVS: the distillation-set size per training view. The paper's 981 samples for 100 views is about 10
    # per view; on a CPU one teacher image of 256^2 takes seconds, so the cpu preset makes 2 per view (about
    # the teacher work of the TSR demo's distillation set: 200 x 256^2 ~ 40 x 64^3 points).
    nvs_distill_per_view: float = 2.0

    def encoders_per_frame(self, task: str) -> float:
        """Encoders per training frame: the preset's, or for NVS the paper's 177 per 100 training views
        (section 4)."""
        return NVS_ENCODERS_PER_TRAIN_VIEW if task == "nvs" else self.encoders_per_train_frame

    def to_dict(self) -> dict:
        d = asdict(self)
        d["encoding"] = self.encoding.to_dict()
        return d


#: The paper's NVS layout: 177 Poisson-disk encoder positions for 100 training views (section 4).
NVS_ENCODERS_PER_TRAIN_VIEW = 1.77


def nvs_distill_samples(n_train: int, preset: str) -> int:
    """Default distillation-set size for ``n_train`` training views under the named preset."""
    per = PRESETS[preset].nvs_distill_per_view if preset in PRESETS else _CPU.nvs_distill_per_view
    return max(4, int(round(per * n_train)))


_CPU = Preset(
    name="cpu",
    teacher=CoordNetConfig(encoder_widths=[32, 64, 128], n_hidden_blocks=3),
    teacher_fit=FitConfig(
        lr=3e-4,
        eps=1e-8,
        weight_decay=1e-6,
        batch_frames=16,
        batch_points=2048,
        loss="l2",
        amp=False,  # sine layers at omega_0 = 30 need float32 arguments
        decay_fraction=0.4,
        final_lr_factor=0.05,
    ),
    teacher_minutes=13.0,
    teacher_steps=None,
    encoding=HashGridConfig(3, 8, 4, 15, 4, 2.0),
    mlp_neurons=64,
    mlp_hidden_layers=4,
    encoders_per_train_frame=1.0,
    distill_samples=40,
    # 4 frames x 4096 points: on 2 cores a step costs about a third of 4 x 16384's, and for the same time the
    # TGV demo's held-out PSNR rose from 33.6 to 38.4 dB (more, smaller Adam steps on the hash tables).
    distill_fit=FitConfig(lr=1e-3, batch_frames=4, batch_points=4096),
    distill_minutes=9.0,
    distill_steps=None,
    pipeline_minutes=27.0,
)

PRESETS: dict[str, Preset] = {
    "cpu": _CPU,
    "paper": Preset(
        name="paper",
        teacher=CoordNetConfig(),
        teacher_fit=FitConfig(
            lr=1e-5,
            eps=1e-8,
            weight_decay=1e-6,
            batch_frames=32,
            batch_points=8192,
            loss="l2",
            amp=False,  # sine layers at omega_0 = 30 need float32 arguments
            decay_fraction=0.2,
            final_lr_factor=0.1,
        ),
        teacher_minutes=None,
        teacher_steps=200_000,
        encoding=HashGridConfig(3, 8, 4, 15, 4, 2.0),
        mlp_neurons=64,
        mlp_hidden_layers=4,
        encoders_per_train_frame=1.2,  # 24 encoders for the paper's 20 training frames
        distill_samples=100,
        distill_fit=FitConfig(lr=1e-3, batch_frames=8, batch_points=65536),
        distill_minutes=None,
        distill_steps=50_000,
        nvs_distill_per_view=10.0,
    ),
    # The bundled demo (``hyperinr demo build``): the cpu preset with encoders small enough that 20 of them
    # fit the bundle (6 levels up to 128^3, F = 2: 206k parameters each instead of the paper's 674k).
    "demo": replace(
        _CPU,
        name="demo",
        encoding=HashGridConfig(3, 6, 2, 15, 4, 2.0),
        pipeline_minutes=24.0,
        teacher_minutes=12.0,
        distill_minutes=8.0,
    ),
    # The demo's shadow model over (t, azimuth, polar): shadows are smooth, so small encoders suffice and
    # many of them cover the 3-D parameter space (direct training on the shadow volumes).
    "demo-shadow": replace(
        _CPU,
        name="demo-shadow",
        encoding=HashGridConfig(3, 4, 2, 12, 4, 2.0),
        mlp_neurons=32,
        mlp_hidden_layers=2,
        encoders_per_train_frame=0.6,
        distill_fit=FitConfig(lr=1e-3, batch_frames=8, batch_points=8192),
        distill_minutes=8.0,
        pipeline_minutes=8.0,
    ),
    # Seconds, not minutes: smoke tests of the whole pipeline (and the test suite).
    "tiny": Preset(
        name="tiny",
        teacher=CoordNetConfig(encoder_widths=[16, 32], n_hidden_blocks=1),
        teacher_fit=FitConfig(
            lr=1e-4, eps=1e-8, weight_decay=1e-6, batch_frames=4, batch_points=256, loss="l2"
        ),
        teacher_minutes=None,
        teacher_steps=20,
        encoding=HashGridConfig(3, 4, 2, 10, 2, 2.0),
        mlp_neurons=16,
        mlp_hidden_layers=2,
        encoders_per_train_frame=1.0,
        distill_samples=6,
        distill_fit=FitConfig(lr=1e-3, batch_frames=2, batch_points=256),
        distill_minutes=None,
        distill_steps=20,
        nvs_distill_per_view=1.0,
    ),
}


def preset_for(name: str | None, device: torch.device) -> Preset:
    """The named preset, or ``paper`` on CUDA and ``cpu`` elsewhere."""
    if name in (None, "", "auto"):
        name = "paper" if device.type == "cuda" else "cpu"
    if name not in PRESETS:
        raise HyperINRError(f"unknown preset {name!r} (choose {', '.join(PRESETS)})")
    return PRESETS[name]
