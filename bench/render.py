"""Path-tracer frame time and field samples/s for shadow modes none / rays / field, with and without macro
cells, on the demo INR (or ``--model``). 1 sample per pixel per frame.

Shadow mode ``field`` is measured twice: with a shadow *grid* (``shadow_volume`` at ``--shadow-resolution``,
trilinear lookups) and with a shadow *INR* (a small INR fitted to that grid, the paper's setting).
``samples_per_s`` counts every field evaluation (primary + secondary rays, + shadow-INR lookups). Every mode
is timed with macro cells; ``--no-macro-modes`` picks the modes also timed without them (default: ``none``,
enough for the macro-cell gain; ``all`` adds some 15 minutes on a 2-core CPU).
"""

from __future__ import annotations

import argparse
import time


def _field(args, device):
    from hyperinr_renderer import INRField, scenes

    info = {}
    if args.model:
        from hyperinr_app.commands.render import theta_for
        from hyperinr_core.model.hyperinr import HyperINR

        model = HyperINR.load(args.model, device=device)
        inr = model.generate(theta_for(model, args.param)).clone()
        info["model"] = args.model
    else:
        t0 = time.perf_counter()
        inr = scenes.demo_inr(device=device, steps=args.fit_steps)
        info["model"] = f"demo: blobs fitted for {args.fit_steps} steps ({time.perf_counter() - t0:.1f} s)"
    info["encoding"] = inr.enc_cfg.to_dict()
    return INRField(inr, fast=args.compile or None), info


def run(args) -> dict:
    import torch

    from bench._common import machine_info, time_it
    from hyperinr_renderer import Camera, GridField, INRField, Light, TransferFunction, scenes
    from hyperinr_renderer.shadows import shadow_volume
    from hyperinr_renderer.tracer import PathTracer, RenderSettings

    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    w, h = (int(v) for v in args.size.split("x"))
    field, info = _field(args, device)
    tf = TransferFunction.load(args.tf)
    light = Light(azimuth=60.0, polar=40.0)
    t0 = time.perf_counter()
    sv = shadow_volume(field, tf, light.direction(), args.shadow_resolution)
    sv_ms = (time.perf_counter() - t0) * 1e3
    shadow_grid = GridField(sv)
    shadow_inr = INRField(
        scenes.fit_inr(shadow_grid, steps=args.fit_steps, batch=1 << 13, device=device),
        fast=args.compile or None,
    )
    out: dict = {
        "benchmark": "render",
        "device": str(device),
        "size": [w, h],
        "spp_per_frame": 1,
        "tf": args.tf,
        "field": info,
        "evaluator": field._fast.describe() if field._fast is not None else "torch eager",
        "shadow_volume": {"resolution": args.shadow_resolution, "ms": sv_ms},
        "machine": machine_info(),
    }
    res = {}
    for mode, sf in (("none", None), ("field_grid", shadow_grid), ("field_inr", shadow_inr), ("rays", None)):
        if mode not in args.modes:
            continue
        for macro in (True, False) if mode in args.no_macro_modes else (True,):
            settings = RenderSettings(width=w, height=h, shadow=mode.split("_")[0], macro_cells=macro)
            pt = PathTracer(field, tf, Camera(), light, settings, shadow_field=sf)
            pt.macro_cells()  # built once per field; not part of a frame
            slow = mode == "rays" or not macro
            reps = max(1, args.repeats // 2) if slow else args.repeats
            t = time_it(lambda pt=pt: pt.render(1), repeats=reps, warmup=1, device=device)
            st = pt.stats
            # shadow-grid lookups are trilinear texture reads, not field evaluations
            evals = st.field_samples + (0 if mode == "field_grid" else st.shadow_samples)
            res[f"{mode}{'' if macro else '_no_macro'}"] = {
                **t,
                "field_samples": st.field_samples,
                "shadow_samples": st.shadow_samples,
                "samples_per_s": evals / t["median_ms"] * 1e3,
            }
    out["results"] = res

    # Ratios of the fastest frame (min_ms): on a shared machine the median carries other processes' load.
    def ratio(a, b):
        return res[a]["min_ms"] / res[b]["min_ms"] if a in res and b in res else None

    def evals(k):
        r = res[k]
        return r["field_samples"] + (0 if k.startswith("field_grid") else r["shadow_samples"])

    out["speedup_field_grid_vs_rays"] = ratio("rays", "field_grid")
    out["speedup_field_inr_vs_rays"] = ratio("rays", "field_inr")
    out["macro_cell_gain"] = {
        m: ratio(f"{m}_no_macro", m) for m in ("none", "field_grid", "field_inr", "rays")
    }
    if "none" in res and "none_no_macro" in res:
        out["macro_cell_sample_reduction"] = evals("none_no_macro") / max(1, evals("none"))
    if "rays" in res and "field_inr" in res:
        out["field_evaluations_rays_vs_field_inr"] = evals("rays") / max(1, evals("field_inr"))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="hyperinr bench render", description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="HyperINR model file (default: a demo INR fitted on the spot)")
    ap.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    ap.add_argument("--size", default="800x600", metavar="WxH")
    ap.add_argument("--tf", default="ember")
    ap.add_argument("--device", default="cuda" if _cuda() else "cpu")
    ap.add_argument("--repeats", type=int, default=3, help="timed frames of the fast configurations")
    ap.add_argument("--modes", default="none,field_grid,field_inr,rays", help="comma-separated subset")
    ap.add_argument(
        "--no-macro-modes", default="none",
        help="modes also timed without macro cells (comma-separated, or 'all'; default: none only). Without "
        "macro cells the rays mode takes minutes per frame on a CPU, so those baselines are opt-in",
    )
    ap.add_argument("--shadow-resolution", type=int, default=64)
    ap.add_argument("--fit-steps", type=int, default=150, help="Adam steps of the demo and shadow INRs")
    ap.add_argument("--compile", action="store_true", help="evaluate INRs through hyperinr_core.model.fast")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    ap.add_argument("--json", metavar="OUT", help="also write the JSON to this file")
    args = ap.parse_args(argv)
    args.modes = args.modes.split(",")
    args.no_macro_modes = args.modes if args.no_macro_modes == "all" else args.no_macro_modes.split(",")
    from bench._common import emit

    emit(run(args), args.json)
    return 0


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


if __name__ == "__main__":
    raise SystemExit(main())
