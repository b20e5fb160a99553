"""Only MainWindow writes its attributes: other modules go through the session or the window's methods
(docs/ARCHITECTURE.md, "Data flow of one interactive frame"). A static check over the app's source."""

import ast
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "app"
# Names the app's modules give the main window.
WINDOW_NAMES = {"win", "window", "window_", "main_window", "mw"}


def window_attribute_writes(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        for t in targets:
            for sub in ast.walk(t):
                if not (isinstance(sub, ast.Attribute) and isinstance(sub.ctx, ast.Store)):
                    continue
                owner = sub.value
                if isinstance(owner, ast.Name) and owner.id in WINDOW_NAMES:  # win.x = ...
                    found.append((node.lineno, f"{owner.id}.{sub.attr}"))
                elif isinstance(owner, ast.Attribute) and owner.attr in WINDOW_NAMES:  # self.window.x = ...
                    found.append((node.lineno, f"...{owner.attr}.{sub.attr}"))
    return found


def test_the_check_finds_a_write():
    tree = ast.parse("def f(win, self):\n    win.model = 1\n    self.window.worker = 2\n    x = win.model\n")
    assert [w for _, w in window_attribute_writes(tree)] == ["win.model", "...window.worker"]


def test_no_module_but_main_window_writes_the_windows_attributes():
    offenders = []
    for path in APP.rglob("*.py"):
        if path.name == "main_window.py":
            continue
        for line, what in window_attribute_writes(ast.parse(path.read_text())):
            offenders.append(f"{path.relative_to(APP.parent)}:{line}: {what}")
    assert not offenders, offenders
