"""Distillation targets, validation split and the teacher-selection pipeline (``hyperinr train``)."""

from __future__ import annotations

import time

import h5py
import numpy as np
import pytest
import torch

from hyperinr_app.cli import main
from hyperinr_core.model.field_info import FieldInfo
from hyperinr_core.model.hyperinr import HyperINR
from hyperinr_core.train.selection import Score, Selection, validation_split
from hyperinr_core.train.student import student_positions
from hyperinr_core.train.targets import (
    MixedSampler,
    between_params,
    coverage_order,
    in_memory_sampler,
    predict_frames,
)
from hyperinr_core.train.teachers import LerpTeacher, blend_weights

from .training_helpers import one_thread, tiny_series

_one_thread = pytest.fixture(autouse=True, scope="module")(one_thread)


def test_between_params_lie_strictly_between_training_parameters():
    tu = np.array([[0.0], [0.2], [0.5], [1.0]])
    b = between_params(tu, 6)
    assert len(b) == 6  # two inside each of the three gaps
    assert not np.isin(b[:, 0], tu[:, 0]).any() and b.min() > 0 and b.max() < 1
    tu2 = np.random.default_rng(0).uniform(0, 1, (12, 2))
    b2 = between_params(tu2, 48, seed=1)
    d = np.linalg.norm(b2[:, None] - tu2[None], axis=-1).min(1)
    assert len(b2) > 12 and d.min() > 0


def test_coverage_order_prefixes_spread_over_the_range():
    p = np.linspace(0, 1, 41)[:, None]
    order = coverage_order(p)
    assert sorted(order.tolist()) == list(range(41))
    first = p[order[:5], 0]
    gaps = np.diff(np.sort(np.r_[0.0, first, 1.0]))
    assert gaps.max() <= 0.35  # five points already cover [0, 1] without a hole of a third


def test_predict_frames_stops_at_its_time_bound_and_keeps_an_even_cover():
    class Slow:
        kind, frame_shape = "slow", (2, 2, 2)

        def predict(self, u):
            time.sleep(0.05)
            return np.full(self.frame_shape, u[0], np.float32)

    p = np.linspace(0, 1, 40)[:, None]
    u, f = predict_frames(Slow(), p, max_seconds=0.2, progress=False)
    assert 2 <= len(u) < 40
    assert u.min() < 0.3 and u.max() > 0.7  # the prefix covers both ends
    np.testing.assert_allclose(f[:, 0, 0, 0], u[:, 0])


def test_mixed_sampler_draws_ground_truth_and_teacher_frames_in_every_batch():
    gt = np.zeros((3, 4, 4, 4), np.float32)
    te = np.ones((5, 4, 4, 4), np.float32)
    s = MixedSampler(
        in_memory_sampler(gt, np.array([[0.0], [0.5], [1.0]]), False, "cpu", 0),
        in_memory_sampler(te, np.linspace(0.1, 0.9, 5)[:, None], False, "cpu", 1),
        gt_fraction=0.25,
    )
    u, x, y = s.sample(torch.Generator().manual_seed(0), 4, 10)
    assert u.shape == (4, 1) and x.shape == (4, 10, 3) and y.shape == (4, 10, 1)
    assert (y[:1] == 0).all() and (y[1:] == 1).all()  # 1 of 4 frames from the ground truth
    assert s.split(4) == (1, 3) and MixedSampler(s.gt, None, 0.25).split(4) == (4, 0)
    s.close()


def test_validation_split_holds_back_interior_frames():
    u = np.linspace(0, 1, 9)[:, None]
    fit, val = validation_split(u)
    assert val.tolist() == [1, 3, 5, 7] and fit.tolist() == [0, 2, 4, 6, 8]
    u2 = np.array(
        [[0, 0], [1, 0], [0, 1], [1, 1], [0.5, 0.5], [0.3, 0.6], [0.6, 0.3], [0.7, 0.7], [0.4, 0.2]]
    )
    fit2, val2 = validation_split(u2, seed=0)
    assert len(val2) >= 1 and not set(val2) & {0, 1, 2, 3}  # hull corners always fit
    assert validation_split(u[:2])[1].size == 0


def test_lerp_teacher_is_exact_at_training_frames_and_linear_between():
    frames = np.stack([np.full((2, 2, 2), v, np.float32) for v in (0.0, 1.0, 3.0)])
    t = LerpTeacher(frames, np.array([[0.0], [0.5], [1.0]]))
    assert t.predict(np.array([0.5]))[0, 0, 0] == 1.0
    assert t.predict(np.array([0.75]))[0, 0, 0] == pytest.approx(2.0)
    idx, w = blend_weights(np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]), np.array([0.0, 1.0]))
    assert idx.tolist() == [2] and w.tolist() == [1.0]


def test_selection_verdict_says_plainly_when_lerp_wins():
    sel = Selection("flow", Score("LERP", 40.0, 30.0), [Score("flow", 38.5, 29.0)], 5, 4)
    assert "below LERP" in sel.verdict() and "1.50 dB" in sel.verdict()
    sel2 = Selection("flow", Score("LERP", 40.0, 30.0), [Score("flow", 41.0, 31.0)], 5, 4)
    assert "beats LERP by 1.00 dB" in sel2.verdict() and "flow" in sel2.table()


def test_one_dimensional_students_put_encoders_on_the_training_parameters():
    info = FieldInfo(frame_shape=[4, 4, 4])
    gt_u = np.array([[0.0], [0.3], [1.0]])
    np.testing.assert_array_equal(student_positions(info, gt_u, 3)[:, 0], [0.0, 0.3, 1.0])
    assert student_positions(info, gt_u, 5) is None


def test_cli_train_auto_stores_the_selection_and_the_held_out_check(tmp_path, capsys):
    data = tiny_series(tmp_path / "s.h5", n_frames=13, stride=2)
    out = tmp_path / "m.h5"
    args = ["train", "--data", data, "-o", str(out), "--preset", "tiny", "--steps", "4"]
    assert main(args + ["--candidates", "lerp,none"]) == 0
    printed = capsys.readouterr().out
    assert "teacher selection on 3 validation frames" in printed and "held-out check" in printed
    m = HyperINR.load(out)
    meta = m.cfg.metadata
    assert meta["teacher"] in ("lerp", "none") and meta["selection"]["chosen"] == meta["teacher"]
    rows = {r["name"]: r for r in meta["selection"]["rows"]}
    assert set(rows) >= {"lerp", "student:lerp", "student:none"}
    # The race: both students ran the same steps, or the direct one stopped once out of reach (then the
    # teacher won); each has a projection to the final training, which starts from the winner.
    t, d = rows["student:lerp"], rows["student:none"]
    assert t["steps"] >= 24
    assert d["steps"] == t["steps"] or (
        d["steps"] < t["steps"] and "out of reach" in d["note"] and meta["teacher"] == "lerp"
    )
    assert all(np.isfinite(rows[k]["projected"]) for k in ("student:lerp", "student:none"))
    assert "race: " in printed and "selection took" in printed
    assert f"starts from the race's {meta['teacher']} student" in printed and meta["started_from_race"]
    assert "gap_db" in meta["heldout"] and len(meta["heldout"]["frames"]) == 6
    if meta["heldout"]["gap_db"] < 0:  # a 4-step model: the user is told it is worse than LERP
        assert "BELOW LERP" in printed
    with h5py.File(out) as f:
        assert "checkpoint" not in f
    assert not (tmp_path / "m.ckpt.h5").exists()


def test_cli_train_explicit_teacher_and_bad_options(tmp_path, capsys):
    data = tiny_series(tmp_path / "s.h5")
    out = tmp_path / "m.h5"
    assert (
        main(
            [
                "train",
                "--data",
                data,
                "-o",
                str(out),
                "--preset",
                "tiny",
                "--steps",
                "3",
                "--teacher",
                "lerp",
                "--quiet",
            ]
        )
        == 0
    )
    meta = HyperINR.load(out).cfg.metadata
    assert meta["teacher"] == "lerp" and meta["trained"] == "distilled" and meta["teacher_frames"] == 8
    for bad in (["--candidates", "lerp,magic"], ["--gt-fraction", "1.5"]):
        capsys.readouterr()
        assert (
            main(
                [
                    "train",
                    "--data",
                    data,
                    "-o",
                    str(tmp_path / "x.h5"),
                    "--preset",
                    "tiny",
                    "--steps",
                    "2",
                    "--quiet",
                    *bad,
                ]
            )
            == 2
        )
        assert capsys.readouterr().err.count("\n") == 1


def _constant_field_case():
    z, y, x = np.meshgrid(*[np.linspace(0, 1, 6)] * 3, indexing="ij")
    vol = (0.8 * x + 0.1).astype(np.float32)
    info = FieldInfo(param_lo=[0.0], param_hi=[3.0], value_range=(0.0, 1.0), frame_shape=[6, 6, 6])
    return vol, np.stack([vol] * 4), np.linspace(0, 1, 4)[:, None], info


def _teacher_error(kind: str, steps: int) -> float:
    from hyperinr_core.train.make_teacher import TeacherBuild, build_teacher

    vol, frames, u, info = _constant_field_case()
    t = build_teacher(
        kind, frames, u, info, torch.device("cpu"), TeacherBuild(steps=steps, preset="tiny", progress=False)
    )
    assert t.kind == kind and t.frame_shape == (6, 6, 6)
    return float(np.abs(t.predict(np.array([0.4])) - vol).mean())


def test_hashinr_teacher_learns_a_field_that_does_not_change():
    """The same field at every parameter: between the training parameters the teacher predicts it."""
    assert _teacher_error("hashinr", 150) < 0.08


def test_coordnet_teacher_moves_toward_a_field_that_does_not_change():
    """The paper's teacher learns slowly (SIREN, lr 1e-4 in the tiny preset): a few hundred steps already
    bring it clearly closer to the field than its initialization."""
    assert _teacher_error("coordnet", 300) < _teacher_error("coordnet", 1) - 0.03


def _moving_blob(path, n=9, side=24, step=1.5):
    """A Gaussian blob translating along x by ``step`` voxels per frame; every other frame trains."""
    from hyperinr_core.data.dataset_writer import write_dataset

    g = np.arange(side, dtype=np.float32)
    z, y, x = np.meshgrid(g, g, g, indexing="ij")
    frames = np.stack(
        [np.exp(-((x - 6 - step * i) ** 2 + (y - 12) ** 2 + (z - 12) ** 2) / (2 * 2.0**2)) for i in range(n)]
    ).astype(np.float32)
    mask = np.arange(n) % 2 == 0
    write_dataset(path, "tsr", ["t"], [0.0], [1.0], np.linspace(0, 1, n), frames, train_mask=mask)
    return str(path)


def test_auto_picks_the_teacher_that_moves_the_blob(tmp_path, capsys):
    """Validation on held-back training frames: flow recovers a moving blob where LERP cross-fades it, so
    auto chooses flow, and the table records both scores. The final flow teacher reuses the flows of the
    selection's: of 6 training frames, 0, 2, 4 and 5 (in order) fit, so 4 <-> 5 is estimated once."""
    data = _moving_blob(tmp_path / "blob.h5", n=11)
    out = tmp_path / "m.h5"
    args = [
        "train",
        "--data",
        data,
        "-o",
        str(out),
        "--preset",
        "tiny",
        "--steps",
        "2",
        "--candidates",
        "flow,lerp",
    ]
    assert main(args) == 0
    sel = HyperINR.load(out).cfg.metadata["selection"]
    rows = {r["name"]: r for r in sel["rows"]}
    assert sel["chosen"] == "flow" and sel["n_val"] == 2
    assert rows["flow"]["psnr_mean"] > rows["lerp"]["psnr_mean"] + 3.0
    printed = capsys.readouterr().out
    assert "beats LERP" in sel["verdict"] and "chosen: flow" in printed
    assert "2 flows reused" in printed


def test_every_teacher_goes_through_the_one_pipeline(tmp_path, capsys):
    # --teacher coordnet: the teacher file and the distillation set, ground truth at the training frames,
    # and the held-out check like every other teacher.
    data = tiny_series(tmp_path / "s.h5", n_frames=9, stride=2)
    out = tmp_path / "c.h5"
    base = ["train", "--data", data, "--preset", "tiny", "--steps", "3", "--quiet"]
    assert main(base + ["-o", str(out), "--teacher", "coordnet", "--teacher-steps", "2"]) == 0
    printed = capsys.readouterr().out
    assert "held-out check" in printed and "hyperinr evaluate" in printed
    meta = HyperINR.load(out).cfg.metadata
    assert meta["teacher"] == "coordnet" and meta["trained"] == "distilled" and meta["gt_fraction"] == 0.5
    assert "gap_db" in meta["heldout"] and (tmp_path / "c.teacher.h5").exists()
    assert (tmp_path / "c.distill.h5").exists()
    # --teacher none on frames over the memory budget: streamed from the file, not refused.
    out2 = tmp_path / "n.h5"
    big = tiny_series(tmp_path / "b.h5", n_frames=17, stride=2)  # 9 training frames of 1344 bytes
    base[2] = big
    assert main(base + ["-o", str(out2), "--teacher", "none", "--memory-budget", "7K"]) == 0
    meta2 = HyperINR.load(out2).cfg.metadata
    assert meta2["trained"] == "direct" and "heldout" in meta2
    # auto on the same budget needs the frames in memory: a clear error naming the way out.
    assert main(base + ["-o", str(tmp_path / "a.h5"), "--memory-budget", "7K"]) == 2
    assert "coordnet or none stream frames" in capsys.readouterr().err


def test_auto_with_a_network_candidate_trains_it_in_memory(tmp_path, capsys):
    data = tiny_series(tmp_path / "s.h5", n_frames=13, stride=2)
    out = tmp_path / "m.h5"
    args = ["train", "--data", data, "-o", str(out), "--preset", "tiny", "--steps", "8", "--quiet"]
    assert main(args + ["--candidates", "hashinr,lerp,none"]) == 0
    rows = {r["name"]: r for r in HyperINR.load(out).cfg.metadata["selection"]["rows"]}
    assert "hashinr" in rows and np.isfinite(rows["hashinr"]["psnr_mean"])


def test_bench_teachers_scores_every_teacher_and_a_model_on_the_held_out_frames(tmp_path, capsys):
    """`hyperinr bench teachers` builds each teacher from the training frames and scores it, and a trained
    model beside them, on every held-out frame (LERP exact on this series' linear motion is not assumed)."""
    import json

    from hyperinr_app.cli import main
    from tests.core.training_helpers import tiny_series

    data = tiny_series(tmp_path / "s.h5", n_frames=9)
    model = tmp_path / "m.hinr"
    assert main(["train", "--data", data, "-o", str(model), "--teacher", "lerp", "--steps", "3",
                 "--preset", "tiny", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["bench", "teachers", "--data", data, "--teachers", "lerp,flow", "--model", str(model)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["frames"] == {"train": 5, "held_out": 4, "shape": [6, 7, 8]}
    for kind in ("lerp", "flow"):
        row = out["teachers"][kind]
        assert np.isfinite(row["psnr_mean"]) and row["psnr_worst"] <= row["psnr_mean"] and row["build_s"] >= 0
    assert out["model"]["metadata"]["teacher"] == "lerp" and out["model"]["metadata"]["steps"] == 3
    assert out["model"]["psnr_worst"] <= out["model"]["psnr_mean"]


@pytest.mark.parametrize("n_dims", [1, 2])
def test_the_final_student_starts_where_the_race_winner_ends(n_dims):
    """warm_start: every encoder of the student on all frames is what the race's student (fitted to fewer
    frames) generates at its position, and the shared MLP is the same: it predicts what that one does."""
    from hyperinr_core.train.budget import Budget
    from hyperinr_core.train.presets import preset_for
    from hyperinr_core.train.student import StudentSpec, hyperinr_predictor, train_student, warm_start

    rng = np.random.default_rng(0)
    info = FieldInfo(
        frame_shape=[6, 7, 8],
        param_names=["t", "s"][:n_dims],
        param_lo=[0.0] * n_dims,
        param_hi=[1.0] * n_dims,
    )
    u_all = np.linspace(0, 1, 7)[:, None] if n_dims == 1 else rng.random((9, 2))
    frames = rng.random((len(u_all), 6, 7, 8)).astype(np.float32)
    fit = np.arange(0, len(u_all), 2) if n_dims == 1 else np.arange(6)
    spec = StudentSpec(info, preset_for("tiny", torch.device("cpu")), progress=False)
    source, _ = train_student(spec, frames[fit], u_all[fit], None, None, Budget(steps=20), "race none")
    model = warm_start(spec, u_all, source)
    assert model.n_encoders > source.n_encoders
    assert torch.equal(model.mlp.params, source.mlp.params)
    want = hyperinr_predictor(source, (6, 7, 8), False)
    got = hyperinr_predictor(model, (6, 7, 8), False)
    for p in model.encoder_positions:
        np.testing.assert_allclose(got(p), want(p), atol=1e-5)
    fresh = train_student(spec, frames, u_all, None, None, Budget(steps=1), "direct")[0]
    assert not torch.equal(fresh.mlp.params, source.mlp.params)  # a fresh student is not a warm one
    model, _ = train_student(spec, frames, u_all, None, None, Budget(steps=2), "direct", model=model)
    assert model.n_encoders == fresh.n_encoders
