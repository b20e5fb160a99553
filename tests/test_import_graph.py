"""The import graph of our own modules, read from the source: every ``import`` statement counts, those inside
functions included (import-linter only sees module-level imports and would miss a cycle that runs through a
deferred import). docs/ARCHITECTURE.md, "Layers and import direction"."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Import name -> folder in the repository (setup.cfg's package_dir).
PACKAGES = {
    "hyperinr_core": "hyperinr_core",
    "hyperinr_renderer": "renderer",
    "hyperinr_app": "app",
}
LAYER = {"hyperinr_app": 2, "hyperinr_renderer": 1, "hyperinr_core": 0}


def module_files() -> dict[str, Path]:
    mods = {}
    for name, folder in PACKAGES.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT / folder).with_suffix("")
            parts = [name, *rel.parts]
            if parts[-1] == "__init__":
                parts = parts[:-1]
            mods[".".join(parts)] = path
    return mods


def imports_of(mod: str, path: Path, mods: dict[str, Path]) -> list[tuple[str, list[str], int]]:
    """``(target module, imported names, line)`` for every import of one of our modules in ``path``."""
    tree = ast.parse(path.read_text(), str(path))
    is_pkg = path.name == "__init__.py"
    package = mod if is_pkg else mod.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in PACKAGES:
                    found.append((alias.name, [], node.lineno))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] not in PACKAGES:
                continue
            names = [a.name for a in node.names]
            subs = [f"{target}.{n}" for n in names if f"{target}.{n}" in mods]
            if subs:  # ``from pkg import module``
                found += [(s, [], node.lineno) for s in subs]
            else:
                found.append((target, names, node.lineno))
    return found


def graph() -> dict[str, set[str]]:
    mods = module_files()
    edges: dict[str, set[str]] = {m: set() for m in mods}
    for mod, path in mods.items():
        for target, _, _ in imports_of(mod, path, mods):
            while target not in mods and "." in target:
                target = target.rpartition(".")[0]
            if target in mods and target != mod:
                edges[mod].add(target)
    return edges


def strongly_connected(edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm; the components with more than one module are the cycles."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return [c for c in out if len(c) > 1]


def test_the_graph_finds_our_modules_and_their_deferred_imports():
    edges = graph()
    assert len(edges) > 60
    # evaluate.py imports the model classes inside its functions only: those imports are edges too.
    assert "hyperinr_core.model.hyperinr" in edges["hyperinr_core.eval.evaluate"]
    assert "hyperinr_core.train.distributed" in edges["hyperinr_core.train.fit"]  # inside fit()


def test_strongly_connected_components_detect_a_cycle():
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert strongly_connected({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_function_level_imports_included():
    cycles = strongly_connected(graph())
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_layers_hold_for_function_level_imports_too():
    edges = graph()
    upward = [
        f"{m} -> {t}"
        for m, ts in edges.items()
        for t in ts
        if LAYER[t.split(".")[0]] > LAYER[m.split(".")[0]]
    ]
    assert not upward, upward


def test_no_private_name_is_imported_across_modules():
    mods = module_files()
    extra = {  # tests and benchmarks are held to the same rule
        f"{folder}.{p.stem}": p for folder in ("bench", "tests") for p in (ROOT / folder).rglob("*.py")
    }
    offenders = []
    for mod, path in {**mods, **extra}.items():
        for target, names, line in imports_of(mod, path, mods):
            for n in names:
                if n.startswith("_") and not (n.startswith("__") and n.endswith("__")):
                    offenders.append(f"{path.relative_to(ROOT)}:{line} imports {n} from {target}")
    assert not offenders, "\n".join(offenders)
