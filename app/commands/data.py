"""``hyperinr data``: import user data into dataset files, summarize them, and make demo data.

- ``data import INPUT... -o OUT.h5``: .npy files/folders, a .npz, raw binaries + JSON sidecar, HDF5 of
  another layout or NetCDF-4, TIFF stacks, VTK ImageData (.vti, .vtk, a .pvd collection) or a Zarr /
  OME-Zarr store (see :mod:`hyperinr_core.data.importers`). Never overwrites an existing output without
  --force.
- ``data info FILE``: validate a dataset file and print a summary (``--check`` reads every frame).
- ``data demo tgv``: Taylor–Green vortex vorticity-magnitude series (:mod:`hyperinr_core.data.tgv`). Other
  modules plug in more demos (``app.commands.demo_plume``, ``app.commands.demo_shadows``,
  ``app.commands.demo_nvs``) through ``register(demo_sub)``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# Optional modules adding ``data demo NAME`` subcommands; a module absent from this build is skipped.
DEMO_MODULES = (
    "hyperinr_app.commands.demo_plume", "hyperinr_app.commands.demo_shadows", "hyperinr_app.commands.demo_nvs"
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "data", help="import, inspect and generate dataset files", description=__doc__.splitlines()[0]
    )
    data_sub = p.add_subparsers(dest="data_command", metavar="ACTION")
    p.set_defaults(func=lambda args: p.print_help() or 0)
    _register_import(data_sub)
    _register_info(data_sub)
    demo = data_sub.add_parser("demo", help="generate a built-in demo dataset")
    demo_sub = demo.add_subparsers(dest="demo", metavar="NAME")
    demo.set_defaults(func=lambda args: demo.print_help() or 0)
    _register_tgv(demo_sub)
    for name in DEMO_MODULES:
        try:
            mod = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        mod.register(demo_sub)


# -- import -------------------------------------------------------------------------------------------------
def _register_import(data_sub: argparse._SubParsersAction) -> None:
    p = data_sub.add_parser(
        "import",
        help="turn .npy/.npz/raw/HDF5/NetCDF/TIFF/VTK/Zarr data into a dataset file",
        description="Turn user data into a HyperINR dataset file (HDF5, one chunk per frame).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "examples:\n"
            "  hyperinr data import frames/ -o series.h5 --params-range 0:10 --train-stride 5\n"
            "  hyperinr data import stack.npz -o series.h5\n"
            "  hyperinr data import run.raw --sidecar run.json -o series.h5 --params 0.5,1.0,1.5\n"
            "  hyperinr data import sim_*.h5 --dataset /fields/vorticity --param-attr time -o series.h5\n"
            "  hyperinr data import run.pvd -o series.h5              # ParaView collection: t = timesteps\n"
            "  hyperinr data import vti/ --params-from-name 'step_(?P<t>[0-9]+)' -o series.h5\n"
            "  hyperinr data import run.ome.zarr -o series.h5          # OME-Zarr: t from its metadata\n"
            'raw sidecar (JSON): {"dims": [X, Y, Z] | "shape": [Z, Y, X], "dtype": "float32",\n'
            '  "endianness": "little", "offset": 0, "frames": N (optional), "params": [...] (optional)}'
        ),
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="files or folders (one kind at a time)")
    p.add_argument("-o", "--out", required=True, metavar="OUT.h5", help="dataset file to write")
    p.add_argument("--kind", default="auto",
                   choices=("auto", "npy", "npz", "raw", "hdf5", "tiff", "vtk", "zarr"),
                   help="input kind (vtk: .vti/.vtk/.pvd; zarr: a Zarr or OME-Zarr store)")
    p.add_argument("--task", default="tsr", choices=("tsr", "dgs", "nvs"), help="task (default tsr)")
    p.add_argument("--param-names", metavar="A,B", help="comma-separated parameter names (default t)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--params", metavar="V,V,...", help="one parameter value per frame, comma-separated (1-D)")
    g.add_argument("--params-file", metavar="F", help="parameters, N rows x D columns (.npy, .txt or .csv)")
    g.add_argument("--params-range", metavar="LO:HI", help="N evenly spaced values from LO to HI (1-D)")
    g.add_argument("--params-from-name", metavar="REGEX",
                   help="parameters from each file's name: a regular expression whose named groups hold the "
                   "numbers and name the parameters, e.g. 't_(?P<t>[0-9.]+)' (one frame a file)")
    p.add_argument(
        "--param-lo", metavar="V,...", help="lower parameter bounds (default: min of the parameters)"
    )
    p.add_argument(
        "--param-hi", metavar="V,...", help="upper parameter bounds (default: max of the parameters)"
    )
    p.add_argument(
        "--train-stride", type=int, metavar="K", help="mark every K-th frame (0, K, 2K, ...) for training"
    )
    p.add_argument("--sidecar", metavar="F.json", help="raw: JSON sidecar for all raw inputs")
    p.add_argument("--frames-key", default="frames", help="npz: key of the stacked frames (default frames)")
    p.add_argument("--params-key", default="params", help="npz: key of the parameters (default params)")
    p.add_argument(
        "--dataset",
        metavar="PATH",
        help="hdf5: dataset or group path inside each input file (NetCDF-4 .nc and any HDF5 file with one "
        "data variable: found without it, its first dimension's coordinate, such as time, as the parameter); "
        "vtk: the point-data array (default: the active scalars, or the only array); zarr: the array inside "
        "the store's group (or the OME-Zarr level; default: the only array, or level 0)",
    )
    p.add_argument("--param-attr", metavar="NAME", help="hdf5: attribute holding each frame's parameter")
    p.add_argument("--params-dataset", metavar="PATH", help="hdf5: dataset holding the parameters")
    p.add_argument("--nan-to", type=float, metavar="V",
                   help="replace NaN and infinite values in frames with V (without it they are an error that "
                   "says how many and where)")
    p.add_argument("--force", action="store_true", help="replace an existing output file")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_import)


def _floats(text: str | None, what: str) -> list[float] | None:
    from hyperinr_core.errors import HyperINRError

    if text is None:
        return None
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise HyperINRError(f"{what}: expected comma-separated numbers, got {text!r}") from None


def _params_from_file(path: str):
    import numpy as np

    from hyperinr_core.errors import FileFormatError

    try:
        if path.endswith(".npy"):
            return np.load(path, allow_pickle=False)
        return np.loadtxt(path, delimiter="," if path.endswith(".csv") else None, ndmin=2)
    except FileNotFoundError:
        raise FileFormatError(path, "no such file") from None
    except (ValueError, OSError) as exc:
        raise FileFormatError(path, f"cannot read parameters: {exc}") from None


def run_import(args: argparse.Namespace) -> int:
    import numpy as np

    from hyperinr_core.data.importers import ImportOptions, detect_kind, import_dataset, open_source
    from hyperinr_core.errors import HyperINRError
    from hyperinr_core.fileio import prepare_output

    prepare_output(args.out)
    opts = ImportOptions(
        task=args.task,
        param_names=[s.strip() for s in args.param_names.split(",")] if args.param_names else None,
        param_lo=_floats(args.param_lo, "--param-lo"),
        param_hi=_floats(args.param_hi, "--param-hi"),
        train_stride=args.train_stride,
        frames_key=args.frames_key,
        params_key=args.params_key,
        sidecar=args.sidecar,
        dataset=args.dataset,
        param_attr=args.param_attr,
        params_dataset=args.params_dataset,
        name_pattern=args.params_from_name,
        nan_to=args.nan_to,
    )
    if args.params is not None:
        opts.params = np.asarray(_floats(args.params, "--params"))
    elif args.params_file is not None:
        opts.params = _params_from_file(args.params_file)
    elif args.params_range is not None:
        try:
            lo, hi = (float(v) for v in args.params_range.split(":"))
        except ValueError:
            raise HyperINRError(f"--params-range: expected LO:HI, got {args.params_range!r}") from None
        kind = detect_kind(args.inputs) if args.kind == "auto" else args.kind
        src = open_source(args.inputs, kind, opts)  # only to count the frames
        n = src.n
        src.close()
        opts.params = np.linspace(lo, hi, n)
        if opts.param_lo is None and opts.param_hi is None:
            opts.param_lo, opts.param_hi = [min(lo, hi)], [max(lo, hi)]
    out = import_dataset(
        args.inputs, args.out, args.kind, opts, overwrite=args.force, progress=not args.quiet,
        note=lambda text: print(f"warning: {text}", file=sys.stderr),
    )
    print(f"wrote {out}")
    print_info(str(out))
    if args.train_stride is None:
        _warn_if_nothing_held_out(str(out))
    return 0


def _warn_if_nothing_held_out(path: str) -> None:
    import sys

    from hyperinr_core.data.dataset import open_dataset

    with open_dataset(path) as d:
        all_train = bool(d.train_mask.all())
    if all_train:
        print(
            f"warning: every frame of {path} is a training frame, none is held out for `hyperinr evaluate`; "
            "import with --train-stride K to train on every K-th frame only",
            file=sys.stderr,
        )


# -- info ---------------------------------------------------------------------------------------------------
def _register_info(data_sub: argparse._SubParsersAction) -> None:
    p = data_sub.add_parser(
        "info",
        help="validate a dataset file and print a summary (a model file: as `hyperinr model info`)",
    )
    p.add_argument("file", metavar="FILE")
    p.add_argument(
        "--check", action="store_true", help="read every frame (finds NaNs and truncation anywhere)"
    )
    p.set_defaults(func=run_info)


def print_info(path: str, check: bool = False) -> None:
    """Print the summary of ``data info`` for the dataset file ``path`` (``check``: read every frame)."""
    import os

    import numpy as np

    from hyperinr_core.data.dataset import open_dataset

    with open_dataset(path) as d:
        n_train = int(d.train_mask.sum())
        kind = "images (H, W, C)" if d.is_image else "volumes (Z, Y, X)"
        lines = [
            f"file        {path} ({os.path.getsize(path) / 2**20:.1f} MiB)",
            f"task        {d.task}",
            f"frames      {d.n_frames} {kind} of {' x '.join(map(str, d.frame_shape))}",
            f"train/test  {n_train} / {d.n_frames - n_train}",
        ]
        for j, name in enumerate(d.param_names):
            col = d.params[:, j]
            lines.append(
                f"param       {name}: bounds [{d.param_lo[j]:g}, {d.param_hi[j]:g}], "
                f"values {col.min():g} .. {col.max():g}"
            )
        lo, hi = d.value_range
        lines.append(f"values      [{lo:g}, {hi:g}]")
        for k, v in sorted(d.attrs.items()):
            text = str(v)
            lines.append(f"attr        {k} = {text if len(text) <= 70 else text[:67] + '...'}")
        print("\n".join(lines))
        if check:
            from tqdm import tqdm

            lo_all, hi_all = np.inf, -np.inf
            for i in tqdm(range(d.n_frames), desc="check", unit="frame"):
                f = d.frame(i)
                lo_all, hi_all = min(lo_all, float(f.min())), max(hi_all, float(f.max()))
            print(f"check       all {d.n_frames} frames finite, values [{lo_all:g}, {hi_all:g}]")


def _is_model_file(path: str) -> bool:
    import h5py

    from hyperinr_core.h5safe import read_attr

    try:
        with h5py.File(path, "r") as f:
            return read_attr(f, "format", None) == "hyperinr-model"
    except Exception:  # noqa: BLE001 - not readable as a model: open_dataset reports what is wrong
        return False


def run_info(args: argparse.Namespace) -> int:
    if _is_model_file(args.file):  # the bundled assets are models: show them rather than refuse
        from hyperinr_app.commands.model import model_info_lines

        print("\n".join(model_info_lines(args.file)))
        return 0
    print_info(args.file, args.check)
    return 0


# -- demo tgv -----------------------------------------------------------------------------------------------
def _register_tgv(demo_sub: argparse._SubParsersAction) -> None:
    p = demo_sub.add_parser(
        "tgv",
        help="TSR dataset: Taylor-Green vortex vorticity magnitude over time",
        description=(
            "Solve incompressible Navier-Stokes from the 3-D Taylor-Green vortex (pseudo-spectral, "
            "2/3 dealiasing, RK4) and store the vorticity magnitude at evenly spaced times. "
            "At the default Re = 400 the smooth initial vortex rolls up into thin vortex sheets "
            "by t ~ 5-9 (vortex stretching)."
        ),
    )
    p.add_argument("-o", "--out", default="tgv.h5", metavar="F.h5", help="output dataset (default tgv.h5)")
    p.add_argument("--resolution", type=int, default=64, help="grid points per axis (even; default 64)")
    p.add_argument("--frames", type=int, default=100, help="number of frames (default 100)")
    p.add_argument("--reynolds", type=float, default=400.0, help="Reynolds number 1/nu (default 400)")
    p.add_argument("--viscosity", type=float, help="kinematic viscosity nu (overrides --reynolds)")
    p.add_argument("--t-end", type=float, default=10.0, help="time of the last frame (default 10)")
    p.add_argument(
        "--train-stride", type=int, default=5, help="every K-th frame is a training frame (default 5)"
    )
    p.add_argument("--dtype", default="float64", choices=("float64", "float32"), help="solver precision")
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    p.add_argument(
        "--threads", type=int, help="CPU threads for torch (default: torch's; 1 helps on a busy machine)"
    )
    p.add_argument("--force", action="store_true", help="replace an existing output file")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_tgv)


def run_tgv(args: argparse.Namespace) -> int:
    import os

    import numpy as np

    from hyperinr_core.data.dataset_writer import write_dataset
    from hyperinr_core.data.tgv import TGVConfig, simulate_tgv
    from hyperinr_core.errors import HyperINRError
    from hyperinr_core.fileio import prepare_output

    if os.path.exists(args.out) and not args.force:
        raise HyperINRError(f"{args.out}: output exists; choose another name or pass --force")
    prepare_output(args.out)
    re_ = 1.0 / args.viscosity if args.viscosity else args.reynolds
    if args.resolution < 4 or args.resolution % 2:
        raise HyperINRError(f"--resolution must be an even number >= 4, got {args.resolution}")
    if args.frames < 2 or not args.t_end > 0 or not re_ > 0 or args.train_stride < 1:
        raise HyperINRError(
            "need --frames >= 2, --t-end > 0, a positive Reynolds number and --train-stride >= 1"
        )
    cfg = TGVConfig(
        resolution=args.resolution,
        reynolds=re_,
        t_end=args.t_end,
        n_frames=args.frames,
        dtype=args.dtype,
        device=args.device,
    )
    times = np.linspace(0.0, cfg.t_end, cfg.n_frames)
    attrs = {
        "source": "Taylor-Green vortex, pseudo-spectral incompressible Navier-Stokes (hyperinr_core.data.tgv)",
        "quantity": "vorticity magnitude |curl u|",
        "domain": "periodic [0, 2pi)^3, grid nodes 2pi*j/N; axes (z, y, x)",
        "reynolds": float(re_),
        "viscosity": float(cfg.viscosity),
        "resolution": int(cfg.resolution),
        "solver": "rFFT, 2/3 dealiasing, integrating-factor RK4, CFL 0.5",
    }
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    frames = (f for _, f in simulate_tgv(cfg, progress=not args.quiet))
    write_dataset(
        args.out,
        "tsr",
        ["t"],
        [0.0],
        [cfg.t_end],
        times,
        frames,
        train_mask=np.arange(cfg.n_frames) % args.train_stride == 0,
        attrs=attrs,
    )
    print(f"wrote {args.out}")
    print_info(args.out)
    return 0
