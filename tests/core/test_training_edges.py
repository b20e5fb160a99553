"""What a user sees of training beyond the loss: the progress bar's units and a damaged checkpoint."""

from __future__ import annotations

import pytest

from hyperinr_app.cli import main
from hyperinr_core.train.checkpoint import checkpoint_path

from .training_helpers import one_thread, tiny_series

_one_thread = pytest.fixture(autouse=True, scope="module")(one_thread)


def test_a_time_budget_progress_bar_shows_seconds_not_a_seconds_per_second_rate(tmp_path, capsys):
    series = tiny_series(tmp_path / "series.h5")
    out = tmp_path / "t.h5"
    assert (
        main(["train-teacher", "--data", series, "-o", str(out), "--preset", "tiny", "--minutes", "0.01"])
        == 0
    )
    err = capsys.readouterr().err
    assert "train" in err or "teacher" in err  # the bar was shown
    assert "s/s" not in err and "it/s" not in err, err[-400:]


def test_a_damaged_checkpoint_on_resume_says_how_to_recover(tmp_path, capsys):
    series = tiny_series(tmp_path / "series.h5")
    out = tmp_path / "t.h5"
    ckpt = checkpoint_path(out)
    ckpt.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)  # a checkpoint cut short by a crash
    rc = main(
        [
            "train-teacher",
            "--data",
            series,
            "-o",
            str(out),
            "--preset",
            "tiny",
            "--steps",
            "2",
            "--resume",
            "--quiet",
        ]
    )
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1, err
    assert str(ckpt) in err and "delete" in err and "without --resume" in err


def test_a_one_frame_dataset_trains_without_a_teacher(tmp_path, capsys):
    """``data import`` accepts a single frame; ``train`` (teacher auto) fits it instead of ending in a
    traceback from an empty selection table."""
    import numpy as np

    from hyperinr_core import HyperINR
    from hyperinr_core.data.dataset_writer import write_dataset

    data, out = tmp_path / "one.h5", tmp_path / "m.h5"
    frame = np.random.default_rng(0).random((1, 8, 8, 8), dtype=np.float32)
    write_dataset(data, "tsr", ["t"], [0.0], [1.0], np.array([0.5]), frame)
    assert main(["train", "--data", str(data), "-o", str(out), "--preset", "tiny", "--steps", "3",
                 "--threads", "1"]) == 0
    text = capsys.readouterr().out
    assert "one training frame" in text and "chosen: none" in text
    model = HyperINR.load(out)
    assert model.cfg.metadata.get("teacher") in (None, "none")
    assert np.isfinite(model.generate([0.5]).sample_grid(4).numpy()).all()


def test_a_short_minutes_budget_is_kept(tmp_path):
    """``--minutes 0.05`` trains for about 3 s, not for a minimum of a minute."""
    from hyperinr_core import HyperINR

    data = tiny_series(tmp_path / "s.h5")
    out = tmp_path / "m.h5"
    assert main(["train", "--data", str(data), "-o", str(out), "--preset", "tiny", "--minutes", "0.05",
                 "--teacher", "none", "--threads", "1"]) == 0
    meta = HyperINR.load(out).cfg.metadata
    assert 0 < meta["train_seconds"] <= 3.5 and meta["steps"] >= 1
