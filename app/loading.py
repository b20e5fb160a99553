"""What the explorer loads when it opens a file, without Qt (it runs on a task thread, and the fuzz tests
call it directly).

Every problem with the file is a :class:`~hyperinr_core.errors.HyperINRError` naming the file; anything else
escaping from here is a bug.
"""

from __future__ import annotations

import os

from hyperinr_app.bundle import Bundle, open_any
from hyperinr_core.errors import FileFormatError, HyperINRError

__all__ = ["load_target", "model_parameters"]


def load_target(path: str | os.PathLike, have_model: bool = True) -> tuple[str, object, tuple]:
    """Load what ``path`` names: ``("bundle" | "model", Bundle, (model, shadow_model, tf))`` for a volume
    model, ``("nvs", Bundle, (model,))`` for an image model, ``("dataset", path, (task, n_frames,
    param_names))`` for a dataset (compared against the model already open: ``have_model``)."""
    import torch

    from hyperinr_core.model.hyperinr import HyperINR
    from hyperinr_renderer.transfer import TransferFunction

    kind, obj = open_any(path)
    if kind == "dataset":
        from hyperinr_core.data.dataset import open_dataset

        with open_dataset(obj) as ds:
            info = (ds.task, ds.n_frames, ds.param_names)
        if not have_model:
            raise HyperINRError(f"{path}: a dataset is compared against a model; open a model first")
        return kind, obj, info
    bundle: Bundle = obj
    with torch.no_grad():
        model = HyperINR.load(bundle.model)
        shadow = HyperINR.load(bundle.shadow_model) if bundle.shadow_model else None
    if model.cfg.task == "nvs" and model.cfg.encoding.n_input_dims == 2:
        return "nvs", bundle, (model,)  # an image model: shown by app.gui.nvs_view
    if model.cfg.encoding.n_input_dims != 3:
        raise FileFormatError(bundle.model, f"a volume model is needed (task {model.cfg.task})")
    tf = TransferFunction.from_json(bundle.transfer_function) if bundle.transfer_function else None
    return kind, bundle, (model, shadow, tf)


def model_parameters(path: str | os.PathLike) -> tuple[str, list[str], list[float], list[float]]:
    """The model file a model or bundle names and its parameters (names, lower and upper bounds), read from
    the file's header alone (no torch): enough to check ``--param`` before the window opens."""
    from hyperinr_core.model.modelfile import read_model_config

    kind, obj = open_any(path)
    if kind == "dataset":
        raise HyperINRError(f"{path}: a dataset has no model parameters to set; open a model or bundle")
    model_path = os.fspath(obj.model)
    cfg = read_model_config(model_path)
    try:
        names = [str(n) for n in cfg["param_names"]]
        lo = [float(v) for v in cfg["param_lo"]]
        hi = [float(v) for v in cfg["param_hi"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise FileFormatError(model_path, f"invalid parameters in the model config ({exc})") from None
    if not (len(names) == len(lo) == len(hi)):
        raise FileFormatError(model_path, "param_names, param_lo and param_hi differ in length")
    return model_path, names, lo, hi
