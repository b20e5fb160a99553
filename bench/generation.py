"""INR generation latency of HyperINR, next to the memory-bandwidth floor measured in the same run.

Cases (the paper's encoder: L=8, T=2^15, F=4, 3-D input, base 4, scale 2):
- 1-D: 24 encoders uniform in time; generation = lerp of the bracketing pair.
- 2-D: ~200 encoders by Poisson disk, K = 8 nearest, inverse-distance weights.
The floor is what the same memory traffic costs as plain torch arithmetic: 1-D ``torch.add(a, b, out=c)``;
2-D ``torch.sum(K rows, dim=0, out=c)`` on a contiguous (K, P) block (reads K*P, writes P floats). Its rows
come from a table as large as the model's encoder table, a different block each call, as generation reads a
different pair (or K-tuple) of encoders per parameter value: both pay for memory, not for a warm cache.
``hot_floor`` repeats the same rows every call (cache-resident where they fit), for reference.
"""

from __future__ import annotations

import argparse

import numpy as np


def run(repeats: int = 200, device: str = "cpu") -> dict:
    import torch

    from bench._common import machine_info, time_it
    from hyperinr_core import HashGridConfig, HyperINR, HyperINRConfig, MLPConfig
    from hyperinr_core.model.positions import poisson_disk_positions

    enc = HashGridConfig(3, 8, 4, 15, 4, 2.0)
    rng = np.random.default_rng(0)
    out: dict = {"benchmark": "generation", "device": device, "machine": machine_info(), "cases": {}}
    p = enc.n_params
    for name, dims, positions in (
        ("1d_24_encoders", 1, np.linspace(0, 1, 24)[:, None]),
        ("2d_poisson_k8", 2, poisson_disk_positions(2, count=200, seed=0)),
    ):
        cfg = HyperINRConfig(
            encoding=enc, mlp=MLPConfig(enc.n_output_dims, 1),
            param_names=[f"p{i}" for i in range(dims)], param_lo=[0.0] * dims, param_hi=[1.0] * dims,
            k_neighbours=8,
        )
        model = HyperINR(cfg, positions, device=device)
        thetas = rng.uniform(0, 1, (1024, dims))
        it = iter(range(10**9))

        def gen():
            model.generate(thetas[next(it) % len(thetas)])

        gen_t = time_it(gen, repeats=repeats, warmup=10, device=device)
        k = 2 if dims == 1 else min(8, len(positions))
        table = torch.randn(len(positions), p, device=device)  # as large as the model's encoder table
        dst = torch.empty(p, device=device)
        starts = rng.integers(0, len(positions) - k + 1, 1024)
        jt = iter(range(10**9))

        def floor(hot: bool):
            s = 0 if hot else int(starts[next(jt) % len(starts)])
            if k == 2:
                torch.add(table[s], table[s + 1], out=dst)
            else:
                torch.sum(table[s : s + k], dim=0, out=dst)

        floor_t = time_it(lambda: floor(False), repeats=repeats, warmup=10, device=device)
        hot_t = time_it(lambda: floor(True), repeats=repeats, warmup=10, device=device)
        out["cases"][name] = {
            "n_encoders": len(positions),
            "k": k,
            "params_per_encoder": p,
            "bytes_read": k * p * 4,
            "generate": gen_t,
            "floor": floor_t,
            "hot_floor": hot_t,
            "ratio_to_floor": gen_t["median_ms"] / floor_t["median_ms"],
            "ratio_to_hot_floor": gen_t["median_ms"] / hot_t["median_ms"],
        }
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="hyperinr bench generation", description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=200)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--json", metavar="OUT", help="also write the JSON to this file")
    args = ap.parse_args(argv)
    from bench._common import emit

    emit(run(args.repeats, args.device), args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
