"""INR inference throughput (hash grid + shared MLP) next to the CoordNet teacher, in the same run.

Both evaluate the same batch of random points; samples/s is batch / median time. The INR is measured in its
eager form and in its fast form (``torch.compile`` and a bf16 MLP where they help; see
``hyperinr_core.model.fast``); CoordNet in eager float32 (and compiled, for fairness).
"""

from __future__ import annotations

import argparse


def run(batch: int = 1 << 16, repeats: int = 20, device: str = "cpu", compile: bool = True) -> dict:
    import torch

    from bench._common import machine_info, time_it
    from hyperinr_core import INR, HashGridConfig, MLPConfig
    from hyperinr_core.model.coordnet import CoordNet, CoordNetConfig

    g = torch.Generator().manual_seed(0)
    enc = HashGridConfig(3, 8, 4, 15, 4, 2.0)
    mlp = MLPConfig(enc.n_output_dims, 1)
    inr = INR(enc.init_params(g).to(device), mlp.init_params(g).to(device), enc, mlp)
    x = torch.rand(batch, 3, generator=g).to(device)
    teacher = CoordNet(CoordNetConfig.preset("paper", 4, 1)).to(device).eval()
    xt = torch.rand(batch, 4, generator=g).to(device)
    out: dict = {"benchmark": "inference", "device": device, "batch": batch, "machine": machine_info()}
    with torch.no_grad():
        inr_eager = time_it(lambda: inr(x), repeats=repeats, device=device)
        coord_eager = time_it(lambda: teacher(xt), repeats=max(3, repeats // 4), device=device)
        res = {
            "inr_eager": {**inr_eager, "samples_per_s": batch / inr_eager["median_ms"] * 1e3},
            "coordnet_eager": {**coord_eager, "samples_per_s": batch / coord_eager["median_ms"] * 1e3},
        }
        if compile:
            from hyperinr_core.model.fast import FastINREvaluator

            fast = FastINREvaluator(enc, mlp, device=device)
            fast(inr, x)  # compile outside the timing
            inr_fast = time_it(lambda: fast(inr, x), repeats=repeats, device=device)
            res["inr_fast"] = {**inr_fast, "samples_per_s": batch / inr_fast["median_ms"] * 1e3,
                               "mode": fast.describe()}
            cteacher = torch.compile(teacher)
            cteacher(xt)
            coord_c = time_it(lambda: cteacher(xt), repeats=max(3, repeats // 4), device=device)
            res["coordnet_compiled"] = {**coord_c, "samples_per_s": batch / coord_c["median_ms"] * 1e3}
    out["results"] = res
    best_inr = max(v["samples_per_s"] for k, v in res.items() if k.startswith("inr"))
    best_coord = max(v["samples_per_s"] for k, v in res.items() if k.startswith("coordnet"))
    out["speedup_best_vs_best"] = best_inr / best_coord
    out["speedup_eager_vs_eager"] = res["inr_eager"]["samples_per_s"] / res["coordnet_eager"]["samples_per_s"]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="hyperinr bench inference", description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=1 << 16)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--no-compile", action="store_true", help="skip the torch.compile variants")
    ap.add_argument("--json", metavar="OUT", help="also write the JSON to this file")
    args = ap.parse_args(argv)
    from bench._common import emit

    emit(run(args.batch, args.repeats, args.device, not args.no_compile), args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
