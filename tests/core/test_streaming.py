import time

import numpy as np
import pytest

from hyperinr_core.data.dataset_writer import write_dataset
from hyperinr_core.data.streaming import ResidentFrames


@pytest.fixture
def series(tmp_path):
    frames = np.stack([np.full((6, 6, 6), i, np.float32) for i in range(12)])
    path = tmp_path / "s.h5"
    write_dataset(path, "tsr", ["t"], [0.0], [11.0], np.arange(12.0)[:, None], frames)
    return path


def test_everything_resident_when_it_fits(series):
    with ResidentFrames(series, range(12), budget_bytes=None) as rf:
        assert not rf.streaming and rf.loads == 12
        idx, arrs = rf.sample(50, np.random.default_rng(0))
        assert all(float(a[0, 0, 0]) == i for i, a in zip(idx, arrs))


def test_streaming_stays_under_budget_and_visits_every_frame(series):
    budget = 3 * 6**3 * 4
    with ResidentFrames(series, range(12), budget_bytes=budget, seed=1) as rf:
        assert rf.streaming and rf.capacity == 3 and rf.resident_bytes() <= budget
        seen = set()
        rng = np.random.default_rng(0)
        deadline = time.monotonic() + 20
        while len(seen) < 12 and time.monotonic() < deadline:
            idx, arrs = rf.sample(4, rng)
            for i, a in zip(idx, arrs):
                assert float(a[0, 0, 0]) == i  # the array served is the frame it claims to be
            seen.update(idx.tolist())
            time.sleep(0.002)
        assert seen == set(range(12))
        assert len(rf._slots) == 3


def test_budget_smaller_than_a_frame_is_an_error(series):
    with pytest.raises(ValueError, match="smaller than one frame"):
        ResidentFrames(series, range(12), budget_bytes=100)
