"""``hyperinr``: the command-line tool.

Errors caused by the user's input (:class:`hyperinr_core.errors.HyperINRError`, including every malformed
file) print one line and exit with code 2; Ctrl-C exits with 130 after the command has saved what it can.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# Subcommand modules in help order. A module that is not present in this build is skipped.
COMMAND_MODULES = (
    "hyperinr_app.commands.data",
    "hyperinr_app.commands.model",
    "hyperinr_app.commands.train",
    "hyperinr_app.commands.evaluate",
    "hyperinr_app.commands.render",
    "hyperinr_app.commands.export",
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
    import os

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


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    from hyperinr_core.errors import HyperINRError

    try:
        apply_backend(args)
        return int(args.func(args) or 0)
    except HyperINRError as exc:
        print(f"hyperinr {args.command}: error: {exc.render(cli_flag)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        hint = " (run the same command with --resume to continue)" if hasattr(args, "resume") else ""
        print(f"hyperinr {args.command}: interrupted{hint}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
