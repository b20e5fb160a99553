"""Novel view synthesis without Qt: the image an NVS HyperINR generates for a view direction, and the worker
that serves the newest view request, coarse image first (:class:`~hyperinr_app.workers.LatestRequestWorker`).

The explorer shows these images in :mod:`hyperinr_app.gui.nvs_view`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from hyperinr_app.workers import LatestRequestWorker

__all__ = ["ViewRequest", "ViewImage", "NVSWorker", "image_at", "view_shapes"]


@dataclass
class ViewRequest:
    theta: list[float]  # the model's parameters in its order, user units
    shapes: tuple[tuple[int, int], ...]  # (H, W) ladder, coarse first
    serial: int = 0


@dataclass
class ViewImage:
    request: ViewRequest
    image: np.ndarray | None = None  # (H, W, 3) uint8, linear RGB as the renders are stored
    final: bool = True
    generate_ms: float = 0.0
    decode_ms: float = 0.0
    error: str | None = None


def image_at(model, theta, shape: tuple[int, int]) -> np.ndarray:
    """``(H, W, 3)`` uint8 image of an NVS model at parameters ``theta``: data units clipped to [0, 1]."""
    import torch

    from hyperinr_renderer.scene import Scene

    v = Scene(model, theta).image(shape)
    rgb = v[..., :3] if v.shape[-1] >= 3 else v[..., :1].expand(*v.shape[:-1], 3)
    return (rgb.clamp(0.0, 1.0) * 255.0 + 0.5).to(torch.uint8).cpu().numpy()


def view_shapes(model, coarse: int = 64) -> tuple[tuple[int, int], ...]:
    """The (H, W) ladder of an NVS model's images: a coarse one (longest side ``coarse``), then full size."""
    shape = model.cfg.metadata.get("frame_shape") or [256, 256, 3]
    h, w = int(shape[0]), int(shape[1])
    c = max(8, min(coarse, h, w))
    return (max(2, h * c // max(h, w)), max(2, w * c // max(h, w))), (h, w)


class NVSWorker(LatestRequestWorker):
    """One background thread serving the newest :class:`ViewRequest`; results go to ``on_result`` (called
    on the worker thread)."""

    def __init__(self, model, on_result: Callable[[ViewImage], None], threads: int | None = 1):
        self.model = model
        super().__init__(on_result, "hyperinr-nvs", threads)

    def serve(self, req: ViewRequest) -> None:
        for k, shape in enumerate(req.shapes):
            if k > 0 and self.newer_waiting():
                return  # a newer request supersedes the refinement
            t0 = time.perf_counter()
            img = image_at(self.model, req.theta, shape)
            ms = (time.perf_counter() - t0) * 1e3
            self.on_result(ViewImage(req, img, final=k == len(req.shapes) - 1, decode_ms=ms))

    def error_result(self, req: ViewRequest, message: str, trace: str) -> ViewImage:
        return ViewImage(req, error=f"{message}\n{trace}")
