"""A HyperINR model described for people: ``hyperinr model info`` and the explorer's Model info."""

from __future__ import annotations

from typing import Any

from hyperinr_core.train.selection import Selection

__all__ = ["describe_model", "describe_training", "TRAINING_KEYS"]

#: metadata keys :func:`describe_training` always describes
TRAINING_KEYS = ("trained", "teacher", "steps", "train_seconds", "gt_fraction", "started_from_race")


def describe_training(metadata: dict) -> list[str]:
    """Lines about how a model was trained: teacher, budget, the selection table, the held-out check."""
    lines = []
    if "trained" in metadata:
        how = metadata["trained"]
        teacher = metadata.get("teacher")
        lines.append(
            f"trained: {how}" + (f" from the {teacher} teacher" if teacher and teacher != "none" else "")
        )
    for key, label in (
        ("steps", "steps"),
        ("train_seconds", "training seconds"),
        ("gt_fraction", "ground-truth share"),
    ):
        if key in metadata:
            lines.append(f"{label}: {metadata[key]}")
    if metadata.get("started_from_race"):
        lines.append("started from: the selection race's winning student (its steps come on top)")
    sel = metadata.get("selection")
    if isinstance(sel, dict) and "lerp" in sel:
        try:
            lines.extend(Selection.from_dict(sel).table().splitlines())
        except (KeyError, TypeError, ValueError):
            lines.append(f"selection: {sel.get('verdict', sel)}")
    held = metadata.get("heldout")
    if isinstance(held, dict) and "hyperinr" in held:
        m, lp, gap = held["hyperinr"], held["lerp"], float(held.get("gap_db", 0.0))
        lines.append(
            f"held-out check ({len(held.get('frames', []))} frames): HyperINR {m['psnr_mean']:.2f} dB, "
            f"LERP {lp['psnr_mean']:.2f} dB ({'+' if gap >= 0 else ''}{gap:.2f} dB)"
        )
    return lines


def describe_model(model: Any, path: str = "") -> str:
    """Config, parameters and ranges, encoders, size and training metadata of a loaded HyperINR."""
    cfg = model.cfg
    enc, mlp = cfg.encoding, cfg.mlp
    n_params = model.encoder_params.numel() + model.mlp.params.numel()
    lines = [f"HyperINR {path}".rstrip(), f"task: {cfg.task}"]
    for name, lo, hi in zip(cfg.param_names, cfg.param_lo, cfg.param_hi, strict=True):
        lines.append(f"parameter {name}: {lo:g} .. {hi:g}")
    interp = f"KD-tree, K = {cfg.k_neighbours}" if cfg.n_param_dims > 1 else "linear in 1-D"
    lines += [
        f"encoders: {model.n_encoders} ({interp})",
        f"hash grid: {enc.n_levels} levels x {enc.n_features_per_level} features, "
        f"2^{enc.log2_hashmap_size} entries, base resolution {enc.base_resolution}, "
        f"growth {enc.per_level_scale:g}; {enc.n_params:,} parameters per encoder",
        f"shared MLP: {mlp.n_hidden_layers} hidden layers x {mlp.n_neurons}",
        f"parameters: {n_params:,} ({4 * n_params / 2**20:.1f} MiB as float32)",
        f"value range: {cfg.value_range[0]:g} .. {cfg.value_range[1]:g}",
    ]
    meta = dict(cfg.metadata)
    lines += describe_training(meta)
    for k, v in meta.items():
        if k not in TRAINING_KEYS + ("selection", "heldout"):
            lines.append(f"{k}: {v}")
    return "\n".join(lines)
