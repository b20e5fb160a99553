"""``hyperinr``: the command-line tool.

Errors caused by the user's input (:class:`hyperinr_core.errors.HyperINRError`, including every malformed
file) print one line and exit with code 2; Ctrl-C exits with 130 after the command has saved what it can.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import sys
import time

from hyperinr_app.signals import interrupt_handlers, interrupted, restore

# Subcommand modules in help order. A module that is not present in this build is skipped.
COMMAND_MODULES = (
    "hyperinr_app.commands.data",
    "hyperinr_app.commands.model",
    "hyperinr_app.commands.train",
    "hyperinr_app.commands.evaluate",
    "hyperinr_app.commands.export",
    "hyperinr_app.commands.decode",
    "hyperinr_app.commands.demo",
    "hyperinr_app.commands.bench",
)


def _load(name: str):
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name == name:
            return None
        raise


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hyperinr",
        description="Train, evaluate, render and benchmark HyperINR models of parameterized volume data.",
    )
    parser.add_argument("--version", action="version", version="%(prog)s 0.1.0")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        mod = _load(name)
        if mod is not None:
            mod.register(sub)
    return parser


def cli_flag(setting: str, library: str) -> str:
    """How a setting named in a core error message is spelled on the command line."""
    return "--" + setting.replace("_", "-")


def apply_backend(args: argparse.Namespace) -> None:
    """Force the ``--backend`` a command was given, checked against its ``--device`` (an unavailable one
    is a one-line error before any work)."""
    name = getattr(args, "backend", None)
    if not name and not os.environ.get("HYPERINR_BACKEND"):
        return  # nothing to check: torch stays unloaded until the command needs it
    from hyperinr_core.device import pick_device
    from hyperinr_core.model.backends import force_backend, forced_backend

    forced_backend()  # a misspelt HYPERINR_BACKEND is an error before any work
    if not name:
        return

    device = getattr(args, "device", None)
    force_backend(name, pick_device(device) if device is not None or args.command != "bench" else None)


#: Options whose value may begin with "-" (a negative angle or size): argparse would take "-100x50" for an
#: option and answer "expected one argument"; such a value is joined to its option ("--size=-100x50") so that
#: the command's own check names the problem.
VALUE_OPTIONS = ("--size", "--light", "--camera", "--range", "--background", "--param", "--sweep",
                 "--resolution")


def join_dash_values(argv: list[str]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in VALUE_OPTIONS and i + 1 < len(argv) and argv[i + 1].startswith("-") and argv[i + 1] != "--" \
                and not argv[i + 1].startswith("--"):
            out.append(f"{a}={argv[i + 1]}")
            i += 2
            continue
        out.append(a)
        i += 1
    return out


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except KeyboardInterrupt:  # before the command started (while its modules load): nothing to clean up
        print("hyperinr: interrupted", file=sys.stderr)
        return 130


def _main(argv: list[str] | None) -> int:
    started = time.time()  # a --minutes budget counts from here: loading data and modules is part of it
    # Tensors over 2 MiB on transparent huge pages (the kernel's "madvise" mode): a training step allocates
    # and first touches tens of MiB of gradients, and 4 KiB page faults cost a tenth of a CPU step.
    os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")
    parser = build_parser()
    args = parser.parse_args(join_dash_values(sys.argv[1:] if argv is None else list(argv)))
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    args.started = started
    from hyperinr_core.errors import HyperINRError

    hooks, undo_signals = (sys.unraisablehook, sys.excepthook), None
    try:  # a signal landing while the handlers go in still finds the finally below
        sys.unraisablehook, sys.excepthook = _quiet_hdf5_teardown, _quiet_hdf5_dealloc
        undo_signals = interrupt_handlers()  # after the hooks: a swallowed interrupt is sent again first
        apply_backend(args)
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return _stopped(args, argv)
    except Exception as exc:
        if interrupted():  # the signal came first (a library may have turned it into its own error)
            return _stopped(args, argv)
        if isinstance(exc, HyperINRError):
            print(f"hyperinr {args.command}: error: {exc.render(cli_flag)}", file=sys.stderr)
            return 2
        message = _write_failure(exc, getattr(args, "out", None)) if isinstance(exc, OSError) else None
        if message is None:
            raise
        print(f"hyperinr {args.command}: error: {message}", file=sys.stderr)
        if argv is None:  # HDF5 tears down badly after a failed write: end here, outputs already cleaned up
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(2)
        return 2
    finally:
        restore(undo_signals)
        sys.unraisablehook, sys.excepthook = hooks


def _stopped(args: argparse.Namespace, argv: list[str] | None) -> int:
    """Ctrl-C or SIGTERM: one line, rc 130 (outputs already cleaned up on the way out)."""
    hint = " (run the same command with --resume to continue)" if hasattr(args, "resume") else ""
    print(f"hyperinr {args.command}: interrupted{hint}", file=sys.stderr)
    if argv is None:  # the program itself, not a caller's main([...]): end without waiting on compiles
        _exit_past_compiles(130)
    return 130


def _write_failure(exc: OSError, out) -> str | None:
    """One line for an output that could not be written (a full disk, a folder that turned read-only), or
    None for other errors. h5py reports the C library's errno only in its message."""
    text, out = str(exc), out or "output"
    h5_errno = {n for n in (13, 27, 28, 30) if f"errno = {n}," in text}
    if exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT) or h5_errno & {27, 28}:
        return (f"{out}: could not be written: the disk is full (or a file-size limit was reached); no "
                "partial file is left under that name")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS) or h5_errno & {13, 30}:
        where = f" ({exc.filename})" if exc.filename else ""
        return (f"{out}: could not be written: permission denied{where}: is its folder read-only? No partial "
                "file is left under that name")
    return None


def _quiet_hdf5_teardown(unraisable) -> None:
    """h5py reports, as "Exception ignored", every handle it cannot release after a failed write (a full
    disk); the command has said what happened in one line."""
    if "h5py" in repr(getattr(unraisable, "object", "")) or "h5py" in str(unraisable.exc_value):
        return
    sys.__unraisablehook__(unraisable)


def _quiet_hdf5_dealloc(kind, value, tb) -> None:
    """The traceback h5py's handles print (through ``sys.excepthook``) when HDF5 cannot release them after
    a failed write; anything else goes to the usual hook."""
    if isinstance(value, RuntimeError) and "decrement id ref count" in str(value):
        return
    sys.__excepthook__(kind, value, tb)


def _exit_past_compiles(code: int) -> None:
    """Exit now when INR evaluation (and with it ``torch.compile``) has been in use: what was interrupted has
    already removed its temporaries and saved its checkpoint, and tearing the interpreter down while a
    background compile runs, or while a worker thread still starts one, aborts the process ("terminate
    called without an active exception", exit code 134) or waits for it."""
    if "hyperinr_core.model.fast" not in sys.modules:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
