"""``hyperinr bench soak``: the explorer session (no Qt) under a long stream of random changes.

Parameter, light, transfer-function and shadow-mode changes in random order, with a model switch every
``switch_every`` changes, on the demo bundle (scalar and shadow model), at the session's smallest
resolution, one change every ``pace_s`` (a slider dragged fast). What the worker posts is run as the GUI thread would, between changes. Reports the changes per
second, the worker results, every exception, the thread count and the resident memory after a warm-up and
at the end (``tests/app/test_session_soak.py`` runs 10,000 changes and bounds the growth).
"""

from __future__ import annotations

import argparse
import json
import random
import threading
import time
from pathlib import Path

WARMUP = 1000


def rss_mb() -> float:
    """Resident memory of this process in MiB (Linux /proc)."""
    import os

    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def run(changes: int = 10_000, seed: int = 0, switch_every: int = 500, pace_s: float = 0.002) -> dict:
    from hyperinr_app.bundle import demo_bundle_path, load_bundle
    from hyperinr_app.session import SHADOW_MODES, ExplorerSession
    from hyperinr_core.model.hyperinr import HyperINR
    from hyperinr_renderer.transfer import TransferFunction, presets

    bundle = load_bundle(demo_bundle_path())
    model, shadow = HyperINR.load(bundle.model), HyperINR.load(bundle.shadow_model)
    bundle_tf = TransferFunction.from_json(bundle.transfer_function)
    queue: list = []
    lock = threading.Lock()

    def post(fn, *args):
        with lock:
            queue.append((fn, args))

    def drain() -> int:
        with lock:
            todo, queue[:] = list(queue), []
        for fn, args in todo:
            fn(*args)
        return len(todo)

    session = ExplorerSession(post=post, resolutions=(8,))
    errors: list[str] = []
    results = [0]
    session.volume_ready.connect(lambda r: (results.__setitem__(0, results[0] + 1),
                                            errors.append(str(r.error)) if r.error else None))
    rng = random.Random(seed)
    session.set_model(None, model, shadow, bundle_tf)
    threads_after_warmup = rss_after_warmup = None
    t0 = time.perf_counter()
    names = presets()
    for i in range(changes):
        kind = rng.random()
        try:
            if i and i % switch_every == 0:
                switch = rng.random() < 0.5
                session.set_model(None, model, shadow if switch else None, bundle_tf if switch else None)
            elif kind < 0.4:
                session.set_param("t", rng.uniform(-1.0, 11.0))  # out of range too: clamped
            elif kind < 0.6:
                session.set_light(azimuth=rng.uniform(0, 360), polar=rng.uniform(0, 180))
            elif kind < 0.8:
                tf = bundle_tf if rng.random() < 0.5 else TransferFunction.preset(rng.choice(names))
                session.set_tf(tf)
            else:
                mode = rng.choice(SHADOW_MODES)
                if mode != "field" or session.field_unavailable_reason() is None:
                    session.set_shadow_mode(mode)
        except Exception as exc:  # noqa: BLE001 - every exception is a finding
            errors.append(f"change {i}: {type(exc).__name__}: {exc}")
        time.sleep(pace_s)  # a fast hand on a slider: the worker serves many of these, not one per burst
        if i % 10 == 0:
            drain()
        if i == WARMUP:
            time.sleep(0.5)
            drain()
            threads_after_warmup, rss_after_warmup = threading.active_count(), rss_mb()
    seconds = time.perf_counter() - t0
    time.sleep(0.5)
    drain()
    out = {
        "bench": "soak",
        "changes": changes,
        "seconds": round(seconds, 2),
        "changes_per_s": round(changes / seconds, 1),
        "volumes_received": results[0],
        "errors": errors[:20],
        "n_errors": len(errors),
        "threads_after_warmup": threads_after_warmup,
        "threads_at_end": threading.active_count(),
        "rss_mb_after_warmup": None if rss_after_warmup is None else round(rss_after_warmup, 1),
        "rss_mb_at_end": round(rss_mb(), 1),
    }
    session.close()
    out["threads_after_close"] = threading.active_count()
    return out


def main(argv: list[str] | None = None) -> int:
    from bench._common import machine_info

    p = argparse.ArgumentParser(prog="hyperinr bench soak", description=__doc__.splitlines()[0])
    p.add_argument("--changes", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", metavar="F", help="also write the JSON here")
    a = p.parse_args(argv)
    res = run(a.changes, a.seed)
    res["machine"] = machine_info()
    text = json.dumps(res, indent=2)
    print(text)
    if a.json:
        Path(a.json).write_text(text)
    return 1 if res["n_errors"] else 0
