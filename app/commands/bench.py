"""``hyperinr bench NAME``: run a benchmark from bench/ and print its JSON.

bench/ lives in the repository and is not installed (docs/ARCHITECTURE.md, "Installed names"): the command
finds it beside the app's folder in a checkout (an editable install) or in the working directory.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from pathlib import Path

from hyperinr_app.commands import add_backend_option

BENCHES = (
    "generation", "inference", "render", "export", "interactive", "latency", "train", "teachers",
    "napari_reader", "gpu", "kernels", "faults", "soak", "formats",
)


def checkout_root() -> Path | None:
    """The repository holding bench/: the parent of the app's folder (editable install), or the working
    directory; None for an installed copy without a checkout."""
    import hyperinr_app

    for root in (Path(hyperinr_app.__file__).resolve().parents[1], Path.cwd()):
        if (root / "bench" / "__init__.py").is_file():
            return root
    return None


def _available() -> list[str]:
    root = checkout_root()
    if root is None:
        return []
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
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
    add_backend_option(p)
    p.add_argument("name", nargs="?", help=f"one of: {', '.join(BENCHES)}")
    p.add_argument("rest", nargs=argparse.REMAINDER, help="options of the benchmark (see NAME --help)")
    p.add_argument("-h", "--help", action="store_true")
    p.set_defaults(func=run)


def summary(name: str) -> str:
    """The first line of benchmark ``name``'s docstring, read from its source (nothing is imported)."""
    import ast

    root = checkout_root()
    try:
        text = (root / "bench" / f"{name}.py").read_text(encoding="utf-8")
        doc = ast.get_docstring(ast.parse(text)) or ""
    except (OSError, SyntaxError, TypeError):
        return ""
    first = " ".join(doc.strip().split("\n\n")[0].split())
    first = first.split(". ")[0].rstrip(".")
    return first if len(first) <= 96 else first[:95].rsplit(" ", 1)[0] + " ..."


def run(args: argparse.Namespace) -> int:
    available = _available()
    if args.name is None or (args.help and args.name is None):
        lines = ["usage: hyperinr bench [--backend NAME] NAME [options]   (hyperinr bench NAME --help: its options)",
                 "",
                 "Benchmarks print JSON (medians of several runs, the machine described; --json FILE also "
                 "writes it).", ""]
        if available:
            width = max(len(n) for n in available)
            lines += [f"  {n:<{width}}  {summary(n)}" for n in available]
        else:
            lines.append("benchmarks: none (bench/ is in the repository, not installed)")
        print("\n".join(lines))
        return 0
    if args.name not in available:
        from hyperinr_core.errors import HyperINRError

        if not available:
            raise HyperINRError(
                "benchmarks run from a checkout of the repository (bench/ is not installed): clone it, "
                "install it with ./run.sh setup and run hyperinr bench there"
            )
        raise HyperINRError(f"unknown benchmark {args.name!r}; available: {', '.join(available)}")
    if "--backend" in args.rest:  # also after the benchmark's name: hyperinr bench NAME --backend triton
        known, args.rest = _backend_parser().parse_known_args(args.rest)
        _apply_backend(known.backend, None)
    mod = importlib.import_module(f"bench.{args.name}")
    return mod.main((["--help"] if args.help else []) + list(args.rest))


def _backend_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    add_backend_option(p)
    return p


def _apply_backend(name: str | None, device) -> None:
    from hyperinr_core.model.backends import force_backend

    force_backend(name, device)
