"""GenerationWorker: newest request wins, coarse to fine, and the first image never waits for the compiler."""

import threading

import numpy as np
import torch


def _model(seed: int, log2_hashmap_size: int):
    from hyperinr_core import HashGridConfig, HyperINR, HyperINRConfig, MLPConfig

    g = torch.Generator().manual_seed(seed)
    enc = HashGridConfig(3, 2, 2, log2_hashmap_size, 4, 2.0)  # a shape no other test compiles
    return HyperINR(HyperINRConfig(enc, MLPConfig(4, 1, 16, 1), ["t"], [0.0], [1.0]),
                    np.linspace(0, 1, 2)[:, None], generator=g)


def _compiling_evaluators(model) -> list:
    from hyperinr_core.model import fast

    with fast._SHARED_LOCK:
        return [ev for key, ev in fast._SHARED.items() if key[0] == model.cfg.encoding and key[3]]


def test_the_first_request_is_decoded_without_the_compiler_which_starts_right_after():
    from hyperinr_app.controller import GenerationWorker, Request

    model = _model(0, 9)
    results, first_seen = [], threading.Event()
    compiling_at_first = []

    def on_result(r):
        if not results:
            compiling_at_first.extend(_compiling_evaluators(model))
        results.append(r)
        if r.final:
            first_seen.set()

    w = GenerationWorker(model, on_result)
    try:
        w.request(Request([0.3], resolutions=(8, 12)))
        assert first_seen.wait(120)
        assert [r.resolution for r in results] == [8, 12] and results[-1].error is None
        assert compiling_at_first == []  # nothing was compiling while the first volumes were decoded
        deadline = threading.Event()
        for _ in range(200):
            if _compiling_evaluators(model):
                break
            deadline.wait(0.05)
        assert _compiling_evaluators(model), "the compiling decoder did not take over after the first request"
    finally:
        w.close()


def test_with_compile_after_first_off_compiling_waits_for_start_compiling():
    from hyperinr_app.controller import GenerationWorker, Request

    model = _model(1, 10)
    finals = []
    done = threading.Event()
    w = GenerationWorker(model, lambda r: (finals.append(r), done.set()) if r.final else None,
                         compile_after_first=False)
    try:
        for theta in (0.2, 0.7):
            done.clear()
            w.request(Request([theta], resolutions=(8,)))
            assert done.wait(120)
        assert _compiling_evaluators(model) == []  # two requests served, still eager
        w.start_compiling()
        for _ in range(200):
            if _compiling_evaluators(model):
                break
            threading.Event().wait(0.05)
        assert _compiling_evaluators(model)
        done.clear()
        w.request(Request([0.5], resolutions=(8,)))
        assert done.wait(120) and finals[-1].error is None and finals[-1].volume.shape == (8, 8, 8)
    finally:
        w.close()
