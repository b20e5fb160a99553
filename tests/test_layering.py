"""The layering of docs/ARCHITECTURE.md: the core and the torch half of the renderer run without Qt or vispy."""

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

BLOCKED = ("PySide6", "PyQt5", "PyQt6", "vispy", "superqt", "OpenGL", "napari", "qtpy")


def test_core_and_torch_renderer_import_with_qt_and_vispy_unimportable():
    code = textwrap.dedent(
        f"""
        import importlib, importlib.util, pkgutil, sys

        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {BLOCKED!r}:
                    raise ImportError("blocked for the layering test: " + name)
                return None

        sys.meta_path.insert(0, Block())
        imported = []
        for pkg_name in ("hyperinr_core", "hyperinr_renderer"):
            pkg = importlib.import_module(pkg_name)
            imported.append(pkg_name)
            for info in pkgutil.walk_packages(pkg.__path__, pkg_name + "."):
                if info.name.startswith("hyperinr_renderer.gl"):
                    continue  # the GL half is allowed (and meant) to use vispy
                if ".triton_" in info.name and importlib.util.find_spec("triton") is None:
                    continue  # the Triton kernels need the optional triton (CUDA torch brings it)
                importlib.import_module(info.name)
                imported.append(info.name)
        assert not any(m.split(".")[0] in {BLOCKED!r} for m in sys.modules), "a GUI module got imported"
        print(len(imported))
        """
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert int(r.stdout.strip()) >= 8  # the core alone has more than eight modules


def test_import_linter_contracts_hold():
    # import-linter is part of the [test] extra; a missing install is a failure, not a skip.
    exe = Path(sys.executable).with_name("lint-imports")
    exe = str(exe) if exe.exists() else shutil.which("lint-imports")
    assert exe, "lint-imports not found: install the project with its [test] extra"
    r = subprocess.run([exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "KEPT" in r.stdout and "BROKEN" not in r.stdout
