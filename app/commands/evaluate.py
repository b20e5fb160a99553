"""``hyperinr evaluate``: PSNR/SSIM of a model, LERP and (optionally) the teacher at the held-out frames."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="score a model against LERP (and its teacher) at the held-out frames",
        description="Per held-out frame (frames not in /train) PSNR and SSIM of the model, of LERP over the "
        "training frames and, if given, of the teacher; prints a table, optionally writes JSON and a plot.",
    )
    p.add_argument(
        "--model", required=True, metavar="M.hinr", help="HyperINR (or HashINR / CoordNet) model file"
    )
    p.add_argument("--data", required=True, metavar="D.h5", help="dataset file the model was trained on")
    p.add_argument("--teacher", metavar="T.h5", help="also score this CoordNet teacher")
    p.add_argument("--json", metavar="OUT.json", help="write per-frame scores and means as JSON")
    p.add_argument("--plot", metavar="OUT.png", help="plot PSNR against the parameter (needs matplotlib)")
    p.add_argument(
        "--frames", metavar="I,J,...", help="evaluate these frame indices instead of the held-out ones"
    )
    p.add_argument("--no-lerp", action="store_true", help="skip the LERP baseline")
    p.add_argument("--no-ssim", action="store_true", help="PSNR only (faster)")
    p.add_argument("--summary", action="store_true", help="print only the means, not one line per frame")
    p.add_argument("--compile", action="store_true", help="decode HyperINR grids through torch.compile")
    p.add_argument("--device", metavar="DEV", help="torch device (default: cuda if available, else cpu)")
    p.add_argument(
        "--threads", type=int, metavar="N", help="CPU threads (default: all cores, fewer when busy)"
    )
    p.add_argument("--force", action="store_true", help="replace existing --json/--plot outputs")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_evaluate)


def run_evaluate(args: argparse.Namespace) -> int:
    import os

    from hyperinr_core.data.dataset import open_dataset
    from hyperinr_core.device import configure_threads, pick_device
    from hyperinr_core.errors import HyperINRError
    from hyperinr_core.eval.baselines import Lerp
    from hyperinr_core.eval.evaluate import Method, evaluate, format_table, load_method, plot_psnr, write_json

    configure_threads(args.threads)

    from hyperinr_core.fileio import prepare_output

    for out in (args.json, args.plot):
        if out and os.path.exists(out) and not args.force:
            raise HyperINRError(f"{out}: output exists; choose another name or pass --force")
        if out:
            prepare_output(out)
    frames = None
    if args.frames:
        try:
            frames = [int(v) for v in args.frames.split(",") if v.strip()]
        except ValueError:
            raise HyperINRError(
                f"--frames: expected comma-separated frame indices, got {args.frames!r}"
            ) from None
    device = pick_device(args.device)
    with open_dataset(args.data) as ds:
        if frames is not None:
            bad = [i for i in frames if not 0 <= i < ds.n_frames]
            if bad:
                raise HyperINRError(
                    f"--frames: index {bad[0]} out of range (the dataset has {ds.n_frames} frames)"
                )
        methods = [load_method(args.model, ds, device, compile=args.compile)]
        if args.teacher:
            methods.append(load_method(args.teacher, ds, device, name="teacher"))
        for m in methods:
            if m.notes:
                print(f"warning: {args.data} is not the data {m.source} was trained on: {'; '.join(m.notes)}",
                      file=sys.stderr)
        is_nvs = ds.task == "nvs"
        if not args.no_lerp:
            if is_nvs:  # IDW of the training views with the model's own K (hyperinr_core.eval.nvs)
                from hyperinr_core.eval.nvs import image_lerp, model_k

                methods.append(image_lerp(ds, model_k(args.model)))
            else:
                lerp = Lerp(ds)
                methods.append(Method("LERP", lerp.predict, "training frames"))
        report = evaluate(ds, methods, frames, with_ssim=not args.no_ssim, progress=not args.quiet)
        train_params = ds.params[ds.train_indices]
        bounds = (ds.param_lo, ds.param_hi)
    print(format_table(report, per_frame=not args.summary))
    scores = None
    if is_nvs and not args.no_lerp and len(report.rows) >= 2:
        from hyperinr_core.eval.nvs import format_difference, view_scores

        scores = view_scores(report, methods[0].name)
        print(format_difference(scores.test(), scores.model))
    if args.json:
        write_json(report, args.json)
        print(f"wrote {args.json}")
    if args.plot:
        if scores is not None:  # the paper's figure 12
            from hyperinr_core.eval.nvs import plot_view_differences

            plot_view_differences(scores, args.plot, train_params, *bounds, os.path.basename(args.model))
        else:
            plot_psnr(report, args.plot, train_params)
        print(f"wrote {args.plot}")
    return 0
