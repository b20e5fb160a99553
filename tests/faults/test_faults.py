"""Faults injected at seeded random moments (``bench/faults.py``, small): SIGINT, SIGTERM, SIGKILL and a full
disk during train, data import, export-frame, export-animation and decode. Nothing corrupt under a final name,
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
    assert {r["fault"] for r in rows} == {"SIGINT", "SIGTERM", "SIGKILL", "full disk"}
    assert sum(r["runs"] for r in rows) == 11  # ten signals in turn, one full disk
    bad = [p for r in rows for p in r["problems"]]
    assert not bad, "\n".join(bad)
    assert all(r[k] == 0 for r in rows for k in ("corrupt", "leftover", "hang", "traceback", "rerun_failed"))
