"""Frame rates of the interactive GL path (PathTracerCanvas) at 800x600: static view, scrubbing, light drag.

Runs under an X display with OpenGL; without one it re-runs itself under ``xvfb-run`` (Mesa llvmpipe here).

- ``static``: the view at rest, full quality, one new sample per pixel per frame (progressive refinement).
- ``orbit``: the camera turns every frame; the canvas adapts its cost level (coarser step, then resolution).
- ``scrub``: every frame generates the INR at a new parameter, decodes it at the interactive rung, uploads the
  texture and renders (the explorer's slider loop, minus its worker thread).
- ``light_rays`` / ``light_field``: the light turns every frame; shadows by secondary rays, or by a shadow INR
  generated for the light, decoded at the interactive rung and looked up (DGS).

The volume comes from ``assets/`` when a demo TSR model is bundled; otherwise from a HyperINR with the paper's
encoder config and random weights scaled so its values span [0, 1] (a dense, noisy cloud: a hard case for
the renderer, as empty space is rare). Frame times include Qt's composition of the GL widget.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time


def _paper_hyperinr(param_names, n_encoders: int, seed: int):
    import numpy as np
    import torch

    from hyperinr_core import HashGridConfig, HyperINR, HyperINRConfig, MLPConfig

    enc = HashGridConfig(3, 8, 4, 15, 4, 2.0)
    cfg = HyperINRConfig(encoding=enc, mlp=MLPConfig(enc.n_output_dims, 1), param_names=list(param_names),
                         param_lo=[0.0] * len(param_names), param_hi=[1.0] * len(param_names))
    g = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    pos = np.linspace(0, 1, n_encoders)[:, None] if len(param_names) == 1 else rng.random((n_encoders, 2))
    model = HyperINR(cfg, pos, generator=g)
    with torch.no_grad():
        # Random hash-grid features of this size give values of a few 1e-2; scale them (and the ReLU MLP,
        # whose output is 5-homogeneous in a common weight factor) so the field covers [0, 1].
        model.encoder_params.mul_(1e4)
        model.mlp.params.mul_(8**0.2)
    return model


def _demo_model():
    """A bundled demo TSR model, if the assets hold one."""
    from importlib import resources

    try:
        files = [f for f in resources.files("hyperinr_assets").iterdir() if f.name.endswith(".h5")]
    except (ModuleNotFoundError, FileNotFoundError):
        return None, None
    from hyperinr_core import HyperINR

    for f in sorted(files, key=lambda f: f.name):
        try:
            m = HyperINR.load(str(f))
        except Exception:  # noqa: BLE001 - not a model file, or another kind
            continue
        if m.cfg.task == "tsr" and m.cfg.encoding.n_input_dims == 3:
            return m, f.name
    return None, None


class _Driver:
    """Renders frames through the real Qt paint path and times them."""

    def __init__(self, canvas):
        self.canvas = canvas
        self.count = 0
        canvas.events.frame_rendered.connect(self._on_frame)

    def _on_frame(self, event) -> None:
        self.count += 1

    def frame(self) -> None:
        n = self.count
        self.canvas.update()
        while self.count == n:
            self.canvas.app.process_events()

    def settle(self, seconds: float) -> None:
        t_end = time.perf_counter() + seconds
        while time.perf_counter() < t_end:
            self.canvas.app.process_events()
            time.sleep(0.005)

    def run(self, n: int, before=None) -> dict:
        """``n`` iterations of: ``before(i)``, then paint until at least one new frame is rendered. A paint may
        render more than one frame (at rest the canvas keeps refining), so fps counts rendered frames."""
        ms = []

        def on_frame(event):
            ms.append(event.frame_ms)

        self.canvas.events.frame_rendered.connect(on_frame)
        spp0 = self.canvas.spp
        t_start = time.perf_counter()
        for i in range(n):
            if before is not None:
                before(i)
            self.frame()
        wall = time.perf_counter() - t_start
        self.canvas.events.frame_rendered.disconnect(on_frame)
        ms.sort()
        return {"fps": len(ms) / wall, "frame_ms_median": ms[len(ms) // 2], "frames": len(ms),
                "spp_gained": self.canvas.spp - spp0, "wall_s": wall}


def run(size=(800, 600), frames: int = 30, steps: int = 256, rung: int = 32, seed: int = 0,
        surface: str = "window") -> dict:
    import numpy as np

    from bench._common import machine_info, time_it
    from hyperinr_renderer import Camera, Light, TransferFunction
    from hyperinr_renderer.decode import Decoder
    from hyperinr_renderer.gl.canvas import PathTracerCanvas

    out: dict = {"benchmark": "interactive", "size": list(size), "frames": frames, "steps_per_unit": steps,
                 "interactive_rung": rung, "machine": machine_info(), "load_average_before": os.getloadavg()}
    model, name = _demo_model()
    out["volume_model"] = name or "random-weight HyperINR, paper encoder (3, 8, 4, 15, 4, 2.0), 24 encoders"
    if model is None:
        model = _paper_hyperinr(["t"], 24, seed)
    shadow_model = _paper_hyperinr(["azimuth", "polar"], 64, seed + 1)
    lo, hi = model.cfg.param_lo[0], model.cfg.param_hi[0]

    dec = Decoder()
    t0 = time.perf_counter()
    dec.warmup(model.generate([lo]))
    out["decoder"] = {"compile_s": time.perf_counter() - t0, "evaluator": dec.evaluator(model.generate([lo])).describe()}
    for n in (32, 64, 128):
        inr = model.generate([0.5 * (lo + hi)])
        out["decoder"][f"decode_{n}_ms"] = time_it(lambda: dec.decode(inr, n), repeats=10 if n < 128 else 3,
                                                   warmup=1)["median_ms"]
    out["generate_ms"] = time_it(lambda: model.generate([0.37 * (lo + hi)]), repeats=50)["median_ms"]

    vol64 = dec.decode_numpy(model.generate([0.5 * (lo + hi)]), 64)
    tf = TransferFunction.preset("viridis")
    canvas = PathTracerCanvas(size=size, show=True, title="bench interactive", surface=surface)
    out["surface"] = surface
    canvas.set_volume(vol64)
    canvas.set_transfer_function(tf)
    canvas.set_light(Light())
    canvas.set_camera(Camera())
    canvas.set_quality(steps)
    drv = _Driver(canvas)
    drv.settle(0.5)
    res = out["results"] = {}
    out["physical_size"] = list(canvas.physical_size)

    def level():
        return dict(zip(("step_multiplier", "resolution_scale"), canvas.quality.levels[canvas._level]))

    # Static view at rest: full quality, progressive.
    drv.frame()
    drv.settle(canvas.quality.rest_delay_s + 0.1)
    res["static"] = {**drv.run(frames), "spp_after": canvas.spp, "interactive": canvas.interactive,
                     "bands": canvas._rest_bands}

    # Orbit: the camera changes every frame.
    res["orbit"] = drv.run(frames, lambda i: (canvas.camera.orbit(2.0, 0.0), canvas.set_camera(canvas.camera)))
    res["orbit"]["level_reached"] = level()

    # Scrubbing: generate + decode at the interactive rung + upload + render.
    parts = {"generate": [], "decode": []}

    def scrub(i: int) -> None:
        theta = lo + (hi - lo) * ((i * 0.0137) % 1.0)
        t = time.perf_counter()
        inr = model.generate([theta])
        t2 = time.perf_counter()
        vol = dec.decode_numpy(inr, rung)
        t3 = time.perf_counter()
        parts["generate"].append((t2 - t) * 1e3)
        parts["decode"].append((t3 - t2) * 1e3)
        canvas.set_volume(vol)

    drv.settle(canvas.quality.rest_delay_s + 0.1)
    res["scrub"] = drv.run(frames, scrub)
    res["scrub"].update({f"{k}_ms_median": float(np.median(v)) for k, v in parts.items()})
    res["scrub"]["level_reached"] = level()

    # Light drag, shadows by secondary rays vs by the shadow INR (generated + decoded per light).
    canvas.set_volume(vol64)
    for mode in ("rays", "field"):
        canvas.set_shadow_mode(mode)
        sparts: list[float] = []

        def drag(i: int, mode=mode) -> None:
            light = Light(azimuth=(30.0 + 3.0 * i) % 360.0, polar=45.0)
            if mode == "field":
                t = time.perf_counter()
                sinr = shadow_model.generate([light.azimuth / 360.0, light.polar / 180.0])
                canvas.set_shadow_volume(dec.decode_numpy(sinr, rung))
                sparts.append((time.perf_counter() - t) * 1e3)
            canvas.set_light(light)

        drag(0)
        canvas._level = 0
        drv.settle(canvas.quality.rest_delay_s + 0.1)
        drv.run(3, drag)  # let the cost level settle
        r = drv.run(frames, drag)
        r["level_reached"] = level()
        if sparts:
            r["shadow_generate_decode_ms_median"] = float(np.median(sparts))
        res[f"light_{mode}"] = r
        # The same light at rest, full quality: the cost of one refinement frame in this mode.
        drv.settle(canvas.quality.rest_delay_s + 0.1)
        res[f"static_{mode}"] = {**drv.run(max(5, frames // 3)), "bands": canvas._rest_bands}
    canvas.close()
    out["load_average_after"] = os.getloadavg()
    return out


def _has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="hyperinr bench interactive", description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="800x600", help="canvas size WxH (default 800x600)")
    ap.add_argument("--frames", type=int, default=30, help="frames per measurement")
    ap.add_argument("--steps", type=int, default=256, help="full-quality samples per unit length")
    ap.add_argument("--rung", type=int, default=32, help="decode resolution while scrubbing / dragging")
    ap.add_argument("--torch-threads", type=int, default=1,
                    help="torch intra-op threads for generation/decoding (default 1: two OpenMP threads "
                         "spin against llvmpipe's rasterizer threads on a 2-core CPU)")
    ap.add_argument("--surface", choices=("window", "widget"), default="window",
                    help="the canvas on its own GL window (the explorer's, default) or as a QOpenGLWidget")
    ap.add_argument("--json", "--out", dest="out", metavar="OUT", help="also write the JSON to this file")
    args = ap.parse_args(argv)
    if not _has_display():
        xvfb = shutil.which("xvfb-run")
        if xvfb is None:
            from hyperinr_core.errors import HyperINRError

            raise HyperINRError("no display and no xvfb-run: the interactive benchmark needs OpenGL")
        argv = list(sys.argv[1:] if argv is None else argv)
        cmd = [xvfb, "-a", "-s", "-screen 0 1280x1024x24", sys.executable, "-m", "bench.interactive", *argv]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.getcwd(), os.environ.get("PYTHONPATH", "")]))
        return subprocess.call(cmd, env=env)
    import torch

    from bench._common import emit

    torch.set_num_threads(max(1, args.torch_threads))
    w, h = (int(v) for v in args.size.lower().split("x"))
    emit(run((w, h), args.frames, args.steps, args.rung, surface=args.surface), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
