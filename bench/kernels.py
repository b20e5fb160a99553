"""Compile every Triton kernel for a GPU without one, and report its registers, spills and shared memory.

Triton compiles to a cubin for a named target (``--arch 90``: Hopper, the H100/H200; 80: the A100) with the
ptxas it ships, so a machine without a GPU can check that each kernel compiles for real hardware (the
interpreter checks its arithmetic, not its compilation) and that none spills registers to local memory
(``stack_bytes``), the first thing that would make a memory-bound kernel slow. The configurations are the
paper's encoder (3-D, F = 4) with K = 1, 2 and 8 tables, the 2-D NVS encoder, F = 1 and 8, and the fused INR
in fp16, bf16 and fp32, for points and for a whole grid.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time


def _usage(cubin: bytes, cuobjdump: str) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".cubin", delete=False) as f:
        f.write(cubin)
    try:
        text = subprocess.run([cuobjdump, "-res-usage", f.name], capture_output=True, text=True).stdout
    finally:
        os.unlink(f.name)
    fields = {}
    for line in text.splitlines():
        if "REG:" in line:
            for item in line.split():
                if ":" in item:
                    k, v = item.split(":", 1)
                    if v.isdigit():
                        fields[k] = int(v)
    return {"registers": fields.get("REG"), "stack_bytes": fields.get("STACK"),
            "shared_bytes": fields.get("SHARED"), "local_bytes": fields.get("LOCAL")}


def cases():
    """``(name, kernel, argument types, constexprs, warps)`` of every configuration compiled."""
    from hyperinr_core.model import triton_grid as tg
    from hyperinr_core.model import triton_inr as ti

    levels = {"scales_ptr": "*fp32", "res_ptr": "*i32", "sizes_ptr": "*i32", "offs_ptr": "*i32",
              "dense_ptr": "*i32"}
    types = {"x_ptr": "*fp32", "tab_ptr": "*fp32", "kidx_ptr": "*i64", "kw_ptr": "*fp32", "out_ptr": "*fp32",
             "grad_ptr": "*fp32", "gtab_ptr": "*fp32", "DX": "fp32", "DY": "fp32", "DZ": "fp32", **levels}
    primes = tg.prime_args()
    out = []
    for d, f, k in ((3, 4, 1), (3, 4, 2), (3, 4, 8), (2, 2, 1), (3, 8, 2), (3, 1, 1)):
        c = dict(D=d, F=f, K=k, BLOCK=128, **primes)
        out.append((f"hash_grid_forward_d{d}_F{f}_K{k}", tg.encode_fwd_kernel, types, c, 4))
        out.append((f"hash_grid_backward_d{d}_F{f}_K{k}", tg.encode_bwd_kernel, types, c, 4))
    out.append(("blend_K8", tg.blend_kernel, types, dict(K=8, BLOCK=tg.BLEND_BLOCK), 4))
    for dt in ("fp16", "bf16", "fp32"):
        for grid in (False, True):
            block = ti.BLOCK_INR_FP32 if dt == "fp32" else ti.BLOCK_INR
            c = dict(D=3, F=4, IN_PAD=32, H=64, N_HID=4, OUT=1, OUT_PAD=16, DT=dt, EMULATE=False, GRID=grid,
                     BLOCK=block, **primes)
            if grid:
                c["x_ptr"] = None
            t = dict(types, w_ptr={"fp16": "*fp16", "bf16": "*bf16", "fp32": "*fp32"}[dt],
                     out_ptr="*fp16" if grid else "*fp32")
            out.append((f"inr_{dt}{'_grid' if grid else ''}", ti.inr_kernel, t, c, ti.WARPS_INR))
    c = dict(D=2, F=2, IN_PAD=16, H=32, N_HID=2, OUT=3, OUT_PAD=16, DT="fp16", EMULATE=False, GRID=False,
             BLOCK=ti.BLOCK_INR, **primes)
    out.append(("inr_fp16_2d_rgb", ti.inr_kernel, dict(types, w_ptr="*fp16"), c, ti.WARPS_INR))
    return out


def run(arch: int = 90) -> dict:
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    from bench._common import machine_info

    cuobjdump = os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin", "cuobjdump")
    target = GPUTarget("cuda", arch, 32)
    res: dict = {}
    for name, fn, types, consts, warps in cases():
        sig = {a: ("constexpr" if a in consts else types.get(a, "i32")) for a in fn.arg_names}
        # What the launcher specializes at run time: 16-byte aligned pointers, and the table size P and
        # the points per set M divisible by 16 (the paper's P is; batches of 2^k points are).
        aligned = [i for i, a in enumerate(fn.arg_names)
                   if a not in consts and (sig[a].startswith("*") or a in ("P", "M"))]
        attrs = {(i,): [["tt.divisibility", 16]] for i in aligned}
        t0 = time.perf_counter()
        try:
            k = triton.compile(ASTSource(fn=fn, signature=sig, constexprs=consts, attrs=attrs), target=target,
                               options={"num_warps": warps})
        except Exception as exc:  # a kernel that does not compile is the finding
            res[name] = {"error": f"{type(exc).__name__}: {str(exc)[-800:]}"}
            continue
        res[name] = {**_usage(k.asm["cubin"], cuobjdump), "warps": warps,
                     "vector_loads": k.asm["ptx"].count("ld.global.v"),
                     "compile_s": round(time.perf_counter() - t0, 2)}
    ok = [v for v in res.values() if "error" not in v]
    return {"benchmark": "kernels", "target": f"sm_{arch}", "triton": triton.__version__,
            "machine": machine_info(), "kernels": res,
            "all_compile": len(ok) == len(res), "spill_free": all(v["stack_bytes"] == 0 for v in ok)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="hyperinr bench kernels", description=__doc__.splitlines()[0])
    ap.add_argument("--arch", type=int, default=90, help="CUDA compute capability x10 (90: H100/H200)")
    ap.add_argument("--json", metavar="OUT", help="also write the JSON to this file")
    args = ap.parse_args(argv)
    # Compiled kernels, not interpreted ones: the flag must be off before the kernels are defined.
    os.environ.pop("TRITON_INTERPRET", None)
    os.environ.setdefault("TRITON_DEFAULT_FP_FUSION", "1")
    from bench._common import emit, use_triton_site

    use_triton_site()
    emit(run(args.arch), args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
