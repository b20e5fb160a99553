"""Faults at seeded random moments: SIGINT, SIGTERM and SIGKILL during the commands that write, and a full
disk (a file-size limit), then what each left behind (``hyperinr bench faults``; ``tests/faults`` runs it
small).

For every command, a reference run first (how long it takes, and what it makes); then, per moment, the
command again, killed at a random moment of that span (or run under a file-size limit), and checked:

- **corrupt**: a file under the final name that is not complete and valid;
- **leftover**: after SIGINT or SIGTERM (or a write error), anything besides the final outputs (a temporary
  file or folder);
- **hang**: the command still running 10 s after the signal;
- **traceback**: the command ended in a traceback instead of one line (a full disk, a signal);
- **rerun**: the next run (``--resume`` for training, ``--force`` otherwise) fails, or training resumed with
  ``--steps`` ends other than bit-identical to the reference.

A fork server imports the program once and forks each run, so a moment costs the command, not an import.
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

HANG_S = 10.0

_SERVER = r"""
import io, json, os, resource, signal, sys, time, traceback
import numpy, torch, h5py
import hyperinr_app.cli as cli
from hyperinr_app.commands import data, decode, export, train  # noqa: F401 (imported once, forked often)
import hyperinr_core.train.pipeline, hyperinr_core.data.importers  # noqa: F401
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
                if req.get("fsize"):
                    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
                    resource.setrlimit(resource.RLIMIT_FSIZE, (req["fsize"], req["fsize"]))
                rc = cli.main(req["argv"])
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

    def start(self, argv: list[str], cwd: Path, fsize: int | None = None) -> int:
        return self._ask(
            {"op": "run", "argv": argv, "cwd": str(cwd), "log": str(cwd / "run.log"), "fsize": fsize}
        )["pid"]

    def wait(self, pid: int, timeout: float) -> int | str:
        return self._ask({"op": "wait", "pid": pid, "timeout": timeout})["rc"]

    def run(self, argv: list[str], cwd: Path, timeout: float = 600.0, fsize: int | None = None) -> int | str:
        return self.wait(self.start(argv, cwd, fsize), timeout)

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


@dataclass
class Case:
    """One command under faults: its arguments in a fresh folder, what its outputs are, and how to check them.

    ``check(folder) -> problem or None`` looks at the final outputs (absent is fine); ``rerun(folder)`` the
    arguments of the next run; ``same(folder) -> problem or None`` compares the finished outputs with the
    reference (bit-identical where the command promises it).
    """

    name: str
    argv: list[str]
    outputs: tuple[str, ...]
    check: Callable[[Path], str | None]
    rerun: Callable[[Path], list[str]]
    same: Callable[[Path], str | None] = lambda _: None


@dataclass
class Tally:
    runs: int = 0
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
    server: ForkServer, case: Case, base: Path, moments: int, seed: int, fsize: int | None = None
) -> dict:
    """The reference run, then ``moments`` faulted runs (signals in turn) and, with ``fsize``, one run under a
    file-size limit of that many bytes. Returns the table row per fault kind."""
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
    shutil.rmtree(ref, ignore_errors=True)
    return {k: v for k, v in rows.items()}


def _tally(server: ForkServer, case: Case, folder: Path, pid: int, kind: str, t: Tally, wait: float = HANG_S):
    t.runs += 1
    rc = server.wait(pid, wait)
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
    if kind != "SIGKILL":
        left = _leftovers(folder, case.outputs)
        if left:
            t.leftover += 1
            t.problems.append(f"{where}: left behind {left}")
    rc2 = server.run(case.rerun(folder), folder)
    problem = f"rc {rc2}: {(folder / 'run.log').read_text()[-600:]}" if rc2 != 0 else case.same(folder)
    if problem:
        t.rerun_failed += 1
        t.problems.append(f"{where}: the next run: {problem}")


# -- the commands ------------------------------------------------------------------------------------------
def _series(path: Path, n: int = 9, shape=(8, 8, 8)) -> None:
    import numpy as np

    from hyperinr_core.data.dataset_writer import write_dataset

    z, y, x = np.meshgrid(*[np.linspace(0, 1, s) for s in shape], indexing="ij")
    t = np.linspace(0.0, 1.0, n)
    frames = np.stack(
        [np.exp(-((x - 0.3 - 0.4 * ti) ** 2 + (y - 0.5) ** 2 + (z - 0.5) ** 2) / 0.05) for ti in t]
    )
    mask = np.zeros(n, bool)
    mask[::2] = True
    write_dataset(path, "tsr", ["t"], [0.0], [1.0], t[:, None], frames.astype(np.float32), train_mask=mask)


def _loads(load: Callable[[Path], object], what: str) -> Callable[[Path], str | None]:
    """A check: an absent file is fine; one that ``load`` fails on is the finding, ``what`` says how."""

    def check(path: Path) -> str | None:
        if not path.exists():
            return None
        try:
            load(path)
        except Exception as exc:  # noqa: BLE001 (any failure to load is the finding)
            return f"{path.name} {what}: {exc}"
        return None

    return check


def _load_model(path: Path) -> None:
    from hyperinr_core.model.hyperinr import HyperINR

    HyperINR.load(path)


def _read_checkpoint(path: Path) -> None:
    from hyperinr_core.train.checkpoint import read_checkpoint

    read_checkpoint(path)


def _read_dataset(path: Path) -> None:
    from hyperinr_core.data.dataset import open_dataset

    with open_dataset(path) as ds:
        ds.frames(range(len(ds)))


def _read_png(path: Path) -> None:
    from PIL import Image

    with Image.open(path) as im:
        im.load()


def _read_h5(path: Path) -> None:
    import h5py

    with h5py.File(path, "r") as f:
        f.visititems(lambda _n, o: o[()] if isinstance(o, h5py.Dataset) else None)


_valid_model = _loads(_load_model, "does not load")
_valid_checkpoint = _loads(_read_checkpoint, "does not read")
_valid_dataset = _loads(_read_dataset, "does not open")
_valid_png = _loads(_read_png, "is not a whole PNG")
_valid_h5 = _loads(_read_h5, "does not read")


def _valid_pngs(folder: Path, n: int) -> str | None:
    if not folder.exists():
        return None
    pngs = sorted(folder.glob("*.png"))
    if len(pngs) != n:
        return f"{folder.name}/ holds {len(pngs)} of {n} frames"
    return next((p for p in map(_valid_png, pngs) if p), None)


def _same_model(ref: Path, name: str):
    def same(folder: Path) -> str | None:
        from hyperinr_core.model.hyperinr import HyperINR

        a, b = HyperINR.load(ref), HyperINR.load(folder / name)
        for (k, x), (_, y) in zip(
            sorted(a.state_dict().items()), sorted(b.state_dict().items()), strict=True
        ):
            if x.shape != y.shape or not bool((x == y).all()):
                return f"{name}: {k} differs from the uninterrupted run"
        return None

    return same


def cases(work: Path, which: tuple[str, ...], server: ForkServer) -> list[Case]:
    """The commands: train (checkpoints, --resume, bit-identical), data import, export-frame, decode."""
    import numpy as np

    data = work / "series.h5"
    _series(data)
    model = work / "model.h5"
    train_args = [
        "train",
        "--data",
        str(data),
        "-o",
        "m.h5",
        "--preset",
        "tiny",
        "--steps",
        "60",
        "--teacher",
        "none",
        "--seed",
        "3",
        "--quiet",
        "--threads",
        "1",
        "--checkpoint-every",
        "0.002",
    ]
    if server.run([*train_args[:4], str(model), *train_args[5:]], work) != 0:
        raise RuntimeError(f"the reference model did not train: {(work / 'run.log').read_text()[-2000:]}")
    frames = work / "frames"
    frames.mkdir(exist_ok=True)
    for i in range(12):
        np.save(frames / f"f{i:02d}.npy", np.random.default_rng(i).random((16, 16, 16), np.float32))
    out: list[Case] = []
    if "train" in which:
        out.append(
            Case(
                "train",
                train_args,
                ("m.h5", "m.ckpt.h5"),
                lambda f: _valid_model(f / "m.h5") or _valid_checkpoint(f / "m.ckpt.h5"),
                lambda f: train_args + (["--resume"] if (f / "m.ckpt.h5").exists() else ["--force"]),
                _same_model(model, "m.h5"),
            )
        )
    if "import" in which:
        imp = [
            "data",
            "import",
            *sorted(str(p) for p in frames.glob("*.npy")),
            "-o",
            "d.h5",
            "--quiet",
            "--params-range",
            "0:1",
            "--train-stride",
            "2",
        ]
        out.append(
            Case("import", imp, ("d.h5",), lambda f: _valid_dataset(f / "d.h5"), lambda f: imp + ["--force"])
        )
    if "export-frame" in which:
        exp = [
            "export-frame",
            "--model",
            str(model),
            "--renderer",
            "torch",
            "--size",
            "96x64",
            "--spp",
            "4",
            "--out",
            "f.png",
        ]
        out.append(
            Case(
                "export-frame",
                exp,
                ("f.png",),
                lambda f: _valid_png(f / "f.png"),
                lambda f: exp + ["--force"],
            )
        )
    if "export-animation" in which:
        anim = [
            "export-animation",
            "--model",
            str(model),
            "--renderer",
            "torch",
            "--size",
            "64x48",
            "--spp",
            "2",
            "--sweep",
            "param:t",
            "--range",
            "0,1",
            "--frames",
            "4",
            "--out",
            "frames",
        ]
        out.append(
            Case(
                "export-animation",
                anim,
                ("frames",),
                lambda f: _valid_pngs(f / "frames", 4),
                lambda f: anim + ["--force"],
            )
        )
    if "decode" in which:
        dec = ["decode", "--model", str(model), "--resolution", "48", "-o", "v.nc", "--quiet"]
        out.append(
            Case("decode", dec, ("v.nc",), lambda f: _valid_h5(f / "v.nc"), lambda f: dec + ["--force"])
        )
    return out


COMMANDS = ("train", "import", "export-frame", "export-animation", "decode")


def run(moments: int = 10, seed: int = 0, which=COMMANDS, fsize=16384) -> dict:
    root = Path(__file__).resolve().parents[1]
    table = []
    with tempfile.TemporaryDirectory(prefix="hyperinr-faults-") as tmp:
        base = Path(tmp)
        server = ForkServer(root)
        try:
            for case in cases(base, tuple(which), server):
                t0 = time.perf_counter()
                rows = run_case(server, case, base, moments, seed, fsize)
                for kind, t in rows.items():
                    table.append(
                        {
                            "command": case.name,
                            "fault": kind,
                            "runs": t.runs,
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
