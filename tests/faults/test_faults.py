"""Faults injected at seeded random moments (``bench/faults.py``, small): SIGINT, SIGTERM, SIGKILL, a full
disk and a folder turning read-only during train, data import, export-frame, export-animation (PNGs and MP4)
and decode. Nothing corrupt under a final name,
nothing left behind after SIGINT/SIGTERM or a write error, no hang, no traceback, and the next run succeeds
(training resumed with --steps ends bit-identical to an uninterrupted run)."""

import pytest

from bench.faults import COMMANDS, run


@pytest.fixture(scope="module")
def table():
    return run(moments=10, seed=11)["table"]


@pytest.mark.parametrize("command", COMMANDS)
def test_faults_leave_nothing_corrupt_or_behind_and_the_next_run_succeeds(table, command):
    rows = [r for r in table if r["command"] == command and "fault" in r]
    assert {r["fault"] for r in rows} == {"SIGINT", "SIGTERM", "SIGKILL", "full disk", "read-only"}
    assert sum(r["runs"] for r in rows) == 12  # ten signals in turn, one full disk, one read-only folder
    assert sum(r["landed"] for r in rows) >= 3  # faults that stopped a run, not only finished ones
    bad = [p for r in rows for p in r["problems"]]
    assert not bad, "\n".join(bad)
    assert all(r[k] == 0 for r in rows for k in ("corrupt", "leftover", "hang", "traceback", "rerun_failed"))
