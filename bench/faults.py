"""Faults at seeded random moments: SIGINT, SIGTERM and SIGKILL during the commands that write, a full disk
(a file-size limit) and a folder that turns read-only mid-run, then what each left behind (``hyperinr bench
faults``; ``tests/faults`` runs it small). The commands are in :mod:`bench.fault_cases`.

For every command, a reference run first (how long it takes, and what it makes); then, per moment, the
command again, killed at a random moment of that span (or run under a file-size limit, or with its folder
made read-only at a random moment: run as root, the run drops root's override of mode bits,
CAP_DAC_OVERRIDE, so the folder binds it), and checked:

- **landed**: runs the fault stopped (the others had finished first);
- **corrupt**: a file under the final name that is not complete and valid;
- **leftover**: after SIGINT or SIGTERM (or a write error), anything besides the final outputs (a temporary
  file or folder); in a folder that turned read-only nothing can be removed, so there a temporary the
  command's message does not name counts;
- **hang**: the command still running 10 s after the signal;
- **traceback**: the command ended in a traceback instead of one line and rc 2 (a full disk, a read-only
  folder, a signal);
- **rerun**: the next run (``--resume`` for training, ``--force`` otherwise) fails, or training resumed with
  ``--steps`` ends other than bit-identical to the reference.

A fork server imports the program once and forks each run (as the installed command runs, its arguments in
``sys.argv``), so a moment costs the command, not an import.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.fault_cases import COMMANDS, Case, cases

HANG_S = 10.0

_SERVER = r"""
import io, json, os, resource, signal, sys, time, traceback
import numpy, torch, h5py
import hyperinr_app.cli as cli
from hyperinr_app.commands import data, decode, export, train  # noqa: F401 (imported once, forked often)
import hyperinr_core.train.pipeline, hyperinr_core.data.importers  # noqa: F401
def drop_dac_override():
    # root ignores a folder's mode bits through CAP_DAC_OVERRIDE: without it, a read-only folder binds root
    # too (what it owns stays readable, so the program and its libraries still load)
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]
    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                    ("inheritable", ctypes.c_uint32)]
    header, data = Header(0x20080522, 0), (Data * 2)()
    if libc.capget(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capget")
    data[0].effective &= ~(1 << 1)
    data[0].permitted &= ~(1 << 1)
    if libc.capset(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capset")
out = sys.stdout
for line in sys.stdin:
    req = json.loads(line)
    if req["op"] == "run":
        out.flush(); sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            rc = 1
            try:
                os.chdir(req["cwd"])
                fd = os.open(req["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                os.dup2(fd, 1); os.dup2(fd, 2)
                sys.stdout = io.TextIOWrapper(os.fdopen(1, "wb", 0), write_through=True)
                sys.stderr = sys.stdout
                signal.signal(signal.SIGINT, signal.default_int_handler)
                if req.get("modes_bind") and os.geteuid() == 0:
                    drop_dac_override()
                if req.get("fsize"):
                    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
                    resource.setrlimit(resource.RLIMIT_FSIZE, (req["fsize"], req["fsize"]))
                sys.argv = ["hyperinr", *req["argv"]]
                rc = cli.main()  # as the installed command runs it (argv from sys.argv)
            except SystemExit as e:
                rc = e.code if isinstance(e.code, int) else 1
            except BaseException:
                traceback.print_exc()
                rc = 1
            os._exit(int(rc))
        print(json.dumps({"pid": pid}), file=out, flush=True)
    elif req["op"] == "wait":
        pid, deadline, rc = req["pid"], time.time() + req["timeout"], None
        while True:
            p, status = os.waitpid(pid, os.WNOHANG)
            if p:
                rc = os.waitstatus_to_exitcode(status)
                break
            if time.time() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                rc = "hang"
                break
            time.sleep(0.005)
        print(json.dumps({"rc": rc}), file=out, flush=True)
"""


class ForkServer:
    """One process that has imported the program; :meth:`start` forks a run of ``hyperinr ARGV`` from it."""

    def __init__(self, root: Path):
        env = {**os.environ, "PYTHONPATH": str(root) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        env.setdefault("OMP_NUM_THREADS", "1")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
        )

    def _ask(self, req: dict) -> dict:
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the fork server ended")
        return json.loads(line)

    def start(self, argv: list[str], cwd: Path, fsize: int | None = None, modes_bind: bool = False) -> int:
        """Fork a run; ``modes_bind``: without root's override of mode bits (a read-only folder binds)."""
        return self._ask(
            {"op": "run", "argv": argv, "cwd": str(cwd), "log": str(cwd / "run.log"), "fsize": fsize,
             "modes_bind": modes_bind}
        )["pid"]

    def wait(self, pid: int, timeout: float) -> int | str:
        return self._ask({"op": "wait", "pid": pid, "timeout": timeout})["rc"]

    def run(self, argv: list[str], cwd: Path, timeout: float = 600.0, fsize: int | None = None) -> int | str:
        return self.wait(self.start(argv, cwd, fsize), timeout)

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


@dataclass
class Tally:
    runs: int = 0
    landed: int = 0  # runs the fault stopped (rc != 0): the others had finished before it
    corrupt: int = 0
    leftover: int = 0
    hang: int = 0
    traceback: int = 0
    rerun_failed: int = 0
    problems: list[str] = field(default_factory=list)


SIGNALS = {"SIGINT": signal.SIGINT, "SIGTERM": signal.SIGTERM, "SIGKILL": signal.SIGKILL}


def _leftovers(folder: Path, outputs: tuple[str, ...]) -> list[str]:
    keep = set(outputs) | {"run.log"}
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


def _fresh(base: Path, name: str) -> Path:
    d = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=base))
    return d


def run_case(
    server: ForkServer, case: Case, base: Path, moments: int, seed: int, fsize: int | None = None,
    readonly: bool = True,
) -> dict:
    """The reference run, then ``moments`` faulted runs (signals in turn), with ``fsize`` one run under a
    file-size limit of that many bytes, and with ``readonly`` one run whose folder turns read-only at a random
    moment. Returns the table row per fault kind."""
    ref = _fresh(base, case.name)
    t0 = time.perf_counter()
    rc = server.run(case.argv, ref)
    span = time.perf_counter() - t0
    if rc != 0:
        raise RuntimeError(
            f"{case.name}: the reference run failed (rc {rc}): {(ref / 'run.log').read_text()[-2000:]}"
        )
    rng = random.Random(seed)
    rows: dict[str, Tally] = {}
    kinds = list(SIGNALS)
    for i in range(moments):
        kind = kinds[i % len(kinds)]
        folder = _fresh(base, case.name)
        pid = server.start(case.argv, folder)
        time.sleep(rng.uniform(0.0, span))
        try:
            os.kill(pid, SIGNALS[kind])
        except ProcessLookupError:
            pass
        _tally(server, case, folder, pid, kind, rows.setdefault(kind, Tally()))
        shutil.rmtree(folder, ignore_errors=True)
    if fsize:
        folder = _fresh(base, case.name)
        pid = server.start(case.argv, folder, fsize=fsize)
        _tally(server, case, folder, pid, "full disk", rows.setdefault("full disk", Tally()), wait=600.0)
        shutil.rmtree(folder, ignore_errors=True)
    if readonly:
        _read_only_run(server, case, base, rng.uniform(0.0, span), rows.setdefault("read-only", Tally()))
    shutil.rmtree(ref, ignore_errors=True)
    return {k: v for k, v in rows.items()}


def _read_only_run(server: ForkServer, case: Case, base: Path, moment: float, t: Tally) -> None:
    """The command's folder turns read-only ``moment`` seconds into a run (which, run as root, runs without
    root's override of mode bits); then writable again for the next run."""
    folder = _fresh(base, case.name)
    pid = server.start(case.argv, folder, modes_bind=True)
    time.sleep(moment)
    os.chmod(folder, 0o555)
    _tally(server, case, folder, pid, "read-only", t, wait=600.0, before_rerun=lambda: os.chmod(folder, 0o755))
    shutil.rmtree(folder, ignore_errors=True)


def _tally(server: ForkServer, case: Case, folder: Path, pid: int, kind: str, t: Tally, wait: float = HANG_S,
           before_rerun: Callable[[], None] | None = None):
    t.runs += 1
    rc = server.wait(pid, wait)
    t.landed += rc != 0
    where = f"{case.name} {kind} ({folder.name})"
    if rc == "hang":
        t.hang += 1
        t.problems.append(f"{where}: still running {wait:.0f} s after the signal")
    log = (folder / "run.log").read_text(errors="replace") if (folder / "run.log").exists() else ""
    if "Traceback" in log:
        t.traceback += 1
        t.problems.append(f"{where}: ended in a traceback: {log[-800:]}")
    problem = case.check(folder)
    if problem:
        t.corrupt += 1
        t.problems.append(f"{where}: {problem}")
    if rc not in (0, 2, "hang") and kind in ("full disk", "read-only"):
        t.traceback += 1
        t.problems.append(f"{where}: ended with rc {rc}, not one line and rc 2: {log[-400:]}")
    left = _leftovers(folder, case.outputs)
    if kind == "read-only":  # a temporary made before the folder turned read-only cannot be removed
        named = [p for p in left if p not in log]
        if named:
            t.leftover += 1
            t.problems.append(f"{where}: left {named} in the read-only folder without naming them")
    elif kind != "SIGKILL" and left:
        t.leftover += 1
        t.problems.append(f"{where}: left behind {left}")
    if before_rerun is not None:
        before_rerun()
    rc2 = server.run(case.rerun(folder), folder)
    problem = f"rc {rc2}: {(folder / 'run.log').read_text()[-600:]}" if rc2 != 0 else case.same(folder)
    if problem:
        t.rerun_failed += 1
        t.problems.append(f"{where}: the next run: {problem}")


def run(moments: int = 10, seed: int = 0, which=COMMANDS, fsize=16384, readonly: bool = True) -> dict:
    root = Path(__file__).resolve().parents[1]
    table = []
    with tempfile.TemporaryDirectory(prefix="hyperinr-faults-") as tmp:
        base = Path(tmp)
        server = ForkServer(root)
        try:
            for case in cases(base, tuple(which), server):
                t0 = time.perf_counter()
                rows = run_case(server, case, base, moments, seed, fsize, readonly)
                for kind, t in rows.items():
                    table.append(
                        {
                            "command": case.name,
                            "fault": kind,
                            "runs": t.runs,
                            "landed": t.landed,
                            "corrupt": t.corrupt,
                            "leftover": t.leftover,
                            "hang": t.hang,
                            "traceback": t.traceback,
                            "rerun_failed": t.rerun_failed,
                            "problems": t.problems[:5],
                        }
                    )
                table.append({"command": case.name, "seconds": round(time.perf_counter() - t0, 1)})
        finally:
            server.close()
    return {"bench": "faults", "moments": moments, "seed": seed, "table": table}


def main(argv: list[str] | None = None) -> int:
    from bench._common import machine_info

    p = argparse.ArgumentParser(prog="hyperinr bench faults", description=__doc__.splitlines()[0])
    p.add_argument("--moments", type=int, default=100, help="faulted runs per command (signals in turn)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--commands", default=",".join(COMMANDS))
    p.add_argument("--json", metavar="F", help="also write the JSON here")
    a = p.parse_args(argv)
    res = run(a.moments, a.seed, tuple(a.commands.split(",")))
    res["machine"] = machine_info()
    text = json.dumps(res, indent=2)
    print(text)
    if a.json:
        Path(a.json).write_text(text)
    bad = sum(
        r.get(k, 0)
        for r in res["table"]
        for k in ("corrupt", "leftover", "hang", "traceback", "rerun_failed")
    )
    return 1 if bad else 0
