"""Quality at the held-out frames: PSNR and SSIM of a trained model, of LERP and (optionally) of the teacher.

Every method is scored against the dataset's frames in data units, with the dataset's value range as the
PSNR data range (so the numbers are comparable between methods). Frames marked for training are skipped
unless asked for: they measure fitting, not prediction.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hyperinr_core.errors import HyperINRError
from hyperinr_core.fileio import atomic_path

__all__ = ["Method", "load_method", "evaluate", "format_table", "write_json", "plot_psnr", "EvalReport"]


@dataclass
class Method:
    """A named predictor: ``predict(u (D,) normalized by the dataset's bounds) -> frame`` (data units, the
    dataset's frame shape). ``notes``: how the dataset differs from the model's training data (bounds, grid)."""

    name: str
    predict: Callable[[np.ndarray], np.ndarray]
    source: str = ""
    notes: list[str] = field(default_factory=list)


def _user_units(u: np.ndarray, ds: Any) -> np.ndarray:
    """Parameters normalized by the dataset's bounds, back in user units."""
    lo, hi = np.asarray(ds.param_lo, np.float64), np.asarray(ds.param_hi, np.float64)
    return lo + np.asarray(u, np.float64) * (hi - lo)


def _to_data(v: np.ndarray, value_range: Sequence[float]) -> np.ndarray:
    lo, hi = float(value_range[0]), float(value_range[1])
    return (v * (hi - lo) + lo).astype(np.float32)


def load_method(
    path: str | os.PathLike, ds: Any, device: torch.device, name: str | None = None, compile: bool = False
) -> Method:
    """A model file as a :class:`Method`: kinds ``hyperinr``, ``hashinr`` and ``coordnet``.

    ``compile`` decodes HyperINR grids through ``torch.compile`` (``FastINREvaluator``); it pays off
    for long evaluations only (compilation takes tens of seconds on a small CPU).
    """
    from hyperinr_core.model.field_info import FieldInfo
    from hyperinr_core.model.modelfile import peek_kind

    path = os.fspath(path)
    kind = peek_kind(path)
    shape = tuple(ds.frame_shape)
    space = shape[:-1] if ds.is_image else shape
    if kind == "hyperinr":
        from hyperinr_core.model.fast import FastINREvaluator
        from hyperinr_core.model.hyperinr import HyperINR

        model = HyperINR.load(path, device)
        cfg = model.cfg
        info = FieldInfo(
            cfg.param_names,
            cfg.param_lo,
            cfg.param_hi,
            cfg.value_range,
            cfg.task,
            cfg.encoding.n_input_dims,
            cfg.mlp.n_output_dims,
            frame_shape=list(cfg.metadata.get("frame_shape", [])),
        )
        info.check_compatible(ds, f"model {path}")
        fast = FastINREvaluator(cfg.encoding, cfg.mlp, device=device, compile=compile)

        def predict(u: np.ndarray) -> np.ndarray:
            inr = model.generate(_user_units(u, ds))  # u is normalized by the dataset's bounds
            v = fast.sample_grid(inr, space).cpu().numpy()
            return _to_data(v.reshape(shape), cfg.value_range)

        return Method(name or "HyperINR", predict, path, info.differences(ds))
    if kind in ("hashinr", "coordnet"):
        if kind == "hashinr":
            from hyperinr_core.model.hashinr import HashINR

            model = HashINR.load(path, device)
        else:
            from hyperinr_core.model.coordnet import CoordNet

            model = CoordNet.load(path, device)
        model.eval()
        model.info.check_compatible(ds, f"model {path}")

        def predict(u: np.ndarray) -> np.ndarray:
            u_model = model.info.normalize(_user_units(u, ds))
            return _to_data(model.predict_grid(u_model, space).reshape(shape), model.info.value_range)

        return Method(name or ("HashINR" if kind == "hashinr" else "teacher"), predict, path,
                      model.info.differences(ds))
    raise HyperINRError(f"{path}: cannot evaluate a '{kind}' model (hyperinr, hashinr or coordnet)")


@dataclass
class EvalReport:
    """Per-frame scores: ``rows[k] = {"frame", "params", "train", "<method>": {"psnr", "ssim"}}``."""

    data: str
    value_range: tuple[float, float]
    param_names: list[str]
    methods: list[str]
    rows: list[dict] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    def summary(self) -> dict[str, dict[str, float]]:
        """Mean (and min) PSNR and mean SSIM per method over the evaluated frames."""
        out = {}
        for m in self.methods:
            p = np.array([r[m]["psnr"] for r in self.rows], np.float64)
            s = np.array([r[m]["ssim"] for r in self.rows if r[m].get("ssim") is not None], np.float64)
            finite = p[np.isfinite(p)]
            out[m] = {
                "psnr_mean": float(finite.mean()) if len(finite) else math.inf,
                "psnr_min": float(p.min()) if len(p) else math.nan,
                "ssim_mean": float(s.mean()) if len(s) else math.nan,
                "frames": len(p),
                "seconds_per_frame": self.seconds.get(m, 0.0) / max(len(p), 1),
            }
        return out

    def to_dict(self) -> dict:
        return {
            "data": self.data,
            "value_range": list(self.value_range),
            "param_names": self.param_names,
            "methods": self.methods,
            "summary": self.summary(),
            "frames": self.rows,
        }


def evaluate(
    ds: Any,
    methods: list[Method],
    frames: Sequence[int] | None = None,
    with_ssim: bool = True,
    progress: bool = True,
) -> EvalReport:
    """Score every method at ``frames`` (default: the held-out frames) of the open dataset ``ds``."""
    from tqdm.auto import tqdm

    from hyperinr_core.eval.metrics import psnr, ssim

    if frames is None:
        frames = ds.test_indices
        if len(frames) == 0:
            raise HyperINRError(
                f"{ds.path}: every frame is a training frame; nothing is held out to evaluate"
            )
    lo, hi = ds.value_range
    rng = (hi - lo) or 1.0
    u_all = ds.normalized_params()
    report = EvalReport(ds.path, (float(lo), float(hi)), list(ds.param_names), [m.name for m in methods])
    report.seconds = {m.name: 0.0 for m in methods}
    channel_axis = -1 if ds.is_image else None
    for i in tqdm(list(frames), desc="evaluate", unit="frame", disable=not progress):
        ref = ds.frame(int(i))
        row: dict[str, Any] = {
            "frame": int(i),
            "params": ds.params[i].tolist(),
            "train": bool(ds.train_mask[i]),
        }
        for m in methods:
            t0 = time.perf_counter()
            pred = m.predict(u_all[i])
            report.seconds[m.name] += time.perf_counter() - t0
            score = {"psnr": psnr(pred, ref, rng)}
            score["ssim"] = ssim(pred, ref, rng, channel_axis=channel_axis) if with_ssim else None
            row[m.name] = score
        report.rows.append(row)
    return report


def _fmt(v: float | None, digits: int) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if math.isinf(v):
        return "inf"
    return f"{v:.{digits}f}"


def format_table(report: EvalReport, per_frame: bool = True) -> str:
    """A plain-text table: one line per frame (PSNR dB / SSIM per method), then the means."""
    names = report.methods
    pname = ",".join(report.param_names)
    head = f"{'frame':>5} {pname:>10} " + " ".join(f"{n + ' PSNR':>14} {'SSIM':>6}" for n in names)
    lines = [head, "-" * len(head)]
    if per_frame:
        for r in report.rows:
            par = ",".join(f"{v:.4g}" for v in r["params"])
            cells = " ".join(f"{_fmt(r[n]['psnr'], 2):>14} {_fmt(r[n]['ssim'], 4):>6}" for n in names)
            lines.append(f"{r['frame']:>5} {par:>10} {cells}")
        lines.append("-" * len(head))
    s = report.summary()
    cells = " ".join(f"{_fmt(s[n]['psnr_mean'], 2):>14} {_fmt(s[n]['ssim_mean'], 4):>6}" for n in names)
    lines.append(f"{'mean':>5} {'':>10} {cells}")
    cells = " ".join(f"{_fmt(s[n]['psnr_min'], 2):>14} {'':>6}" for n in names)
    lines.append(f"{'min':>5} {'':>10} {cells}")
    lines.append(
        f"({len(report.rows)} frames; PSNR in dB with data range "
        f"{report.value_range[1] - report.value_range[0]:.6g})"
    )
    return "\n".join(lines)


def write_json(report: EvalReport, path: str | os.PathLike) -> None:
    """Write the report as JSON atomically (infinite PSNR, for exact frames, is written as null)."""

    def clean(o: Any) -> Any:
        if isinstance(o, float) and not math.isfinite(o):
            return None
        if isinstance(o, dict):
            return {k: clean(v) for k, v in o.items()}
        if isinstance(o, list):
            return [clean(v) for v in o]
        return o

    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(clean(report.to_dict()), indent=2) + "\n")


def plot_psnr(report: EvalReport, path: str | os.PathLike, train_params: np.ndarray | None = None) -> None:
    """PSNR against the (first) parameter, one line per method; training parameters marked on the axis."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise HyperINRError("plotting needs matplotlib (pip install matplotlib)") from None
    x = np.array([r["params"][0] for r in report.rows])
    order = np.argsort(x, kind="stable")
    fig, ax = plt.subplots(figsize=(7, 4), dpi=120)
    for m in report.methods:
        y = np.array([r[m]["psnr"] for r in report.rows], np.float64)[order]
        ax.plot(x[order], np.where(np.isfinite(y), y, np.nan), marker=".", lw=1.2, label=m)
    if train_params is not None and len(train_params):
        for t in np.asarray(train_params)[:, 0]:
            ax.axvline(t, color="0.85", lw=0.6, zorder=0)
    ax.set_xlabel(
        report.param_names[0] + (" (other parameters not shown)" if len(report.param_names) > 1 else "")
    )
    ax.set_ylabel("PSNR (dB)")
    ax.set_title(f"held-out frames of {os.path.basename(report.data)}")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp)
    plt.close(fig)
