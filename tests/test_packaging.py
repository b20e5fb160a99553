"""What ``pip install .`` puts into site-packages: only top-level names that start with ``hyperinr``, every
package of the repository (and its data), and not bench/ (docs/ARCHITECTURE.md, "Installed names")."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def setup_cfg() -> configparser.ConfigParser:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    return cfg


def listed(cfg, key: str) -> dict[str, str]:
    lines = [ln.strip() for ln in cfg["options"][key].strip().splitlines() if ln.strip()]
    return dict(ln.split(" = ") for ln in lines) if key == "package_dir" else {ln: "" for ln in lines}


def test_every_package_folder_is_listed_under_a_hyperinr_name():
    cfg = setup_cfg()
    package_dir = listed(cfg, "package_dir")
    folders = {"hyperinr_core": "hyperinr_core", **package_dir}
    expected = set()
    for name, folder in folders.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            expected.add(".".join([name, *rel.parts]))
    packages = set(listed(cfg, "packages"))
    assert packages == expected
    assert all(p.split(".")[0].startswith("hyperinr") for p in packages)
    assert not any(p.split(".")[0] in ("bench", "tests") for p in packages)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    src = tmp_path_factory.mktemp("src") / "hyperinr-explorer"  # setuptools builds in the source tree
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".git", ".venv*", "build", "*.egg-info", "__pycache__"))
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(src),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    (whl,) = out.glob("hyperinr_explorer-*.whl")
    return zipfile.ZipFile(whl)


def test_the_wheel_installs_only_hyperinr_names_with_their_data(wheel):
    names = wheel.namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top == {
        "hyperinr_core",
        "hyperinr_app",
        "hyperinr_renderer",
        "hyperinr_shaders",
        "hyperinr_assets",
    }
    assert "hyperinr_shaders/pt_trace.frag.glsl" in names
    assert "hyperinr_assets/demo.json" in names and "hyperinr_assets/demo_tgv.hinr" in names
    assert "hyperinr_core/train/pipeline.py" in names and "hyperinr_app/gui/main_window.py" in names
    (ep,) = [n for n in names if n.endswith("entry_points.txt")]
    text = wheel.read(ep).decode()
    assert "hyperinr = hyperinr_app.cli:main" in text
    assert "hyperinr-explorer = hyperinr_app.explorer_main:main" in text
