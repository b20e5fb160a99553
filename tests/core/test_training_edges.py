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
