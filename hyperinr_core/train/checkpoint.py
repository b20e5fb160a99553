"""Checkpoints and outputs of a training run.

A checkpoint is a model file (:mod:`~hyperinr_core.model.modelfile`, loadable as the model it holds) with one extra group,
``/checkpoint``: the optimizer (and gradient scaler) state as tensors, the random generators' states as
byte arrays and the loop state (step, training seconds, loss curve, the job description) as a JSON
attribute. Nothing is pickled. Restoring all of it makes a resumed run follow the same loss curve as an
uninterrupted one (bit-identical on CPU with a step budget).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch
from torch import Tensor

from hyperinr_core.errors import FileFormatError
from hyperinr_core.fileio import atomic_path
from hyperinr_core.model.modelfile import write_model_file


def checkpoint_path(out: str | os.PathLike) -> Path:
    """Where the checkpoint of a run writing ``out`` lives: ``model.h5`` -> ``model.ckpt.h5``."""
    p = Path(out)
    return p.with_name(p.stem + ".ckpt" + (p.suffix or ".h5"))


def encode_tree(obj: Any, arrays: dict[str, np.ndarray], prefix: str) -> Any:
    """JSON-able copy of a nested state dict; tensors go to ``arrays`` and leave a reference behind."""
    if isinstance(obj, Tensor):
        name = f"{prefix}/t{len(arrays)}"
        t = obj.detach().cpu()
        dtype = str(t.dtype).replace("torch.", "")
        if t.dtype == torch.bfloat16:
            t = t.float()
        arrays[name] = t.numpy()
        return {"__tensor__": name, "dtype": dtype}
    if isinstance(obj, dict):
        # JSON keys are strings; remember which were ints (optimizer state is keyed by parameter index).
        return {"__dict__": [[k, type(k).__name__, encode_tree(v, arrays, prefix)] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        return {"__seq__": type(obj).__name__, "items": [encode_tree(v, arrays, prefix) for v in obj]}
    if isinstance(obj, float) and not math.isfinite(obj):
        return {"__float__": repr(obj)}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"cannot checkpoint a {type(obj).__name__}")


def decode_tree(obj: Any, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            t = torch.from_numpy(np.array(arrays[obj["__tensor__"]]))
            return t.to(getattr(torch, obj["dtype"]))
        if "__dict__" in obj:
            return {
                (int(k) if kind == "int" else k): decode_tree(v, arrays) for k, kind, v in obj["__dict__"]
            }
        if "__seq__" in obj:
            items = [decode_tree(v, arrays) for v in obj["items"]]
            return tuple(items) if obj["__seq__"] == "tuple" else items
        if "__float__" in obj:
            return float(obj["__float__"])
    return obj


@dataclass
class Checkpoint:
    """What :func:`read_checkpoint` returns: the loop state and the saved optimizer/scaler/RNG states."""

    path: str
    kind: str
    state: dict
    optimizer: dict | None
    scaler: dict | None
    rng: dict[str, Tensor]


def write_checkpoint(
    path: str | os.PathLike,
    model_file: tuple[str, dict, dict[str, np.ndarray]],
    optimizer: torch.optim.Optimizer,
    scaler: Any | None,
    generator: torch.Generator,
    state: dict,
) -> None:
    """Write a checkpoint atomically: model file contents + ``/checkpoint`` group."""
    kind, config, model_arrays = model_file
    arrays: dict[str, np.ndarray] = {}
    tree = {
        "optimizer": encode_tree(optimizer.state_dict(), arrays, "checkpoint/tensors"),
        "scaler": encode_tree(scaler.state_dict(), arrays, "checkpoint/tensors")
        if scaler is not None and scaler.is_enabled()
        else None,
    }
    rng = {"generator": generator.get_state(), "torch_cpu": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            rng[f"cuda{i}"] = s
    with atomic_path(path) as tmp:
        write_model_file(tmp, kind, config, model_arrays)
        with h5py.File(tmp, "a") as f:
            g = f.create_group("checkpoint")
            g.attrs["state"] = json.dumps(state)
            g.attrs["tree"] = json.dumps(tree)
            for name, a in arrays.items():
                f.create_dataset(name, data=a)
            for name, s in rng.items():
                g.create_dataset(f"rng/{name}", data=s.numpy())


def read_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Read the training part of a checkpoint (the model part loads with the model's own ``load``)."""
    from hyperinr_core.h5safe import read_attr
    from hyperinr_core.model.modelfile import peek_kind

    path = os.fspath(path)
    kind = peek_kind(path)
    try:
        with h5py.File(path, "r") as f:
            g = f.get("checkpoint")
            if not isinstance(g, h5py.Group):
                raise FileFormatError(path, "a model file, not a checkpoint (no /checkpoint group)")
            state = json.loads(read_attr(g, "state"))
            tree = json.loads(read_attr(g, "tree"))
            arrays: dict[str, np.ndarray] = {}
            if "tensors" in g:
                for name, ds in g["tensors"].items():
                    arrays[f"checkpoint/tensors/{name}"] = ds[()]
            rng = {name: torch.from_numpy(ds[()]) for name, ds in g["rng"].items()}
    except (KeyError, ValueError, OSError, json.JSONDecodeError) as exc:
        raise FileFormatError(path, f"malformed checkpoint ({exc})") from None
    return Checkpoint(
        path,
        kind,
        state,
        decode_tree(tree["optimizer"], arrays),
        decode_tree(tree["scaler"], arrays) if tree.get("scaler") else None,
        rng,
    )
