"""GUI responsiveness of the explorer while the timestep slider is dragged continuously.

Opens the main window on a bundle (default: the bundled demo), moves the first parameter slider every
``--drag-ms`` for ``--seconds``, and measures event-loop latency: a 10 ms QTimer's lateness (actual minus
expected interval). Also counts how many volumes were shown. Needs a display with OpenGL; without one it
re-runs itself under ``xvfb-run``.

It also reports how long the first window took, after ``open_path``, to show the first volume, the first
full-resolution volume and the first full-quality frame, and for the decoder's background compilation to
land; the drag starts after that (the steady state).

``--surface both`` (the default) measures the explorer's canvas on its own GL window (``window``, what the
explorer uses) against the same canvas as a ``QOpenGLWidget`` (``widget``, whose presence makes Qt compose
every repaint of the window through GL), alternating ``--repeats`` times in one process; each figure is the
median over the repeats.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time


def run(bundle: str | None, seconds: float, drag_ms: int, surface: str = "window") -> dict:
    import numpy as np
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from hyperinr_app.bundle import demo_bundle_path
    from hyperinr_renderer.gl.canvas import ensure_app

    ensure_app()
    qapp = QApplication.instance() or QApplication([])
    from hyperinr_app.gui.main_window import MainWindow
    from hyperinr_core.model.fast import compile_threads

    win = MainWindow(canvas_surface=surface, restore_session=False)
    win.resize(1280, 800)
    win.show()
    target = bundle or demo_bundle_path()
    if target is None:
        raise SystemExit("no bundle given and no demo bundle installed")
    ready = []
    win.first_frame.connect(lambda: ready.append(True))
    t_open = time.perf_counter()
    startup: dict = {}

    def on_result(r):
        startup.setdefault("first_volume_s", time.perf_counter() - t_open)
        if r.final:
            startup.setdefault("first_final_volume_s", time.perf_counter() - t_open)

    win.result_ready.connect(on_result)
    win.open_path(target)
    t_end = time.perf_counter() + 120
    while not ready and time.perf_counter() < t_end:
        qapp.processEvents()
        time.sleep(0.005)
    startup["first_full_frame_s"] = time.perf_counter() - t_open
    # Measure the steady state: wait for the decoder's background compilation (started once the first volume
    # is shown) to land, as it has by the time a user starts dragging.
    while compile_threads() and time.perf_counter() < t_end:
        qapp.processEvents()
        time.sleep(0.005)
    startup["compiled_s"] = time.perf_counter() - t_open
    win.result_ready.disconnect(on_result)
    slider = next(iter(win.param_panel.sliders.values()))
    shown = []
    win.result_ready.connect(lambda r: shown.append(r.resolution))
    lateness, last = [], [time.perf_counter()]
    tick = QTimer()
    tick.setInterval(10)

    def on_tick():
        now = time.perf_counter()
        lateness.append((now - last[0]) * 1e3 - 10.0)
        last[0] = now

    tick.timeout.connect(on_tick)
    drag = QTimer()
    drag.setInterval(drag_ms)
    direction = [1]

    def on_drag():
        if slider.value() >= slider.hi or slider.value() <= slider.lo:
            direction[0] *= -1
        slider.setValue(slider.value() + direction[0] * (slider.hi - slider.lo) / 200)

    drag.timeout.connect(on_drag)
    tick.start()
    drag.start()
    stop = time.perf_counter() + seconds
    while time.perf_counter() < stop:
        qapp.processEvents()
        time.sleep(0.001)
    tick.stop()
    drag.stop()
    win.close()
    qapp.processEvents()
    lat = np.maximum(np.asarray(lateness[1:]), 0.0)
    return {
        "surface": surface,
        "event_loop_lateness_ms": {
            "p50": float(np.percentile(lat, 50)),
            "p95": float(np.percentile(lat, 95)),
            "max": float(lat.max()),
            "samples": int(lat.size),
        },
        "volumes_shown_per_s": len(shown) / seconds,
        "load_average": os.getloadavg()[0],
        "startup": startup,
    }


def run_all(bundle: str | None, seconds: float, drag_ms: int, surfaces: list[str], repeats: int) -> dict:
    import numpy as np

    from bench._common import machine_info

    runs = {s: [] for s in surfaces}
    for _ in range(repeats):
        for s in surfaces:  # alternating, so that drifting machine load hits both alike
            runs[s].append(run(bundle, seconds, drag_ms, s))

    def med(rs, *keys):
        vals = []
        for r in rs:
            for k in keys:
                r = r[k]
            vals.append(r)
        return float(np.median(vals))

    out = {
        "benchmark": "latency",
        "machine": machine_info(),
        "seconds": seconds,
        "drag_interval_ms": drag_ms,
        "repeats": repeats,
    }
    for s, rs in runs.items():
        out[s] = {
            "event_loop_lateness_ms": {
                q: med(rs, "event_loop_lateness_ms", q) for q in ("p50", "p95", "max")
            },
            "p95_each_run_ms": [r["event_loop_lateness_ms"]["p95"] for r in rs],
            "volumes_shown_per_s": med(rs, "volumes_shown_per_s"),
            # after open_path, in the process's first window only (later ones reuse compiled code)
            "startup_s": {k: round(v, 3) for k, v in rs[0]["startup"].items()},
        }
    if "window" in runs and "widget" in runs:
        out["p95_widget_over_window"] = (out["widget"]["event_loop_lateness_ms"]["p95"]
                                         / max(out["window"]["event_loop_lateness_ms"]["p95"], 1e-9))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="hyperinr bench latency", description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", help="bundle or model to open (default: the bundled demo)")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--drag-ms", type=int, default=16, help="interval of slider moves (default 16 ms)")
    ap.add_argument("--surface", choices=("window", "widget", "both"), default="both",
                    help="the canvas on its own GL window (the explorer's), as a QOpenGLWidget, or both "
                         "(default)")
    ap.add_argument("--repeats", type=int, default=3,
                    help="runs per surface (default 3); medians are reported")
    ap.add_argument("--json", "--out", dest="out", metavar="OUT", help="also write the JSON to this file")
    args = ap.parse_args(argv)
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        xvfb = shutil.which("xvfb-run")
        if xvfb is None:
            from hyperinr_core.errors import HyperINRError

            raise HyperINRError("no display and no xvfb-run: the latency benchmark needs OpenGL")
        argv = list(sys.argv[1:] if argv is None else argv)
        cmd = [xvfb, "-a", "-s", "-screen 0 1600x1200x24", sys.executable, "-m", "bench.latency", *argv]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.getcwd(), os.environ.get("PYTHONPATH", "")]))
        return subprocess.call(cmd, env=env)
    from bench._common import emit

    surfaces = ["window", "widget"] if args.surface == "both" else [args.surface]
    emit(run_all(args.bundle, args.seconds, args.drag_ms, surfaces, max(1, args.repeats)), args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
