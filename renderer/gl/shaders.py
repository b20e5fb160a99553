"""Find and assemble the GLSL sources in the ``shaders`` package (package data, located by importlib.resources).

``#include "name.glsl"`` lines are resolved by vispy's preprocessor (:func:`vispy.gloo.preprocessor.preprocess`,
run by every :class:`vispy.gloo.Program`): the shaders directory is added to vispy's ``include_path``. When the
package is not a plain directory (a zip import), includes are inlined here instead, from the resources.

Compile-time switches (``#define NAME value``) are inserted right after the ``#version`` line.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

__all__ = ["shader_source", "shader_dir"]

_INCLUDE = re.compile(r'^\s*#\s*include\s*"(?P<name>[A-Za-z0-9_\-./]+)"\s*$', re.MULTILINE)


def _root():
    return resources.files("hyperinr_shaders")


def shader_dir() -> Path | None:
    """The shaders directory on disk, or None when the package is not a plain directory."""
    root = _root()
    return Path(str(root)) if isinstance(root, Path) or Path(str(root)).is_dir() else None


def _register_include_path() -> bool:
    d = shader_dir()
    if d is None:
        return False
    import vispy

    paths = vispy.config["include_path"]
    if str(d) not in paths:
        paths.append(str(d))
    return True


def _read(name: str) -> str:
    return (_root() / name).read_text(encoding="utf-8")


def _inline_includes(code: str, seen: set[str] | None = None) -> str:
    seen = set() if seen is None else seen

    def sub(m: re.Match) -> str:
        name = m.group("name")
        if name in seen:
            return ""
        seen.add(name)
        return _inline_includes(_read(name), seen)

    return _INCLUDE.sub(sub, code)


def shader_source(name: str, defines: dict[str, object] | None = None) -> str:
    """The text of ``shaders/<name>`` with ``defines`` inserted after its ``#version`` line."""
    code = _read(name)
    if not _register_include_path():
        code = _inline_includes(code)
    if defines:
        lines = code.splitlines()
        at = next((i + 1 for i, line in enumerate(lines) if line.lstrip().startswith("#version")), 0)
        lines[at:at] = [f"#define {k} {v}" for k, v in defines.items()]
        code = "\n".join(lines) + "\n"
    return code
