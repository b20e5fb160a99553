"""Export speed: seconds per 800x600 frame at 16 and 64 spp with ``gl`` and ``torch``, and one 100-frame
timestep sweep to MP4 with ``gl`` (field shadows, the demo bundle), with how good the progress ETA was.

``torch`` takes about an hour per 800x600 64-spp frame on a 2-core CPU, so it is measured at a smaller size
and fewer samples (``--torch-size``, ``--torch-spp``) and scaled by pixels x samples; the JSON says so
(``measured_at``, ``scaled``). ``gl`` times are medians over ``--repeats`` whole exports (decode + GL
context + render + PNG), and the render alone. The ETA error is
|ETA shown at 10% of the work - time the rest took| / time the rest took.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time


def _scene(args):
    from hyperinr_app.commands.export import build_scene

    ns = argparse.Namespace(model=None, bundle=args.bundle, param=[args.param], tf=None, camera="30,20",
                            light="60,40", shadow="field", shadow_model=None)
    return build_scene(ns, swept="t")


def _gl_frame(scene, size, spp, volume_res) -> dict:
    from hyperinr_app.export import export_frame

    marks = []
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        export_frame(scene, os.path.join(d, "f.png"), size, spp,
                     lambda k, n: marks.append(time.perf_counter()), renderer="gl", volume_res=volume_res)
        total = time.perf_counter() - t0
    # samples 2..spp: the first includes the texture upload and the shader compile
    per_sample = (marks[-1] - marks[0]) / max(len(marks) - 1, 1)
    return {"s_per_frame": total, "render_s": marks[-1] - marks[0] + per_sample, "s_per_spp": per_sample,
            "prepare_and_setup_s": marks[0] - t0 - per_sample}


def _torch_frame(scene, size, spp, args) -> dict:
    from hyperinr_app.export import render_frame

    tw, th = (int(v) for v in args.torch_size.split("x"))
    t0 = time.perf_counter()
    render_frame(scene, (tw, th), args.torch_spp, renderer="torch")
    t = time.perf_counter() - t0
    scale = size[0] * size[1] * spp / (tw * th * args.torch_spp)
    return {"s_per_frame": t * scale, "scaled": True, "measured_at": {"size": [tw, th], "spp": args.torch_spp,
                                                                       "seconds": t}}


def _sweep(scene, args, size) -> dict:
    from hyperinr_app.export import Sweep, export_animation
    from hyperinr_app.export_progress import EtaEstimator

    spp, frames = args.sweep_spp, args.sweep_frames
    eta = EtaEstimator(frames * spp)
    at10: dict = {}

    def progress(done, total):
        eta.update(done, total)
        if not at10 and eta.fraction >= 0.1:
            at10.update(t=time.perf_counter(), eta=eta.eta())

    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "sweep.mp4")
        t0 = time.perf_counter()
        export_animation(scene, Sweep("param", 0.0, 10.0, frames, "t"), out, size, spp, 12.0, progress,
                         renderer="gl", volume_res=args.volume_res,
                         costs=None if args.uniform_eta else (lambda c: eta.set_frame_costs(c, spp)))
        total = time.perf_counter() - t0
        mp4_bytes = os.path.getsize(out)
    rest = time.perf_counter() - at10["t"]
    return {"frames": frames, "spp": spp, "size": list(size), "shadow": "field", "seconds": total,
            "s_per_frame": total / frames, "mp4_bytes": mp4_bytes,
            "eta_at_10pct_s": at10["eta"], "actual_rest_s": rest,
            "eta_error_at_10pct": abs(at10["eta"] - rest) / rest, "eta_frame_costs": not args.uniform_eta}


def run(args) -> dict:
    from bench._common import machine_info

    size = tuple(int(v) for v in args.size.split("x"))
    scene = _scene(args)
    out: dict = {"benchmark": "export", "bundle": args.bundle, "param": args.param, "shadow": "field",
                 "size": list(size), "volume_res": args.volume_res, "machine": machine_info(),
                 "loadavg_before": list(os.getloadavg())}
    res: dict = {}
    for spp in args.spp:
        runs = [_gl_frame(scene, size, spp, args.volume_res) for _ in range(args.repeats)]
        res[f"gl_{spp}spp"] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        res[f"gl_{spp}spp"]["runs"] = [round(r["s_per_frame"], 2) for r in runs]
        if not args.no_torch:
            res[f"torch_{spp}spp"] = _torch_frame(scene, size, spp, args)
    out["frames"] = res
    if args.sweep_frames:
        out["sweep"] = _sweep(scene, args, size)
    out["loadavg_after"] = list(os.getloadavg())
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="hyperinr bench export", description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", default=os.path.join(os.path.dirname(__file__), "..", "assets", "demo.json"))
    ap.add_argument("--param", default="t=6", metavar="NAME=VALUE")
    ap.add_argument("--size", default="800x600", metavar="WxH")
    ap.add_argument("--spp", default="16,64", help="comma-separated samples per pixel of the single frames")
    ap.add_argument("--volume-res", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=3, help="gl frames: the median of this many exports")
    ap.add_argument("--torch-size", default="80x60", metavar="WxH", help="size torch is measured at")
    ap.add_argument("--torch-spp", type=int, default=1, help="samples per pixel torch is measured at")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--sweep-frames", type=int, default=100, help="frames of the sweep (0: no sweep)")
    ap.add_argument("--sweep-spp", type=int, default=16)
    ap.add_argument("--uniform-eta", action="store_true",
                    help="time-left estimate without the per-frame cost profile (every frame costs the same)")
    ap.add_argument("--json", metavar="OUT", help="also write the JSON to this file")
    args = ap.parse_args(argv)
    args.spp = [int(v) for v in args.spp.split(",")]
    args.bundle = os.path.normpath(args.bundle)
    from bench._common import emit

    emit(run(args), args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
