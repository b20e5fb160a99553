"""Teacher quality and cost: every teacher built from a dataset's training frames, scored on its held-out
frames (mean and worst PSNR over the normalized value range, as ``hyperinr train`` scores), with the
build time and the time per predicted frame; optionally a trained model file beside them.

    hyperinr bench teachers --data plume.h5 [--teachers flow,lerp] [--model M.h5] [--json out.json]

Network teachers (``hashinr``, ``coordnet``) train for ``--minutes`` each.
"""

from __future__ import annotations

import argparse
import time


def run(data: str, teachers: list[str], model: str | None, minutes: float, device: str) -> dict:
    import numpy as np
    import torch

    from bench._common import machine_info
    from hyperinr_core.data.dataset import open_dataset
    from hyperinr_core.model.field_info import FieldInfo
    from hyperinr_core.train.make_teacher import TeacherBuild, build_teacher
    from hyperinr_core.train.pipeline import load_training_frames
    from hyperinr_core.train.selection import score_predictor
    from hyperinr_core.train.student import hyperinr_predictor

    dev = torch.device(device)
    out: dict = {"machine": machine_info(), "data": data, "teachers": {}}
    with open_dataset(data) as ds:
        info = FieldInfo.from_dataset(ds)
        frames, train_u = load_training_frames(ds, info, None)
        test = ds.test_indices
        lo, hi = info.value_range
        ref = ((ds.frames(test) - lo) / (hi - lo)).astype(np.float32)
        u = ds.normalized_params()[test]
        out["frames"] = {"train": len(train_u), "held_out": len(test), "shape": list(ds.frame_shape)}
        inside = (
            (u[:, 0] >= train_u[:, 0].min()) & (u[:, 0] <= train_u[:, 0].max())
            if info.n_param_dims == 1
            else None
        )
        for kind in teachers:
            t0 = time.perf_counter()
            tb = TeacherBuild(minutes=minutes, preset=None, device=device, progress=False)
            t = build_teacher(kind, frames, train_u, info, dev, tb)
            build_s = time.perf_counter() - t0
            s = score_predictor(kind, t.predict, ref, u)
            row = {
                "psnr_mean": s.psnr_mean,
                "psnr_worst": s.psnr_worst,
                "build_s": build_s,
                "ms_per_frame": 1e3 * s.seconds / max(len(test), 1),
            }
            if inside is not None and inside.any() and not inside.all():
                si = score_predictor(kind, t.predict, ref[inside], u[inside])
                row["inside_range"] = {"psnr_mean": si.psnr_mean, "psnr_worst": si.psnr_worst}
            out["teachers"][kind] = row
        if model:
            from hyperinr_core.model.hyperinr import HyperINR

            m = HyperINR.load(model, dev)
            s = score_predictor("HyperINR", hyperinr_predictor(m, tuple(ds.frame_shape), ds.is_image), ref, u)
            out["model"] = {
                "path": model,
                "psnr_mean": s.psnr_mean,
                "psnr_worst": s.psnr_worst,
                "metadata": {
                    k: v for k, v in m.cfg.metadata.items() if k in ("teacher", "steps", "train_seconds")
                },
            }
    return out


def main(argv: list[str] | None = None) -> int:
    from bench._common import emit

    p = argparse.ArgumentParser(prog="hyperinr bench teachers", description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, metavar="D.h5")
    p.add_argument("--teachers", default="flow,lerp", help="comma-separated (flow, lerp, hashinr, coordnet)")
    p.add_argument("--model", metavar="M.h5", help="a trained HyperINR to score beside them")
    p.add_argument("--minutes", type=float, default=5.0, help="budget of each network teacher (default 5)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", metavar="FILE", help="also write the JSON here")
    a = p.parse_args(argv)
    emit(run(a.data, [t for t in a.teachers.split(",") if t], a.model, a.minutes, a.device), a.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
