"""Other tools' formats: a ParaView series imported, and a decoded sweep streamed to NetCDF.

(a) ``hyperinr data import`` of a ``.pvd`` collection of 40 ``.vti`` frames of 64^3 (written with VTK itself
first, in a temporary folder), next to the same frames as ``.npy`` files: seconds, median of ``--repeats``.
(b) A 100-value sweep of the bundled demo model decoded at 128^3 into memory (a preallocated ``(S, Z, Y, X)``
array) and streamed to ``.nc`` through ``hyperinr decode``'s writer, by the same decoder (eager float32,
warmed up first), each value decoded once for each, one after the other, so that both see the same load;
``ratio`` is streaming / in-memory, ``write_s`` the part of the streaming time spent in the writer
(encoding and disk), and ``ratio_from_write_s`` = (in-memory + write) / in-memory, the same ratio without the
decode times' noise (on a busy 2-core machine two decodes of one value differ by more than the writing).
``--quick`` shrinks both (10 frames of 32^3; 12 values at 64^3). Prints JSON with the machine and its load
average: other processes on a small machine move these figures more than the formats do.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path


def _series(n: int, size: int):
    import numpy as np

    z, y, x = np.meshgrid(*[np.linspace(0, 1, size, dtype=np.float32)] * 3, indexing="ij")
    for k in range(n):
        c = 0.2 + 0.6 * k / max(n - 1, 1)
        yield (np.exp(-((x - c) ** 2 + (y - 0.5) ** 2 + (z - 0.5) ** 2) / 0.02) + 0.1 * np.sin(8 * z)).astype(
            np.float32)


def _write_pvd_with_vtk(folder: Path, n: int, size: int) -> Path:
    import numpy as np
    from vtkmodules.util.numpy_support import numpy_to_vtk
    from vtkmodules.vtkCommonDataModel import vtkImageData
    from vtkmodules.vtkIOXML import vtkXMLImageDataWriter

    (folder / "frames").mkdir()
    (folder / "npy").mkdir()
    rows = []
    for k, frame in enumerate(_series(n, size)):
        img = vtkImageData()
        img.SetDimensions(size, size, size)
        arr = numpy_to_vtk(frame.reshape(-1), deep=True)
        arr.SetName("density")
        img.GetPointData().SetScalars(arr)
        w = vtkXMLImageDataWriter()
        w.SetFileName(str(folder / "frames" / f"f_{k}.vti"))
        w.SetInputData(img)
        w.Write()
        np.save(folder / "npy" / f"f_{k}.npy", frame)
        rows.append(f'    <DataSet timestep="{0.25 * k}" part="0" file="frames/f_{k}.vti"/>')
    pvd = folder / "series.pvd"
    pvd.write_text('<?xml version="1.0"?>\n<VTKFile type="Collection" version="0.1">\n  <Collection>\n'
                   + "\n".join(rows) + "\n  </Collection>\n</VTKFile>\n")
    return pvd


def bench_import(n: int, size: int, repeats: int) -> dict:
    from hyperinr_core.data.importers import import_dataset

    with tempfile.TemporaryDirectory(prefix="hyperinr-bench-") as tmp:
        folder = Path(tmp)
        pvd = _write_pvd_with_vtk(folder, n, size)
        res: dict = {"frames": n, "shape": [size] * 3}
        for name, source in (("pvd", pvd), ("npy", folder / "npy")):
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                import_dataset([source], folder / "d.h5", overwrite=True, progress=False)
                times.append(time.perf_counter() - t0)
            res[f"{name}_s"] = {"median": statistics.median(times), "runs": [round(t, 3) for t in times]}
        res["pvd_over_npy"] = res["pvd_s"]["median"] / res["npy_s"]["median"]
        return res


def bench_sweep(n: int, size: int, model_path: Path) -> dict:
    import numpy as np

    from hyperinr_core.data.volume_writers import open_volume_writer
    from hyperinr_core.model.hyperinr import HyperINR
    from hyperinr_renderer.decode import Decoder, DecoderConfig

    model = HyperINR.load(model_path, device="cpu")
    cfg = model.cfg
    lo, hi = cfg.value_range
    j = 0
    values = np.linspace(cfg.param_lo[j], cfg.param_hi[j], n)
    rows = np.tile([(a + b) / 2 for a, b in zip(cfg.param_lo, cfg.param_hi, strict=True)], (n, 1))
    rows[:, j] = values
    shape = (size,) * 3
    decoder = Decoder(DecoderConfig(dtype="float32", compile=False, mlp_dtype="float32"), device="cpu")

    def frame(theta):
        return decoder.decode(model.generate(theta), shape).cpu().numpy() * (hi - lo) + lo

    for theta in rows[:2]:  # warm-up: coordinate grid, evaluator, allocator
        frame(theta)
    memory = np.empty((n, *shape), np.float32)
    in_memory = streaming = write = 0.0
    with tempfile.TemporaryDirectory(prefix="hyperinr-bench-") as tmp:
        out = Path(tmp) / "sweep.nc"
        with open_volume_writer(out, shape, cfg.param_names, rows, "value") as writer:
            for k, theta in enumerate(rows):  # interleaved, in turns first: both see the same load
                for mode in ("memory", "stream") if k % 2 == 0 else ("stream", "memory"):
                    t0 = time.perf_counter()
                    f = frame(theta)
                    t1 = time.perf_counter()
                    if mode == "memory":
                        memory[k] = f
                        in_memory += time.perf_counter() - t0
                    else:
                        writer.write(f)
                        t2 = time.perf_counter()
                        streaming, write = streaming + t2 - t0, write + t2 - t1
            t0 = time.perf_counter()
            writer.close()
            dt = time.perf_counter() - t0
            streaming, write = streaming + dt, write + dt
        size_mib = out.stat().st_size / 2**20
    del memory
    return {"model": model_path.name, "values": n, "shape": list(shape), "parameter": cfg.param_names[j],
            "in_memory_s": in_memory, "netcdf_s": streaming, "write_s": write, "ratio": streaming / in_memory,
            "ratio_from_write_s": (in_memory + write) / in_memory, "netcdf_mib": round(size_mib, 1)}


def run(quick: bool = False, repeats: int = 3, threads: int | None = None, model: str | None = None,
        only: str | None = None) -> dict:
    import torch

    from bench._common import load_average, machine_info

    if threads:
        torch.set_num_threads(int(threads))
    path = Path(model) if model else Path(__file__).resolve().parents[1] / "assets" / "demo_tgv.hinr"
    out: dict = {"benchmark": "formats", "quick": quick, "machine": machine_info()}
    if only in (None, "import"):
        out["import_pvd"] = bench_import(*((10, 32) if quick else (40, 64)), repeats)
    if only in (None, "sweep"):
        out["sweep_to_netcdf"] = bench_sweep(*((12, 64) if quick else (100, 128)), path)
    if (load := load_average()) is not None:
        out["load_average"] = load
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="hyperinr bench formats", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (seconds, not minutes)")
    ap.add_argument("--repeats", type=int, default=3, help="imports timed (default 3; the median is given)")
    ap.add_argument("--only", choices=("import", "sweep"), help="run one of the two")
    ap.add_argument("--threads", type=int, help="torch threads (default: torch's choice, one per core)")
    ap.add_argument("--model", help="a HyperINR model file for the sweep (default: the bundled demo)")
    ap.add_argument("--json", metavar="OUT", help="also write the JSON to this file")
    args = ap.parse_args(argv)
    from bench._common import emit

    emit(run(args.quick, args.repeats, args.threads, args.model, args.only), args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
