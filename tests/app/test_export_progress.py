"""Export progress (ETA estimator, progress line) and the streaming pipeline's order, bounds, errors and
cancellation; no GL, no Qt."""

import threading
import time

import pytest

from hyperinr_app.export_pipeline import Cancelled, run_pipeline
from hyperinr_app.export_progress import EtaEstimator, ProgressState, format_duration, progress_line


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def test_eta_leaves_out_the_start_up_and_is_exact_for_a_steady_rate():
    clock = Clock()
    eta = EtaEstimator(100, clock)
    assert eta.eta() is None  # nothing measured yet
    clock.t += 30.0  # start-up: context, shader compile, first decode
    eta.update(1)
    first = eta.eta()
    assert first is not None and first > 0  # a first guess, start-up included
    for k in range(2, 11):  # then 2 s a unit
        clock.t += 2.0
        eta.update(k)
    assert eta.eta() == pytest.approx(90 * 2.0)  # not (30 + 20) / 10 * 90 = 450
    clock.t += 0.5  # counts down between reports
    assert eta.eta() == pytest.approx(90 * 2.0 - 0.5)
    eta.update(100)
    assert eta.eta() == 0.0 and eta.fraction == 1.0


def test_eta_after_ten_percent_is_within_thirty_percent_of_the_truth_for_a_noisy_pipeline():
    """Frames alternate between slow (a decode in the way) and fast, samples come in bursts: the estimate at
    10% of the work is still within 30% of the time the rest actually takes."""
    import random

    rng = random.Random(0)
    clock = Clock()
    frames, spp = 100, 16
    eta = EtaEstimator(frames * spp, clock)
    clock.t += 20.0
    estimate_at_10 = t_at_10 = None
    for f in range(frames):
        clock.t += rng.choice((0.5, 3.0))  # waiting for the next volume, or not
        for s in range(spp):
            clock.t += rng.uniform(0.2, 0.4)
            eta.update(f * spp + s + 1)
            if estimate_at_10 is None and eta.fraction >= 0.1:
                estimate_at_10, t_at_10 = eta.eta(), clock.t
    actual = clock.t - t_at_10
    assert abs(estimate_at_10 - actual) / actual < 0.3


def test_frame_costs_make_the_eta_right_when_late_frames_are_slower():
    """The demo's sweep: the last frames take almost four times as long as the first. Without frame costs
    the estimate at 10% is about half the truth; with the cost of every frame it is within 10%."""

    def run(with_costs: bool) -> float:
        clock = Clock()
        frames, spp = 100, 16
        cost = [1.0 + 2.8 * min(f / 50, 1.0) for f in range(frames)]  # seconds per frame, rising then flat
        eta = EtaEstimator(frames * spp, clock)
        if with_costs:
            eta.set_frame_costs([c * 1.3 for c in cost], spp)  # only ratios matter
        estimate = t10 = None
        for f in range(frames):
            for s in range(spp):
                clock.t += cost[f] / spp
                eta.update(f * spp + s + 1)
                if estimate is None and eta.fraction >= 0.1:
                    estimate, t10 = eta.eta(), clock.t
        return estimate / (clock.t - t10)

    assert run(False) < 0.6
    assert run(True) == pytest.approx(1.0, abs=0.1)


def test_frame_costs_leave_a_steady_export_as_it_was():
    clock = Clock()
    eta = EtaEstimator(40, clock)
    eta.set_frame_costs([2.0] * 10, 4)
    for d in range(1, 11):
        clock.t += 1.0
        eta.update(d)
    assert eta.work(10) == pytest.approx(5.0) and eta.eta() == pytest.approx(30.0)


def test_eta_uses_the_whole_elapsed_time_until_two_reports_exist():
    clock = Clock()
    eta = EtaEstimator(10, clock)
    clock.t += 5.0
    eta.update(1)
    assert eta.eta() == pytest.approx(45.0)  # 5 s for the first unit, 9 to go
    eta.update(1, total=20)  # the total may change (a first report names it)
    assert eta.total == 20 and eta.eta() == pytest.approx(95.0)


def test_progress_line_names_frames_samples_elapsed_and_time_left():
    clock = Clock()
    state = ProgressState.create(100, 16, clock)
    assert progress_line(state) == "frame 0/100 · 16 spp · 0:00 elapsed · estimating time left"
    clock.t += 62.0
    state.eta.update(16 * 12 + 3)
    line = progress_line(state)
    assert line.startswith("frame 12/100 · 16 spp · 1:02 elapsed · ") and line.endswith(" left")
    one = ProgressState.create(1, 64, clock)
    one.eta.update(8)
    assert progress_line(one).startswith("8/64 spp · ")
    assert format_duration(3723) == "1:02:03" and format_duration(59.6) == "1:00"


def test_pipeline_keeps_order_overlaps_stages_and_bounds_memory():
    prepared, written = [], []
    ahead = []

    def prepare(k):
        prepared.append(k)
        ahead.append(len(prepared) - len(written))
        return k * 10

    def render(k, item):
        assert item == k * 10
        time.sleep(0.002)
        return (k, threading.current_thread().name)

    def write(k, img):
        time.sleep(0.003)
        written.append(img)

    run_pipeline(40, prepare, render, write, depth=2)
    assert [k for k, _ in written] == list(range(40))
    assert {name for _, name in written} == {threading.current_thread().name}  # render: the caller's thread
    # prepared frames wait in a queue of 2, images in a queue of 2, plus one in each stage
    assert max(ahead) <= 2 + 2 + 3


def test_pipeline_raises_the_first_error_of_any_stage_and_stops():
    written = []

    def bad_prepare(k):
        if k == 3:
            raise ValueError("decode failed")
        return k

    with pytest.raises(ValueError, match="decode failed"):
        run_pipeline(10, bad_prepare, lambda k, x: x, lambda k, x: written.append(k))
    assert written == list(range(len(written))) and len(written) <= 3  # in order, nothing after the error

    def bad_write(k, x):
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        run_pipeline(10, lambda k: k, lambda k, x: x, bad_write)


def test_pipeline_cancel_raises_cancelled_and_stops_writing():
    cancel = threading.Event()
    written = []

    def render(k, x):
        if k == 4:
            cancel.set()
        return x

    with pytest.raises(Cancelled):
        run_pipeline(100, lambda k: k, render, lambda k, x: written.append(k), cancel.is_set)
    assert len(written) <= 5
