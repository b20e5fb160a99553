"""hyperinr_core.fileio: temporaries leave nothing behind, even when a Ctrl-C lands in their cleanup."""

from pathlib import Path

import pytest

from hyperinr_core import fileio


def test_a_ctrl_c_during_the_removal_of_a_temporary_finishes_it_first(tmp_path, monkeypatch):
    """The fault suite once found a writability probe left by a SIGTERM that landed while it was removed."""
    real = Path.unlink
    calls = []

    def unlink_interrupted_once(self, *a, **k):
        calls.append(self.name)
        if len(calls) == 1:
            raise KeyboardInterrupt  # the signal lands as the removal starts
        return real(self, *a, **k)

    monkeypatch.setattr(Path, "unlink", unlink_interrupted_once)
    with pytest.raises(KeyboardInterrupt):
        fileio.prepare_output(tmp_path / "out.h5")  # probes the folder with a temporary file
    assert list(tmp_path.iterdir()) == [] and len(calls) >= 2  # interrupted, then finished


def test_a_temporary_that_cannot_be_removed_is_named_not_raised(tmp_path, monkeypatch, caplog):
    target = tmp_path / "x.png"

    def denied(self, *a, **k):
        raise PermissionError(13, "Permission denied")

    with pytest.raises(ValueError, match="the writer failed"):
        with fileio.atomic_path(target) as tmp:
            tmp.write_bytes(b"partial")
            monkeypatch.setattr(Path, "unlink", denied)
            raise ValueError("the writer failed")  # the error to report, not the cleanup's
    assert "could not remove the temporary" in caplog.text and tmp.name in caplog.text
    assert not target.exists()
