"""The napari reader: a HyperINR model file or a bundle -> Image layers whose data is generated on demand.

A model (``.h5`` of format ``hyperinr-model``, kind ``hyperinr``, 3-D input) becomes one Image layer over
``(*parameters, Z, Y, X)`` (:class:`~app.napari.lazy.ParameterVolumes`). A bundle (``.json``) adds its shadow
model as a second layer (transmittance toward the light, hidden at first, blended multiplicatively so it
darkens what lies in shadow; its parameters shared with the scalar model are axes, the light direction is
fixed, set from the dock widget) and takes the colormap from its transfer function.

World coordinates: the parameter axes are in model units (scale = step, translate = lower bound), so napari's
dims read parameter values; the spatial axes are in voxels of the training grid (``frame_shape``), whatever
the decode resolution, so layers of different resolutions, and the training data itself, overlay.

:func:`layer_data` builds the layer tuples without importing napari; :func:`get_reader` is the npe2 command.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np

from hyperinr_app.napari.lazy import ParameterVolumes, make_decoder, training_shape
from hyperinr_renderer.scene import light_values

__all__ = ["get_reader", "read", "layer_data", "layer_geometry", "colormap_rgba", "shared_decoder"]

SPATIAL_LABELS = ("z", "y", "x")


@functools.lru_cache(maxsize=1)
def shared_decoder():
    """One decoder for every layer of the process (its compiled evaluators are shared anyway)."""
    return make_decoder(compile=True)


def _classify(path) -> tuple[str, object] | None:
    """``(kind, Bundle)`` when ``path`` is something this reader opens, else None (never raises)."""
    from hyperinr_app.bundle import open_any
    from hyperinr_core.errors import HyperINRError
    from hyperinr_core.model.modelfile import read_model_config

    if isinstance(path, (list, tuple)):
        if len(path) != 1:
            return None
        path = path[0]
    suffixes = (".hinr", ".h5", ".hdf5", ".json")
    if not isinstance(path, (str, os.PathLike)) or Path(path).suffix.lower() not in suffixes:
        return None
    try:
        kind, obj = open_any(path)
        if kind not in ("model", "bundle"):
            return None
        cfg = read_model_config(obj.model)
        if int(cfg["encoding"]["n_input_dims"]) != 3 or "param_names" not in cfg:
            return None  # an image model (NVS) or a single INR: not a parameterized volume
    except (HyperINRError, KeyError, TypeError, ValueError, OSError):
        return None
    return kind, obj


def get_reader(path):
    """npe2 reader command: :func:`read` for a HyperINR model or bundle, None for anything else."""
    return read if _classify(path) is not None else None


def read(path) -> list[tuple]:
    """npe2 reader function: the layer data tuples of :func:`layer_data` at their defaults."""
    return layer_data(path[0] if isinstance(path, (list, tuple)) else path)


def colormap_rgba(tf, n: int = 256) -> np.ndarray:
    """(n, 4) RGBA colours of a transfer function's colormap, opaque (napari shows slices as images; the
    TF's opacity curve is for ray marching and would leave a 2-D slice almost black)."""
    rgba = tf.table(n).astype(np.float32)
    rgba[:, 3] = 1.0
    return rgba


def layer_geometry(volumes: ParameterVolumes, extent) -> dict:
    """``scale``/``translate``/``axis_labels`` of a layer over ``volumes``: parameter axes in model units,
    spatial axes in voxels of a grid of shape ``extent`` (Z, Y, X) spanning the unit cube."""
    d = len(volumes.axes)
    spatial = [(int(e) - 1) / (n - 1) for e, n in zip(extent, volumes.resolution, strict=True)]
    return {
        "scale": [volumes.step_size(j) for j in range(d)] + spatial,
        "translate": list(volumes.param_lo) + [0.0, 0.0, 0.0],
        "axis_labels": list(volumes.axes) + list(SPATIAL_LABELS),
    }


def _napari_colormap(name: str, rgba: np.ndarray):
    try:
        from napari.utils.colormaps import Colormap
    except ImportError:  # building layer data without napari (tests, scripts): napari takes the array too
        return rgba
    return Colormap(rgba, name=name)


def layer_data(path, steps=None, resolution=None, decoder=None, light=None) -> list[tuple]:
    """napari layer data tuples ``(data, kwargs, "image")`` for a model file or bundle.

    Args:
        steps: per-parameter step counts (default: 4x the training frames, see
            :func:`~app.napari.lazy.default_steps`).
        resolution: decode resolution, ``n`` or ``(Z, Y, X)`` (default: the training grid).
        decoder: a :class:`renderer.decode.Decoder` (default: :func:`shared_decoder`).
        light: ``(azimuth, polar)`` in degrees for a bundle's shadow layer (default: the explorer's light).
    """
    from hyperinr_core.errors import FileFormatError
    from hyperinr_core.model.hyperinr import HyperINR
    from hyperinr_renderer.light import Light
    from hyperinr_renderer.transfer import TransferFunction

    found = _classify(path)
    if found is None:
        raise FileFormatError(path, "not a HyperINR volume model or bundle")
    kind, bundle = found
    decoder = decoder if decoder is not None else shared_decoder()
    model = HyperINR.load(bundle.model)
    tf = TransferFunction.from_json(bundle.transfer_function) if bundle.transfer_function else None
    tf = tf or TransferFunction()
    vols = ParameterVolumes(model, steps, resolution, decoder=decoder)
    extent = training_shape(model)
    title = bundle.title or Path(bundle.model).stem
    info = {"path": os.fspath(path), "model": os.fspath(bundle.model), "role": "scalar", "extent": extent}
    main = (vols, {
        "name": title,
        **layer_geometry(vols, extent),
        "contrast_limits": list(vols.value_range),
        "colormap": _napari_colormap(f"hyperinr-{tf.colormap}", colormap_rgba(tf)),
        "rgb": False,
        "multiscale": False,
        "rendering": "mip",
        "metadata": {"hyperinr": info},
    }, "image")
    layers = [main]
    shadow = HyperINR.load(bundle.shadow_model) if bundle.shadow_model is not None else None
    shared = [a for a in shadow.cfg.param_names if a in vols.axes] if shadow is not None else []
    if shared:  # a shadow model over none of the scalar model's parameters has nothing to follow
        light = light if light is not None else (Light().azimuth, Light().polar)
        svols = ParameterVolumes(shadow, [vols.steps[vols.axes.index(a)] for a in shared], vols.resolution,
                                 axes=shared, fixed=light_values(shadow, light), decoder=decoder)
        sinfo = {**info, "model": os.fspath(bundle.shadow_model), "role": "shadow", "light": list(light)}
        layers.append((svols, {
            "name": f"{title} shadow (transmittance)",
            **layer_geometry(svols, extent),
            "contrast_limits": [0.0, 1.0],
            "colormap": "gray",
            "rgb": False,
            "multiscale": False,
            "visible": False,
            "blending": "multiplicative",  # shown over the scalar layer, it darkens what lies in shadow
            "metadata": {"hyperinr": sinfo},
        }, "image"))
    return layers
