"""The CPU thread count: chosen from what other processes use now, and again during long work."""

import torch

from hyperinr_core.device import ThreadGovernor, configure_threads, retune_threads, threads_for


def test_threads_are_the_cores_other_processes_leave():
    assert threads_for(0.0, 2) == 2
    assert threads_for(0.9, 2) == 1
    assert threads_for(1.6, 2) == 1  # never fewer than one
    assert threads_for(0.3, 8) == 8 and threads_for(2.2, 8) == 6


class FakeMachine:
    """A clock and /proc/stat-like counters: ``run(seconds, others_cores, own_cores)`` advances them."""

    def __init__(self):
        self.now, self.busy, self.own = 0.0, 100.0, 10.0

    def run(self, seconds, others, own):
        self.now += seconds
        self.busy += seconds * (others + own)
        self.own += seconds * own

    def times(self):
        return self.busy, self.own

    def clock(self):
        return self.now


def test_the_governor_follows_a_job_that_ends_and_one_that_starts():
    """A job that has just ended (the load average still counts it) must not keep training on one thread for
    the whole run, and one that starts later must take a thread back."""
    m = FakeMachine()
    before = torch.get_num_threads()
    try:
        gov = ThreadGovernor(interval_s=20.0, n_cpu=2, times=m.times, clock=m.clock)
        torch.set_num_threads(1)  # chosen while the other job still ran
        m.run(5.0, others=0.0, own=1.0)
        assert gov.tick() is None and torch.get_num_threads() == 1  # not yet: the interval has not passed
        m.run(20.0, others=0.0, own=1.0)
        assert gov.tick() == 2 and torch.get_num_threads() == 2  # the machine is idle but for us
        m.run(25.0, others=1.0, own=1.0)
        assert gov.tick() == 1 and torch.get_num_threads() == 1  # another process took a core
        m.run(25.0, others=1.0, own=1.0)
        assert gov.tick() is None  # unchanged
    finally:
        torch.set_num_threads(before)


def test_explicit_threads_are_never_retuned():
    before = torch.get_num_threads()
    try:
        assert configure_threads(1) == 1
        assert retune_threads() is None and torch.get_num_threads() == 1
        n = configure_threads(None)  # automatic: measured now, not from the load average
        assert 1 <= n <= max(1, len(__import__("os").sched_getaffinity(0)))
    finally:
        torch.set_num_threads(before)
        configure_threads(before)
