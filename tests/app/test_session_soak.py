"""The explorer session (no Qt) under 10,000 random parameter, light, transfer-function and shadow-mode
changes with model switches (``bench/soak.py``): no exception, a steady thread count, bounded memory."""

from bench.soak import run


def test_ten_thousand_random_changes_leave_no_error_no_thread_and_no_memory_behind():
    r = run(10_000, seed=5)
    assert r["n_errors"] == 0, r["errors"]
    assert r["volumes_received"] > 500  # the worker served the stream, not one request per burst
    assert r["threads_at_end"] == r["threads_after_warmup"]  # model switches replace their worker
    assert r["threads_after_close"] < r["threads_at_end"]  # and closing the session stops it
    assert r["rss_mb_at_end"] - r["rss_mb_after_warmup"] < 50, r
