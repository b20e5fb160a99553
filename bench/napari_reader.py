"""Decode latency through the napari reader: one 256^2 plane (napari's 2-D view) and one 64^3 volume (3-D).

Both go through :func:`app.napari.reader.layer_data` on the bundled demo model, as napari slices the layer:
``data[step, z]`` for a plane, ``data[step]`` for a volume, a different step every call (what scrubbing the
dims slider asks for; nothing comes from the cache). Generation (the lerp of two encoders) is included.
By default the evaluator is compiled first (``torch.compile``, what a napari session reaches seconds after
it opens the model); ``--eager`` measures the first seconds, before the compiled graph lands. napari itself
is not needed. Prints JSON: median / p10 / p90 in ms, the machine and its load average. Other processes
slow this down, and more than they take: with more runnable threads than cores, torch's intra-op threads
wait for each other at every parallel region (a 64^3 eager decode took 15-22 s with 2 threads and 0.3 s
with 1 while this 2-core machine ran at load 6); ``--threads 1`` measures that case.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def run(repeats: int = 20, compile: bool = True, model: str | None = None, warmup: int = 3,
        threads: int | None = None) -> dict:
    import torch

    from bench._common import load_average, machine_info, time_it
    from hyperinr_app.napari.lazy import make_decoder
    from hyperinr_app.napari.reader import layer_data

    if threads:
        torch.set_num_threads(int(threads))
    path = Path(model) if model else Path(__file__).resolve().parents[1] / "assets" / "demo_tgv.hinr"
    decoder = make_decoder(compile=compile)
    out: dict = {"benchmark": "napari_reader", "model": path.name, "compiled": compile,
                 "machine": machine_info(), "cases": {}}
    for name, resolution, plane in (("plane_256", 256, True), ("volume_64", 64, False)):
        (vols, _, _), *_ = layer_data(path, resolution=resolution, decoder=decoder)
        if compile:
            decoder.warmup(vols.model.generate(vols.theta((0,) * len(vols.axes))))
        n = vols.steps[0]
        it = iter(range(10**9))
        z = resolution // 2

        def once(plane=plane, vols=vols, n=n, it=it, z=z):
            step = next(it) % n
            vols.clear_cache()
            return vols[step, z] if plane else vols[step]

        res = time_it(once, repeats=repeats, warmup=warmup)
        stats = dict(vols.stats)
        res.update({"shape": list(once().shape), "decodes": stats})
        out["cases"][name] = res
    out["evaluator"] = decoder.evaluator(vols.model.generate(vols.theta((0,)))).describe()
    if (load := load_average()) is not None:
        out["load_average"] = load
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="hyperinr bench napari_reader", description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--eager", action="store_true", help="no torch.compile (the first seconds of a session)")
    ap.add_argument("--model", help="a HyperINR model file or bundle (default: the bundled demo)")
    ap.add_argument("--threads", type=int, help="torch threads (default: torch's choice, one per core)")
    ap.add_argument("--json", metavar="OUT", help="also write the JSON to this file")
    args = ap.parse_args(argv)
    from bench._common import emit

    emit(run(args.repeats, not args.eager, args.model, threads=args.threads), args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
