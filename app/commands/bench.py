"""``hyperinr bench NAME``: run a benchmark from bench/ and print its JSON."""

from __future__ import annotations

import argparse
import importlib
import importlib.util

BENCHES = ("generation", "inference", "render", "interactive", "latency", "train", "teachers")


def _available() -> list[str]:
    found = []
    for name in BENCHES:
        try:
            spec = importlib.util.find_spec(f"bench.{name}")
        except ModuleNotFoundError:
            spec = None
        if spec is not None:
            found.append(name)
    return found


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="run a benchmark (prints JSON)", add_help=False)
    p.add_argument("name", nargs="?", help=f"one of: {', '.join(BENCHES)}")
    p.add_argument("rest", nargs=argparse.REMAINDER, help="options of the benchmark (see NAME --help)")
    p.add_argument("-h", "--help", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:

    available = _available()
    if args.name is None or (args.help and args.name is None):
        print("usage: hyperinr bench NAME [options]\n\nbenchmarks: " + ", ".join(available))
        return 0
    if args.name not in available:
        from hyperinr_core.errors import HyperINRError

        raise HyperINRError(f"unknown benchmark {args.name!r}; available: {', '.join(available)}")
    mod = importlib.import_module(f"bench.{args.name}")
    return mod.main((["--help"] if args.help else []) + list(args.rest))
