"""A background compilation still running when the program ends: the interpreter waits for it instead of
tearing torch down under it (which could abort the process: 'terminate called without an active
exception')."""

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_program_ending_during_a_background_compile_exits_cleanly():
    code = textwrap.dedent(
        """
        import atexit
        from hyperinr_core import HashGridConfig, MLPConfig
        from hyperinr_core.model.fast import FastINREvaluator, compile_threads

        enc, mlp = HashGridConfig(3, 2, 2, 8, 4, 2.0), MLPConfig(4, 1, 16, 2)
        ev = FastINREvaluator(enc, mlp, compile=True, chunk=256, background=True)
        threads = compile_threads()
        print("threads", len(threads), "daemon", any(t.daemon for t in threads), flush=True)
        atexit.register(lambda: print("at exit: compile thread alive", any(t.is_alive() for t in threads),
                                      flush=True))
        """
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, (r.returncode, r.stderr[-2000:])
    assert "terminate called" not in r.stderr
    assert "threads 1 daemon False" in r.stdout, r.stdout
    # joined before the interpreter went down, not cut off in the middle
    assert "at exit: compile thread alive False" in r.stdout, r.stdout


def test_join_compile_threads_waits_for_them():
    from hyperinr_core import HashGridConfig, MLPConfig
    from hyperinr_core.model.fast import FastINREvaluator, compile_threads, join_compile_threads

    ev = FastINREvaluator(HashGridConfig(3, 2, 2, 8, 4, 2.0), MLPConfig(4, 1, 16, 2), compile=True, chunk=128,
                          background=True)
    assert join_compile_threads(timeout=600)
    assert not compile_threads() and ev.ready.is_set()
