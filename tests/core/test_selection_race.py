"""``--teacher auto`` on equal footing: periodic parameters, learning-curve projections, the race's verdict."""

import numpy as np
import pytest

from hyperinr_core.model.param_space import lerp_weights, offset, param_tree, periodic_dims
from hyperinr_core.train.race import (
    Curve,
    calibrate,
    decide,
    failed_test,
    optimistic,
    out_of_reach,
    probe_steps,
    project,
)
from hyperinr_core.train.selection import validation_split
from hyperinr_core.train.teachers import LerpTeacher


def test_periodic_dims_need_a_full_turn_and_a_name_or_a_declaration():
    assert periodic_dims(["azimuth", "polar"], [0, 0], [360, 180]) == [True, False]
    assert periodic_dims(["azimuth", "polar"], [0, 0], [180, 90]) == [False, False]  # half a turn
    assert periodic_dims(["t", "phi"], [0, 0], [10, 2 * np.pi]) == [False, True]
    assert periodic_dims(["angle"], [-180], [180]) == [False]  # not said by name
    assert periodic_dims(["angle"], [-180], [180], declared=[1]) == [True]
    assert periodic_dims(["azimuth"], [0], [360], declared=[0]) == [False]  # the file's word wins


def test_offsets_and_trees_wrap_on_periodic_dims_only():
    per = [True, False]
    assert offset(np.array([0.95, 0.5]), np.array([0.05, 0.5]), per) == pytest.approx([-0.1, 0.0])
    assert offset(np.array([0.5, 0.95]), np.array([0.5, 0.05]), per) == pytest.approx([0.0, 0.9])
    tree = param_tree(np.array([[0.02, 0.5], [0.6, 0.5], [0.98, 0.9]]), per)
    dist, idx = tree.query([0.99, 0.5], k=1)
    assert idx == 0 and dist == pytest.approx(0.03)


def test_lerp_blends_across_the_wrap():
    # 1-D periodic: a query past the last frame blends the last and the first, not a clamp.
    u = np.array([[0.1], [0.5], [0.9]])
    idx, w = lerp_weights(u, np.array([0.0]), periodic=[True])
    assert sorted(idx.tolist()) == [0, 2] and w == pytest.approx([0.5, 0.5])
    idx, w = lerp_weights(u, np.array([0.0]))  # not periodic: the end frame alone
    assert idx.tolist() == [0] and w == pytest.approx([1.0])
    # n-D IDW: the nearest frame of a light at azimuth 0.99 is the one at 0.01.
    frames = np.stack([np.full((2, 2, 2), v, np.float32) for v in (1.0, 0.0, 0.0)])
    p = np.array([[0.01, 0.5], [0.5, 0.5], [0.7, 0.2]])
    near = LerpTeacher(frames, p, k=3, periodic=[True, False]).predict(np.array([0.99, 0.5]))
    far = LerpTeacher(frames, p, k=3).predict(np.array([0.99, 0.5]))
    assert near.mean() > 0.85 > far.mean()


def test_validation_split_treats_a_periodic_parameter_as_having_no_ends():
    rng = np.random.default_rng(0)
    u = np.column_stack([rng.random(24), rng.random(24)])
    fit, val = validation_split(u, 0, [True, False])
    assert len(val) > 0 and len(np.intersect1d(fit, val)) == 0
    # Extremes of the non-periodic parameter always stay in the fit set; azimuth extremes may validate.
    assert int(np.argmin(u[:, 1])) in fit and int(np.argmax(u[:, 1])) in fit
    plain_fit, plain_val = validation_split(u, 0)
    assert len(val) >= len(plain_val)


def test_projection_saturates_and_is_capped_by_the_teacher():
    c = Curve(probe_steps(80), [20.0, 22.0, 23.5, 25.0])  # gains 2.0 then 1.5 per doubling
    assert c.steps == [10, 20, 40, 80]
    p = project(c, 80 * 16)
    assert 25.0 < p < 25.0 + 1.5 * 4  # more steps help, but less than linearly in log(steps)
    assert project(c, 80 * 1024) < 25.0 + 1.5 * 0.8 / 0.2 + 1e-9  # geometric: bounded
    assert project(c, 80) == pytest.approx(25.0)  # no more steps: the level reached
    assert project(c, 80 * 16, cap=26.0) == pytest.approx(26.0)
    assert project(c, 80 * 16, cap=24.0) == pytest.approx(25.0)  # a cap never takes away what was reached
    flat = Curve([10, 20, 40, 80], [20.0, 19.0, 18.5, 18.0])  # getting worse: no gain projected
    assert project(flat, 10_000) == pytest.approx(18.0)


def test_a_teacher_clearly_better_but_slow_to_distil_still_wins():
    # The distilled student starts lower and rises faster; its teacher is 6 dB above the direct student.
    distilled = Curve([10, 20, 40, 80], [16.0, 18.5, 20.5, 22.0])
    direct = Curve([10, 20, 40, 80], [19.5, 20.5, 21.2, 22.5])
    v = decide("flow", 28.5, distilled, direct, final_steps=4000)
    assert v.chosen == "flow" and not v.failed
    assert v.projected_teacher >= v.projected_direct
    # The same curves on a budget no longer than the race: the direct student's lead stands.
    assert decide("flow", 28.5, distilled, direct, final_steps=80).chosen == "none"
    # A teacher no better than the direct student loses, however fast its student learns.
    assert decide("flow", 21.0, distilled, direct, final_steps=4000).chosen == "none"


def test_a_steep_direct_curve_does_not_outrun_a_capped_distilled_one_on_extrapolation_alone():
    # TGV demo, 128 race steps: the distilled student leads at equal steps; the direct one's early slope,
    # extrapolated uncapped, would have projected 1.7 dB past the teacher's own validation score.
    distilled = Curve([16, 32, 64, 128], [22.0, 26.0, 30.0, 32.85])
    direct = Curve([16, 32, 64, 128], [19.67, 23.67, 27.67, 31.67])
    assert project(direct, 2356) > 41.0  # uncapped, the direct student would win on extrapolation alone
    v = decide("flow", 40.96, distilled, direct, final_steps=2356)
    assert v.chosen == "flow" and v.projected_direct <= 40.96


def test_a_student_far_below_its_better_teacher_is_a_failed_test_not_a_verdict():
    broken = Curve([10, 20, 40, 80], [8.0, 9.0, 10.0, 10.7])
    direct = Curve([10, 20, 40, 80], [18.0, 19.0, 20.0, 20.6])
    assert failed_test(broken, direct, teacher_psnr=24.0)
    assert not failed_test(broken, direct, teacher_psnr=19.0)  # the teacher itself is worse: a verdict
    v = decide("flow", 24.0, broken, direct, final_steps=400)
    assert v.failed and v.chosen == "flow"  # the teacher's own score stands in for its broken student


def test_point_probe_scores_as_a_whole_frame_decode_when_it_takes_every_node():
    from hyperinr_core.model.field_info import FieldInfo
    from hyperinr_core.train.choose import point_probe
    from hyperinr_core.train.distill import new_hyperinr
    from hyperinr_core.train.presets import PRESETS
    from hyperinr_core.train.selection import score_predictor
    from hyperinr_core.train.student import hyperinr_predictor

    info = FieldInfo(frame_shape=[5, 6, 7])
    u = np.array([[0.0], [0.5], [1.0]])
    model = new_hyperinr(info, PRESETS["tiny"], 3, u, seed=0)
    rng = np.random.default_rng(1)
    frames = rng.random((2, 5, 6, 7)).astype(np.float32)
    at = np.array([[0.25], [0.8]])
    whole = score_predictor("", hyperinr_predictor(model, (5, 6, 7), False), frames, at).psnr_mean
    assert point_probe(frames, at, False, seed=0, n_points=10_000)(model) == pytest.approx(whole, abs=1e-4)
    some = point_probe(frames, at, False, seed=0, n_points=60)(model)
    assert abs(some - whole) < 1.5 and some != pytest.approx(whole, abs=1e-6)


def test_calibration_is_one_run_timing_only_the_steps_after_the_warm_up():
    """One student run gives both costs: the warm-up steps (compilation, caches) are not counted, the timed
    steps and the probe on the resulting model are."""
    import time

    calls = []

    def run(steps, on_step):
        calls.append(steps)
        for i in range(1, steps + 1):
            time.sleep(0.2 if i <= 3 else 0.01)  # a slow warm-up, then 10 ms steps
            on_step("model", i)
        return "model", None

    probed, synced = [], []
    sps, probe = calibrate(run, lambda m: probed.append(m) or time.sleep(0.05), warm=3, timed=5,
                           sync=lambda: synced.append(len(calls)))
    assert calls == [8] and probed == ["model"] and synced == [1, 1]  # at both time stamps, once each
    assert 0.01 <= sps < 0.1  # the 0.2 s warm-up steps stay out
    assert probe >= 0.05


def test_a_direct_student_out_of_reach_stops_early_without_changing_the_verdict():
    # The teacher's student projects near the cap; the direct one's first probes cannot catch up even
    # optimistically: it stops, and the full race would have chosen the teacher too.
    distilled = Curve([10, 20, 40, 80], [16.0, 18.5, 20.5, 22.0])
    direct = Curve([10, 20, 40, 80], [19.5, 20.5, 21.2, 22.5])
    target = project(distilled, 4000, 28.5)
    partial = Curve(direct.steps[:2], direct.psnr[:2])
    assert optimistic(partial, 4000, 28.5) >= project(partial, 4000, 28.5)
    assert out_of_reach(partial, target, 4000, 28.5)
    assert decide("flow", 28.5, distilled, direct, final_steps=4000).chosen == "flow"
    # A distilled student that barely learns: the direct one is never out of reach, and wins.
    flat = Curve([10, 20, 40, 80], [19.0, 19.5, 19.8, 20.0])
    target = project(flat, 4000, 23.0)
    for k in (2, 3):
        assert not out_of_reach(Curve(direct.steps[:k], direct.psnr[:k]), target, 4000, 23.0)
    v = decide("flow", 23.0, flat, direct, final_steps=4000)
    assert v.chosen == "none" and not v.failed
    # One probe tells no slope: never out of reach.
    assert not out_of_reach(Curve([10], [5.0]), 30.0, 4000, 28.5)
