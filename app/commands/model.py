"""``hyperinr model info FILE``: what a model file holds, read from the file alone (no torch).

Prints the kind and task, the parameters and their ranges, the encoders (count, size, where they sit), the
hash-grid encoding and the shared MLP, the value range, the number of parameters and the file size, then how
it was trained (teacher, budget, the teacher-selection table and held-out check, as the explorer's Model
info shows them) and any other metadata stored with the model (any keys, nested values indented).
"""

from __future__ import annotations

import argparse

__all__ = ["register", "model_info_lines"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("model", help="inspect model files", description=__doc__.splitlines()[0])
    msub = p.add_subparsers(dest="model_command", metavar="ACTION")
    p.set_defaults(func=lambda args: p.print_help() or 0)
    info = msub.add_parser(
        "info",
        help="print a model's configuration, parameters, encoders, size and training metadata",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    info.add_argument("file", metavar="FILE", help="model file (.h5): a HyperINR, a teacher or a baseline")
    info.set_defaults(func=run_info)


def run_info(args: argparse.Namespace) -> int:
    print("\n".join(model_info_lines(args.file)))
    return 0


def _value_lines(value, indent: str) -> list[str]:
    """``key: value`` lines for any JSON-like value: a dict (or a list holding dicts or lists) nests one
    level deeper, anything else is printed on its key's line."""
    if not isinstance(value, dict | list):
        return [f"{indent}{_short(value)}"]
    pairs = value.items() if isinstance(value, dict) else ((f"[{i}]", v) for i, v in enumerate(value))
    lines = []
    for k, v in pairs:
        if _nests(v):
            lines.append(f"{indent}{k}:")
            lines += _value_lines(v, indent + "  ")
        else:
            lines.append(f"{indent}{k}: {_short(v)}")
    return lines


def _nests(v) -> bool:
    return (isinstance(v, dict) and bool(v)) or (
        isinstance(v, list) and any(isinstance(x, dict | list) for x in v)
    )


def _short(v, width: int = 100) -> str:
    text = f"{v:g}" if isinstance(v, float) else str(v)
    return text if len(text) <= width else text[: width - 3] + "..."


def _count(n: int) -> str:
    return f"{int(n):,}"


def _hyperinr_lines(cfg: dict, arrays: dict) -> list[str]:
    names, lo, hi = cfg.get("param_names", []), cfg.get("param_lo", []), cfg.get("param_hi", [])
    lines = [f"param       {n}: [{float(a):g}, {float(b):g}]" for n, a, b in zip(names, lo, hi, strict=True)]
    enc, pos = arrays.get("encoder_params"), arrays.get("positions")
    if enc is not None and enc.ndim == 2:
        lines.append(f"encoders    {enc.shape[0]}, {_count(enc.shape[1])} parameters each ({enc.dtype})")
    if pos is not None and pos.ndim == 2 and len(pos) and len(names) == pos.shape[1]:
        spans = ", ".join(
            f"{n} {a + (b - a) * pos[:, j].min():g} .. {a + (b - a) * pos[:, j].max():g}"
            for j, (n, a, b) in enumerate(zip(names, lo, hi, strict=True))
        )
        lines.append(f"positions   {spans}")
    if len(names) == 1:
        lines.append("generation  linear between the two bracketing encoders")
    elif names:
        lines.append(
            f"generation  inverse-distance weights over the {cfg.get('k_neighbours', 8)} nearest encoders"
        )
    e, m = cfg.get("encoding", {}), cfg.get("mlp", {})
    if e:
        lines.append(
            f"encoding    hash grid, {e.get('n_input_dims')}-D: {e.get('n_levels')} levels x "
            f"{e.get('n_features_per_level')} features, 2^{e.get('log2_hashmap_size')} entries per level at "
            "most, "
            f"base resolution {e.get('base_resolution')}, per-level scale {e.get('per_level_scale')}"
        )
    if m:
        mlp = arrays.get("mlp_params")
        size = f", {_count(mlp.size)} parameters" if mlp is not None else ""
        lines.append(
            f"shared MLP  {m.get('n_input_dims')} -> {m.get('n_hidden_layers')} hidden layers of "
            f"{m.get('n_neurons')} -> {m.get('n_output_dims')} (ReLU, no biases){size}"
        )
    vr = cfg.get("value_range")
    if isinstance(vr, list | tuple) and len(vr) == 2:
        lines.append(f"values      [{vr[0]:g}, {vr[1]:g}] (the model predicts (v - lo) / (hi - lo))")
    return lines


def model_info_lines(path: str) -> list[str]:
    """The summary ``hyperinr model info`` prints, as lines. Raises ``FileFormatError`` for a bad file."""
    import os

    from hyperinr_core.errors import FileFormatError
    from hyperinr_core.model.modelfile import VERSION, read_model_file

    mf = read_model_file(path)
    cfg = dict(mf.config) if isinstance(mf.config, dict) else {"config": mf.config}
    n_params = sum(int(a.size) for k, a in mf.arrays.items() if a.dtype.kind == "f" and k != "positions")
    lines = [
        f"file        {path} ({os.path.getsize(path) / 2**20:.1f} MiB)",
        f"model       {mf.kind} (model file version {VERSION}), task {cfg.get('task', '?')}",
    ]
    if mf.kind == "hyperinr":
        try:
            lines += _hyperinr_lines(cfg, mf.arrays)
        except (TypeError, ValueError, KeyError, AttributeError, IndexError) as exc:
            raise FileFormatError(path, f"malformed HyperINR config ({type(exc).__name__}: {exc})") from None
        shown = {
            "encoding",
            "mlp",
            "param_names",
            "param_lo",
            "param_hi",
            "k_neighbours",
            "value_range",
            "task",
            "metadata",
        }
        rest = {k: v for k, v in cfg.items() if k not in shown}
        if rest:
            lines.append("config")
            lines += _value_lines(rest, "  ")
    else:
        lines.append("config")
        lines += _value_lines({k: v for k, v in cfg.items() if k != "metadata"}, "  ")
        lines.append(
            "datasets    " + ", ".join(f"{k} {tuple(a.shape)} {a.dtype}" for k, a in mf.arrays.items())
        )
    lines.append(f"size        {_count(n_params)} parameters")
    meta = cfg.get("metadata")
    if isinstance(meta, dict) and meta:
        lines += _metadata_lines(meta, path)
    return lines


def _metadata_lines(meta: dict, path: str) -> list[str]:
    """How the model was trained (teacher, budget, the teacher-selection table and the held-out check, as
    the explorer's Model info shows them), then every other key, generically."""
    from hyperinr_core.errors import FileFormatError
    from hyperinr_core.train.summary import TRAINING_KEYS, describe_training

    try:
        training = describe_training(meta)
    except (TypeError, ValueError, KeyError, AttributeError, IndexError) as exc:
        raise FileFormatError(path, f"malformed training metadata ({type(exc).__name__}: {exc})") from None
    described = set(TRAINING_KEYS)
    sel, held = meta.get("selection"), meta.get("heldout")
    if isinstance(sel, dict) and "lerp" in sel:
        described.add("selection")
    if isinstance(held, dict) and "hyperinr" in held:
        described.add("heldout")
    rest = {k: v for k, v in meta.items() if k not in described}
    lines = []
    if training:
        lines += ["training", *(f"  {line}" for line in training)]
    if rest:
        lines += ["metadata", *_value_lines(rest, "  ")]
    return lines
