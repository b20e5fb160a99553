"""One benchmark for a GPU machine: the Triton backend's correctness and speed against the torch reference
and the paper's figures, in one JSON, in at most about 5 minutes.

Cases (CUDA sizes; ``--device cpu`` runs every case tiny, under Triton's interpreter, so that CI can check
that this script works; its times mean nothing):
- correctness of every kernel against the torch reference (hash grid values and table gradients, the fused
  INR in fp32 and fp16, generation);
- hash-grid forward and backward at 2^20 points (the paper's encoder), the reference beside them;
- the fused INR at 2^16 and 2^20 points (fp16 and fp32 dots), the reference beside it;
- CoordNet (the paper's teacher) in fp32 (the paper's figure) and TF32, and the INR's ratio to each;
- generation in 1-D (24 encoders) and 2-D (200 encoders, K = 8) against the bandwidth floor
  (``bench/generation.py``);
- a 256^3 decode (the decoder's float16 texture);
- distillation steps/s with the ``paper`` preset (8 frames x 65,536 points a step, the step of
  ``train/fit.py``: AMP, gradient scaling, fused Adam);
- the torch path tracer at 800x600, 1 spp, on the INR itself, without and with the shadow INR (fps).

Every case runs on its own: one that fails is reported with its error and the others still run. It needs
no installed project: ``../shared/device/hyperinr bench gpu`` runs it from a checkout.
"""

from __future__ import annotations

import argparse
import os
import time
import traceback

#: Goals of the figures (the paper's, on an A100, or better), checked in ``targets``.
GOALS = {
    "hash_grid_forward_points_per_s": 1e9,
    "fused_inr_samples_per_s": 5e8,
    "inr_over_coordnet_fp32": 100.0,
    "generation_1d_ratio_to_floor": 1.5,
    "generation_2d_ratio_to_floor": 1.5,
    "decode_256_ms": 30.0,
    "distill_steps_per_s": 350.0,
    "tracer_fps": 20.0,
}
SIZES = {  # CUDA, then the interpreter's (a few programs of each kernel: it checks the script, not speed)
    "grid_points": (1 << 20, 1 << 9), "inr_points": ((1 << 16, 1 << 20), (1 << 8, 1 << 9)),
    "coordnet_points": (1 << 16, 1 << 10), "decode": (256, 8), "distill": ((8, 65536), (2, 64)),
    "distill_steps": (60, 2), "image": ((800, 600), (24, 18)), "repeats": (20, 2), "gen_repeats": (200, 2),
    "fit_steps": (300, 10), "shadow_res": (64, 12), "correct_points": (1 << 14, 300), "warmup": (2, 1),
}


class Bench:
    def __init__(self, device: str, budget_s: float):
        import torch

        self.device = torch.device(device)
        self.cuda = self.device.type == "cuda"
        self.deadline = time.perf_counter() + budget_s
        self.out: dict = {}

    def size(self, key):
        return SIZES[key][0 if self.cuda else 1]

    def case(self, name: str, fn) -> None:
        """Run one case into ``out[name]``; an exception is recorded, not raised."""
        if time.perf_counter() > self.deadline:
            self.out[name] = {"skipped": "time budget spent"}
            return
        t0 = time.perf_counter()
        try:
            self.out[name] = fn()
        except Exception as exc:  # one broken case must not hide the others' figures
            self.out[name] = {"error": f"{type(exc).__name__}: {exc}",
                              "traceback": traceback.format_exc().splitlines()[-6:]}
        if isinstance(self.out[name], dict):
            self.out[name]["case_s"] = round(time.perf_counter() - t0, 2)

    def timed(self, fn, repeats=None) -> dict:
        from bench._common import time_it

        return time_it(fn, repeats=repeats or self.size("repeats"), warmup=self.size("warmup"),
                       device=self.device)


def _rate(t: dict, n: int) -> dict:
    return {**t, "per_s": n / t["median_ms"] * 1e3}


def _paper_inr(device, seed=0):
    import torch

    from hyperinr_core import INR, HashGridConfig, MLPConfig

    g = torch.Generator().manual_seed(seed)
    enc = HashGridConfig(3, 8, 4, 15, 4, 2.0)
    mlp = MLPConfig(enc.n_output_dims, 1)
    return INR(torch.randn(enc.n_params, generator=g).mul_(0.3).to(device), mlp.init_params(g).to(device),
               enc, mlp)


def correctness(b: Bench) -> dict:
    import torch

    from hyperinr_core import hash_encode
    from hyperinr_core.model.triton_grid import encode
    from hyperinr_core.model.triton_inr import inr_forward

    inr = _paper_inr(b.device, 1)
    g = torch.Generator().manual_seed(2)
    x = torch.rand(b.size("correct_points"), 3, generator=g).to(b.device)
    x[:8, 0], x[8:16, 0] = 0.0, 1.0
    p_ref = inr.enc_params.clone().requires_grad_()
    p_tri = inr.enc_params.clone().requires_grad_()
    ref, out = hash_encode(x, p_ref, inr.enc_cfg), encode(x, p_tri, inr.enc_cfg)
    gout = torch.randn(ref.shape, generator=g).to(b.device)
    (ref * gout).sum().backward()
    (out * gout).sum().backward()

    def rel(a, r):
        return float((a.detach() - r.detach()).abs().max() / r.detach().abs().max())

    values = inr(x)
    span = float(values.max() - values.min())
    res = {
        "hash_grid_rel": rel(out, ref),
        "table_grad_rel": rel(p_tri.grad, p_ref.grad),
        "inr_fp32_rel": rel(inr_forward(x, inr.enc_params, inr.mlp_params, inr.enc_cfg, inr.mlp_cfg, "fp32"),
                            values),
        "inr_fp16_of_range": float((inr_forward(x, inr.enc_params, inr.mlp_params, inr.enc_cfg, inr.mlp_cfg,
                                                "fp16") - values).abs().max()) / span,
    }
    res["ok"] = (res["hash_grid_rel"] < 1e-5 and res["table_grad_rel"] < 1e-4 and res["inr_fp32_rel"] < 1e-5
                 and res["inr_fp16_of_range"] < 2e-3)
    return res


def hash_grid(b: Bench) -> dict:
    import torch

    from hyperinr_core import hash_encode
    from hyperinr_core.model.triton_grid import encode_mixture_backward, encode_mixture_forward

    inr = _paper_inr(b.device)
    n = b.size("grid_points")
    x = torch.rand(1, n, 3, device=b.device)
    tables = inr.enc_params.view(1, -1)
    kidx = torch.zeros(1, 1, dtype=torch.int64, device=b.device)
    kw = torch.ones(1, 1, device=b.device)
    grad = torch.randn(1, n, inr.enc_cfg.n_output_dims, device=b.device)
    fwd = b.timed(lambda: encode_mixture_forward(x, tables, kidx, kw, inr.enc_cfg))
    bwd = b.timed(lambda: encode_mixture_backward(x, grad, 1, kidx, kw, inr.enc_cfg))
    with torch.no_grad():
        ref = b.timed(lambda: hash_encode(x[0], inr.enc_params, inr.enc_cfg), repeats=3)
    return {"points": n, "forward": _rate(fwd, n), "backward": _rate(bwd, n), "torch_forward": _rate(ref, n)}


def fused_inr(b: Bench) -> dict:
    import torch

    from hyperinr_core.model.triton_inr import inr_forward

    inr = _paper_inr(b.device)
    res = {}
    for n in b.size("inr_points"):
        x = torch.rand(n, 3, device=b.device)
        out = torch.empty(n, 1, device=b.device)
        for prec in ("fp16", "fp32"):
            t = b.timed(lambda prec=prec: inr_forward(x, inr.enc_params, inr.mlp_params, inr.enc_cfg,
                                                      inr.mlp_cfg, prec, out))
            res[f"{prec}_{n}"] = _rate(t, n)
        with torch.no_grad():
            res[f"torch_{n}"] = _rate(b.timed(lambda: inr(x), repeats=3), n)
    return res


def coordnet(b: Bench) -> dict:
    import torch

    from hyperinr_core.model.coordnet import CoordNet, CoordNetConfig

    n = b.size("coordnet_points")
    net = CoordNet(CoordNetConfig.preset("paper", 4, 1)).to(b.device).eval()
    x = torch.rand(n, 4, device=b.device)
    res = {}
    with torch.no_grad():
        for mode, tf32 in (("fp32", False), ("tf32", True)):
            net.tf32 = tf32
            res[mode] = _rate(b.timed(lambda: net(x), repeats=max(3, b.size("repeats") // 4)), n)
    return {"points": n, **res}


def generation(b: Bench) -> dict:
    from bench.generation import run

    cases = run(repeats=b.size("gen_repeats"), device=str(b.device))["cases"]
    return {k: {kk: v[kk] for kk in ("k", "params_per_encoder", "generate", "floor", "ratio_to_floor")}
            for k, v in cases.items()}


def decode(b: Bench) -> dict:
    from hyperinr_renderer.decode import Decoder, DecoderConfig

    inr = _paper_inr(b.device)
    r = b.size("decode")
    dec = Decoder(DecoderConfig(background_compile=False), device=b.device)
    dec.decode(inr, r)
    t = b.timed(lambda: dec.decode(inr, r), repeats=max(3, b.size("repeats") // 2))
    return {"resolution": r, **_rate(t, r**3), "evaluator": dec.evaluator(inr).describe()}


def distill(b: Bench) -> dict:
    import numpy as np
    import torch

    from hyperinr_core import HyperINR, HyperINRConfig, MLPConfig
    from hyperinr_core.train.distill import hyperinr_query
    from hyperinr_core.train.presets import PRESETS

    preset = PRESETS["paper"]
    fit_cfg = preset.distill_fit
    frames, points = b.size("distill") if not b.cuda else (fit_cfg.batch_frames, fit_cfg.batch_points)
    enc = preset.encoding
    cfg = HyperINRConfig(encoding=enc, mlp=MLPConfig(enc.n_output_dims, 1, preset.mlp_neurons,
                                                     preset.mlp_hidden_layers))
    model = HyperINR(cfg, np.linspace(0, 1, 24)[:, None], device=b.device)
    query = hyperinr_query(model)
    opt = torch.optim.Adam(model.parameters(), lr=fit_cfg.lr, betas=tuple(fit_cfg.betas), eps=fit_cfg.eps,
                           fused=True)
    use_amp = fit_cfg.amp and b.cuda
    scaler = torch.amp.GradScaler("cuda") if use_amp else None
    g = torch.Generator(device=b.device).manual_seed(0)

    def step():
        u = torch.rand(frames, 1, generator=g, device=b.device)
        x = torch.rand(frames, points, 3, generator=g, device=b.device)
        y = torch.rand(frames, points, 1, generator=g, device=b.device)
        with torch.autocast(b.device.type, dtype=torch.float16, enabled=use_amp):
            pred = query(u, x)
        loss = (pred.float() - y).abs().mean()
        opt.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        else:
            loss.backward()
            opt.step()

    steps = b.size("distill_steps")
    t = b.timed(lambda: [step() for _ in range(steps)], repeats=3 if b.cuda else 1)
    return {"frames": frames, "points_per_frame": points, "encoders": 24, "amp": use_amp,
            "steps_per_s": steps / t["median_ms"] * 1e3, "ms_per_step": t["median_ms"] / steps}


def tracer(b: Bench) -> dict:
    from hyperinr_renderer import Camera, GridField, INRField, Light, TransferFunction, scenes
    from hyperinr_renderer.shadows import shadow_volume
    from hyperinr_renderer.tracer import PathTracer, RenderSettings

    from hyperinr_core.model.backends import force_backend

    if not b.cuda:  # the interpreter needs minutes for the macro-cell pass alone: trace with the eager reference
        force_backend("torch")
    steps = b.size("fit_steps")
    field = INRField(scenes.demo_inr(device=b.device, steps=steps), fast=b.cuda)
    tf = TransferFunction.load("ember")
    light = Light(azimuth=60.0, polar=40.0)
    sv = shadow_volume(field, tf, light.direction(), b.size("shadow_res"), progress=False)
    shadow = INRField(scenes.fit_inr(GridField(sv), steps=steps, batch=1 << 13, device=b.device), fast=b.cuda)
    w, h = b.size("image")
    res = {"size": [w, h], "evaluator": field._fast.describe() if field._fast is not None else "torch eager"}
    for mode, sf in (("none", None), ("field_inr", shadow)):
        pt = PathTracer(field, tf, Camera(), light, RenderSettings(width=w, height=h, shadow=mode.split("_")[0]),
                        shadow_field=sf)
        pt.macro_cells()
        t = b.timed(lambda pt=pt: pt.render(1), repeats=max(2, b.size("repeats") // 4))
        res[mode] = {**t, "fps": 1e3 / t["median_ms"]}
    force_backend("triton", b.device)
    return res


def targets(out: dict, cuda: bool) -> dict:
    """The figures against their goals (None where a case did not produce the figure)."""

    def get(*path):
        v = out
        for p in path:
            if not isinstance(v, dict) or p not in v:
                return None
            v = v[p]
        return v

    big = SIZES["inr_points"][0 if cuda else 1][-1]
    inr16 = get("fused_inr", f"fp16_{SIZES['inr_points'][0 if cuda else 1][0]}", "per_s")
    coord = get("coordnet", "fp32", "per_s")
    vals = {
        "hash_grid_forward_points_per_s": get("hash_grid", "forward", "per_s"),
        "fused_inr_samples_per_s": get("fused_inr", f"fp16_{big}", "per_s"),
        "inr_over_coordnet_fp32": inr16 / coord if inr16 and coord else None,
        "generation_1d_ratio_to_floor": get("generation", "1d_24_encoders", "ratio_to_floor"),
        "generation_2d_ratio_to_floor": get("generation", "2d_poisson_k8", "ratio_to_floor"),
        "decode_256_ms": get("decode", "median_ms"),
        "distill_steps_per_s": get("distill", "steps_per_s"),
        "tracer_fps": get("tracer", "none", "fps"),
    }
    lower_is_better = ("ratio_to_floor", "_ms")
    res = {}
    for k, v in vals.items():
        goal = GOALS[k]
        met = None if v is None else (v <= goal if k.endswith(lower_is_better) else v >= goal)
        res[k] = {"value": v, "goal": goal, "met": met if cuda else None}
    return res


def run(device: str, budget_s: float = 280.0) -> dict:
    import torch

    from bench._common import machine_info
    from hyperinr_core.model.backends import force_backend, select_backend

    b = Bench(device, budget_s)
    force_backend("triton", b.device)  # the cases measure the kernels; references are called by name
    t0 = time.perf_counter()
    result = {"benchmark": "gpu", "device": str(b.device), "interpreted": not b.cuda,
              "backend": select_backend(b.device).name, "machine": machine_info(),
              "torch_cuda": torch.version.cuda}
    try:
        import triton

        result["triton"] = triton.__version__
    except ImportError:  # pragma: no cover - force_backend has already refused
        pass
    for name, fn in (("correctness", correctness), ("hash_grid", hash_grid), ("fused_inr", fused_inr),
                     ("coordnet", coordnet), ("generation", generation), ("decode", decode),
                     ("distill", distill), ("tracer", tracer)):
        b.case(name, lambda fn=fn: fn(b))
    result.update(b.out)
    result["targets"] = targets(b.out, b.cuda)
    result["elapsed_s"] = round(time.perf_counter() - t0, 1)
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="hyperinr bench gpu", description=__doc__.splitlines()[0])
    ap.add_argument("--device", default=None, help="cuda (default when available) or cpu: every case tiny, "
                    "under Triton's interpreter (checks the script, not the speed)")
    ap.add_argument("--budget", type=float, default=280.0, metavar="S",
                    help="seconds after which the remaining cases are skipped (default 280)")
    ap.add_argument("--json", metavar="OUT", help="also write the JSON to this file")
    args = ap.parse_args(argv)
    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if torch.device(device).type == "cpu":
        # Before the kernels are defined: Triton's interpreter runs them on CPU tensors.
        os.environ["TRITON_INTERPRET"] = "1"
    from bench._common import emit, use_triton_site

    use_triton_site()

    emit(run(device, args.budget), args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
