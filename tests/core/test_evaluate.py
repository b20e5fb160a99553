"""Evaluation: per-frame scores, JSON and plot; the evaluate/distill/train CLIs on bad input print one
line, exit 2 and never overwrite an existing output."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from hyperinr_app.cli import main
from hyperinr_core.data.dataset import open_dataset
from hyperinr_core.eval.baselines import Lerp
from hyperinr_core.eval.evaluate import Method, evaluate, format_table, write_json
from hyperinr_core.train.coordnet_teacher import TeacherJob, train_teacher
from hyperinr_core.train.distill import DistillJob, distill

from .training_helpers import one_thread, tiny_images, tiny_series

_one_thread = pytest.fixture(autouse=True, scope="module")(one_thread)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("eval")
    data = tiny_series(d / "s.h5")
    train_teacher(TeacherJob(data, str(d / "t.h5"), preset="tiny", steps=2, progress=False))
    distill(
        DistillJob(data, str(d / "m.h5"), teacher=str(d / "t.h5"), preset="tiny", steps=2, progress=False)
    )
    return d, data


def test_evaluate_scores_held_out_frames_and_exact_methods(models):
    d, data = models
    with open_dataset(data) as ds:
        truth = Method(
            "truth", lambda u: ds.frame(int(np.argmin(np.abs(ds.normalized_params()[:, 0] - u[0]))))
        )
        rep = evaluate(ds, [truth, Method("LERP", Lerp(ds).predict)], progress=False)
        assert [r["frame"] for r in rep.rows] == list(ds.test_indices)
        s = rep.summary()
        assert math.isinf(s["truth"]["psnr_mean"]) and s["truth"]["ssim_mean"] == pytest.approx(1.0)
        assert 10 < s["LERP"]["psnr_mean"] < 200 and s["LERP"]["frames"] == len(ds.test_indices)
    table = format_table(rep)
    assert "mean" in table and "LERP PSNR" in table
    write_json(rep, d / "r.json")
    back = json.loads((d / "r.json").read_text())
    assert back["frames"][0]["truth"]["psnr"] is None  # +inf is written as null, the JSON stays valid


def test_cli_evaluate_table_json_plot(models, capsys):
    d, data = models
    pytest.importorskip("matplotlib")
    args = [
        "evaluate",
        "--model",
        str(d / "m.h5"),
        "--data",
        data,
        "--teacher",
        str(d / "t.h5"),
        "--json",
        str(d / "e.json"),
        "--plot",
        str(d / "e.png"),
        "--quiet",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "HyperINR PSNR" in out and "teacher PSNR" in out and "LERP PSNR" in out
    rep = json.loads((d / "e.json").read_text())
    assert set(rep["summary"]) == {"HyperINR", "teacher", "LERP"}
    assert (d / "e.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the outputs exist now: a second run refuses to overwrite them
    before = (d / "e.json").read_bytes()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "exists" in err and (d / "e.json").read_bytes() == before


def test_cli_bad_inputs_are_one_line_exit_2(models, tmp_path, capsys):
    d, data = models
    trunc = tmp_path / "trunc.h5"
    trunc.write_bytes((d / "m.h5").read_bytes()[:2000])
    images = tiny_images(tmp_path / "img.h5")
    cases = [
        ["evaluate", "--model", str(trunc), "--data", data],  # truncated model
        ["evaluate", "--model", data, "--data", data],  # a dataset where a model belongs
        ["evaluate", "--model", str(d / "m.h5"), "--data", images],  # model for other data
        ["evaluate", "--model", str(d / "m.h5"), "--data", data, "--frames", "1,99"],
        ["distill", "--teacher", str(trunc), "--data", data, "-o", str(tmp_path / "o.h5")],
        ["distill", "--teacher", str(d / "m.h5"), "--data", data, "-o", str(tmp_path / "o.h5")],  # wrong kind
        ["distill", "--direct", "--data", data, "-o", str(d / "m.h5")],  # existing output
        ["train", "--data", str(trunc), "-o", str(tmp_path / "o.h5")],
    ]
    before = (d / "m.h5").read_bytes()
    for args in cases:
        capsys.readouterr()
        assert main(args + ["--quiet"]) == 2, args
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("hyperinr ") and "Traceback" not in err, (args, err)
    assert (d / "m.h5").read_bytes() == before
    assert not (tmp_path / "o.h5").exists()


def test_cli_train_pipeline_and_resume_reuses_finished_stages(tmp_path, capsys):
    data = tiny_series(tmp_path / "s.h5")
    out = tmp_path / "m.h5"
    base = ["train", "--data", data, "-o", str(out), "--preset", "tiny", "--teacher", "coordnet", "--quiet"]
    assert main(base + ["--teacher-steps", "2", "--steps", "2"]) == 0
    assert out.exists() and (tmp_path / "m.teacher.h5").exists() and (tmp_path / "m.distill.h5").exists()
    capsys.readouterr()
    assert main(base + ["--steps", "2"]) == 2  # outputs exist
    assert (
        main(
            [
                "train",
                "--data",
                data,
                "-o",
                str(tmp_path / "h.h5"),
                "--baseline",
                "hashinr",
                "--preset",
                "tiny",
                "--steps",
                "2",
                "--quiet",
            ]
        )
        == 0
    )
    out.unlink()
    assert main(base + ["--resume", "--steps", "2"]) == 0  # reuses teacher and distillation set
    assert "reusing" in capsys.readouterr().out or out.exists()


def test_a_dataset_of_other_bounds_is_evaluated_at_its_own_parameters_and_named(tmp_path):
    """A model evaluated on data it was not trained on: frames are predicted at the dataset's parameter values
    (not at its normalized ones mapped onto the model's range), a difference in bounds or grid is a warning,
    and frames outside the model's range are an error (never clamped)."""
    import subprocess
    import sys

    import torch

    from hyperinr_core import HyperINR
    from hyperinr_core.data.dataset import open_dataset
    from hyperinr_core.data.dataset_writer import write_dataset
    from hyperinr_core.eval.evaluate import load_method

    model_path = "assets/demo_tgv.hinr"
    frames = np.random.default_rng(0).random((4, 6, 6, 6), dtype=np.float32)
    inside, outside = tmp_path / "inside.h5", tmp_path / "outside.h5"
    mask = np.array([True, False, True, False])
    write_dataset(inside, "tsr", ["t"], [1.0], [3.9], np.linspace(1.0, 3.9, 4), frames, train_mask=mask)
    write_dataset(outside, "tsr", ["t"], [0.0], [12.0], np.linspace(0.0, 12.0, 4), frames, train_mask=mask)
    with open_dataset(inside) as ds:
        method = load_method(model_path, ds, torch.device("cpu"))
        u = ds.normalized_params()[3]
        got = method.predict(u)
    model = HyperINR.load(model_path)
    want = model.generate([3.9]).sample_grid((6, 6, 6)).numpy()
    lo, hi = model.cfg.value_range
    np.testing.assert_allclose(got, want * (hi - lo) + lo, rtol=1e-4, atol=1e-4 * (hi - lo))
    assert any("t in [1, 3.9]" in n for n in method.notes) and any("6x6x6" in n for n in method.notes)
    cli = [sys.executable, "-m", "hyperinr_app.cli", "evaluate", "--model", model_path, "--data"]
    r = subprocess.run([*cli, str(inside)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "warning: " in r.stderr and "(the model's: [0, 10])" in r.stderr, r.stderr
    r = subprocess.run([*cli, str(outside)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "outside the range [0, 10]" in r.stderr and r.stderr.count("\n") == 1, r.stderr
