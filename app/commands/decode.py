"""``hyperinr decode``: the volume a model holds at a parameter, or a sweep of them, written to a file that
ParaView, VTK, xarray, numpy or ``hyperinr data import`` opens (``hyperinr_core.data.volume_writers``)."""

from __future__ import annotations

import argparse
import sys

from hyperinr_app.commands import add_backend_option

DESCRIPTION = """\
Decode a model's volume at one parameter value, or at every value of a sweep, to a grid, and write it in
data units (float32, X fastest, node-centred on the unit cube). The format follows the suffix of --out:
  .npy     one volume (Z, Y, X), or a sweep (S, Z, Y, X); the parameter values in OUT.npy.json
  .raw     float32 little-endian frames with the sidecar OUT.raw.json that `hyperinr data import` reads
  .vtkhdf  VTK's HDF5 ImageData (ParaView >= 5.12, VTK >= 9.3); a sweep is one file with its time values
  .nc      NetCDF-4 / CF (xarray, ParaView, ncview): dimensions (z, y, x), or (NAME, z, y, x) for a sweep,
           with coordinate variables
  .vti     VTK XML ImageData, one volume (needs the vtk extra: pip install "hyperinr-explorer[vtk]")
  .pvd     a ParaView collection of .vti files (in OUT_data/), each at its parameter value as time (vtk extra)
  .zarr    OME-Zarr (NGFF 0.4) folder: napari, ome-zarr, zarr; axes (t,) z, y, x (zarr extra)
A shadow model (parameters azimuth, polar) writes its transmittance toward the light: --light AZ,POLAR
(a bundle's shadow model with --shadow). Sweeps stream frame by frame; Ctrl-C leaves nothing behind."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("decode", help="write a model's volume at a parameter (or a sweep) to a file: .npy, .raw, "
                       ".vtkhdf, .nc, .vti, .pvd, .zarr",
                       description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="examples:\n"
                       "  hyperinr decode --model assets/demo_tgv.hinr --param t=3.5 --resolution 128 -o t35.vtkhdf\n"
                       "  hyperinr decode --model assets/demo_tgv.hinr --sweep t=0:10:0.25 -o series.vtkhdf\n"
                       "  hyperinr decode --bundle assets/demo.json --shadow --param t=6 --light 60,40 -o s.npy")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--model", metavar="M.hinr", help="HyperINR model file")
    src.add_argument("--bundle", metavar="B.json", help="bundle manifest: its scalar model (or with --shadow, "
                     "its shadow model)")
    p.add_argument("--shadow", action="store_true", help="with --bundle: decode its shadow model")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="parameter in user units (repeatable); missing ones take their midpoint")
    p.add_argument("--sweep", metavar="NAME=START:STOP:STEP|NAME=V1,V2,...",
                   help="decode at every value of one parameter (STOP included when a step lands on it)")
    p.add_argument("--light", metavar="AZ,POLAR", help="a shadow model's light direction in degrees")
    p.add_argument("--resolution", metavar="N|Z,Y,X",
                   help="grid: N^3 or Z,Y,X nodes (default: the model's training grid, else 64^3)")
    p.add_argument("-o", "--out", required=True, metavar="OUT.npy|.raw|.vtkhdf|.nc|.vti|.pvd|.zarr",
                   help="file (a folder for .zarr) to write")
    p.add_argument("--force", action="store_true", help="replace an existing output")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--device", default="auto", help="torch device: auto (cuda if available), cpu, cuda, ...")
    add_backend_option(p)
    p.set_defaults(func=run)


def parse_sweep(text: str) -> tuple[str, list[float]]:
    """``NAME=START:STOP:STEP`` or ``NAME=V1,V2,...`` -> (name, values); raises HyperINRError."""
    import math

    import numpy as np

    from hyperinr_core.errors import HyperINRError

    name, sep, spec = text.partition("=")
    name = name.strip()
    try:
        if not sep or not name:
            raise ValueError
        if ":" in spec:
            start, stop, step = (float(v) for v in spec.split(":"))
            if not (math.isfinite(start) and math.isfinite(stop) and math.isfinite(step)) or step <= 0:
                raise ValueError
            if stop < start:
                raise ValueError
            n = int(math.floor((stop - start) / step + 1e-9)) + 1
            values = [float(v) for v in start + step * np.arange(n)]
        else:
            values = [float(v) for v in spec.split(",")]
            if not all(math.isfinite(v) for v in values):
                raise ValueError
    except ValueError:
        raise HyperINRError(
            f"--sweep {text!r}: expected NAME=START:STOP:STEP (STEP > 0, STOP >= START) or NAME=V1,V2,..."
        ) from None
    if not values:
        raise HyperINRError(f"--sweep {text!r}: no values")
    return name, values


def parse_resolution(text: str | None):
    from hyperinr_core.errors import HyperINRError

    if text is None:
        return None
    try:
        vals = [int(v) for v in text.split(",")]
    except ValueError:
        vals = []
    if len(vals) not in (1, 3) or any(v < 2 or v > 4096 for v in vals):
        raise HyperINRError(f"--resolution {text!r}: expected N or Z,Y,X, each between 2 and 4096")
    return tuple(vals * 3) if len(vals) == 1 else tuple(vals)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from hyperinr_app.params import parse_light, parse_params, resolve_params
    from hyperinr_core.errors import HyperINRError
    from hyperinr_core.fileio import prepare_output, refuse_existing

    # What needs no model, before anything is read.
    given = parse_params(args.param)
    light = parse_light(args.light)
    sweep = parse_sweep(args.sweep) if args.sweep else None
    shape = parse_resolution(args.resolution)
    if args.shadow and not args.bundle:
        raise HyperINRError("--shadow decodes a bundle's shadow model: give --bundle (or the shadow model as "
                            "--model)")
    from pathlib import Path

    from hyperinr_core.data.volume_writers import check_volume_output

    check_volume_output(args.out, len(sweep[1]) if sweep is not None else 1)  # format, extra, one volume
    refuse_existing(args.out, args.force)
    prepare_output(args.out, folder=Path(args.out).suffix.lower() == ".zarr")

    from hyperinr_app.commands.render import resolve_device
    from hyperinr_core.model.hyperinr import HyperINR

    path = args.model
    if args.bundle:
        from hyperinr_app.bundle import load_bundle

        b = load_bundle(args.bundle)
        path = b.shadow_model if args.shadow else b.model
        if not path:
            raise HyperINRError(f"{args.bundle}: the bundle names no shadow model")
    device = resolve_device(args.device)
    model = HyperINR.load(path, device=device)
    cfg = model.cfg
    if cfg.encoding.n_input_dims != 3:
        raise HyperINRError(f"{path}: decode writes volumes; this model makes {cfg.encoding.n_input_dims}-D "
                            "images")
    if light is not None:
        from hyperinr_renderer.scene import light_outside, light_values
        from hyperinr_renderer.shadows import check_shadow_model

        check_shadow_model(model, path)
        for name, value, lo, hi in light_outside(model, light):  # an error, not a silent clamp
            raise HyperINRError(f"--light: {name} {value:g} is outside the range {path} was trained for, "
                                f"[{lo:g}, {hi:g}]")
        given = {**given, **light_values(model, light)}
    rows = []
    if sweep is not None:
        name, values = sweep
        if name not in cfg.param_names:
            raise HyperINRError(f"--sweep: {path} has no parameter {name!r} (it has {', '.join(cfg.param_names)})")
        for v in values:
            theta, _ = resolve_params({**given, name: v}, cfg.param_names, cfg.param_lo, cfg.param_hi, str(path),
                                      option="--sweep")
            rows.append(theta)
        missing = [n for n in cfg.param_names if n not in given and n != name]
    else:
        theta, missing = resolve_params(given, cfg.param_names, cfg.param_lo, cfg.param_hi, str(path))
        rows.append(theta)
    if missing:
        mid = rows[0]
        print("using the midpoint for " + ", ".join(f"{n}={mid[cfg.param_names.index(n)]:g}" for n in missing),
              file=sys.stderr)
    if shape is None:
        stored = [int(s) for s in cfg.metadata.get("frame_shape", [])]
        shape = tuple(stored) if len(stored) == 3 else (64, 64, 64)
    return _decode(model, np.asarray(rows), shape, args)


def _decode(model, rows, shape, args) -> int:
    from tqdm import tqdm

    from hyperinr_core.data.volume_writers import open_volume_writer
    from hyperinr_core.model.backends import select_backend
    from hyperinr_renderer.decode import Decoder, DecoderConfig
    from hyperinr_renderer.scene import Scene
    from hyperinr_renderer.shadows import LIGHT_PARAM_NAMES

    cfg = model.cfg
    name = "transmittance" if set(LIGHT_PARAM_NAMES) <= set(cfg.param_names) else "value"
    # Exact float32 values; compile only where a long sweep pays for it (on a CPU it takes tens of seconds).
    decoder = Decoder(DecoderConfig(dtype="float32", compile=len(rows) >= 16, background_compile=True,
                                    mlp_dtype="float32"), device=model.device)
    with open_volume_writer(args.out, shape, cfg.param_names, rows, name) as writer:
        for theta in tqdm(rows, desc="decode", unit="volume", disable=args.quiet or len(rows) == 1):
            scene = Scene(model, theta, decoder=decoder)
            writer.write(scene.to_data_units(scene.volume(shape).cpu().numpy()))
        out = writer.close()
    kind = f"{len(rows)} volumes" if len(rows) > 1 else "1 volume"
    print(f"wrote {out}: {kind} of {'x'.join(map(str, shape))} ({name}, data units, "
          f"{select_backend(model.device).name})")
    return 0
