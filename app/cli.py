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
    "app.commands.data",
    "app.commands.model",
    "app.commands.train",
    "app.commands.evaluate",
    "app.commands.render",
    "app.commands.export",
    "app.commands.demo",
    "app.commands.bench",
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


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    from hyperinr_core.errors import HyperINRError

    try:
        return int(args.func(args) or 0)
    except HyperINRError as exc:
        print(f"hyperinr {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"hyperinr {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
