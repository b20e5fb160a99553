"""Core errors name settings in the library's terms; the CLI renders them as its flags."""

import ast
import re
from pathlib import Path

from hyperinr_app.cli import cli_flag, main
from hyperinr_core.errors import FileFormatError, HyperINRError

CORE = Path(__file__).resolve().parents[2] / "hyperinr_core"


def test_settings_render_in_library_terms_and_as_cli_flags():
    e = HyperINRError("m.h5: output exists; overwrite it ({force})", force="force=True")
    assert str(e) == "m.h5: output exists; overwrite it (force=True)"
    assert e.render(cli_flag) == "m.h5: output exists; overwrite it (--force)"
    f = FileFormatError("x.npy", "no sidecar; name one ({sidecar})", sidecar="sidecar=PATH")
    assert f.path == "x.npy" and f.render(cli_flag) == "x.npy: no sidecar; name one (--sidecar)"
    assert (
        HyperINRError("{distill_samples} too small", distill_samples="distill_samples").render(cli_flag)
        == "--distill-samples too small"
    )
    assert HyperINRError("a {b} c").render(cli_flag) == "a {b} c"  # no settings: braces stay text


def test_no_core_message_names_a_command_line_flag():
    offenders = []
    for path in CORE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Raise) or (
                isinstance(node, ast.Call) and getattr(node.func, "id", "") == "print"
            ):
                for s in ast.walk(node):
                    if isinstance(s, ast.Constant) and isinstance(s.value, str):
                        if re.search(r"(^|[\s(])--[a-z]", s.value) and "torchrun" not in s.value:
                            offenders.append(f"{path.name}:{node.lineno}: {s.value!r}")
    assert not offenders, offenders


def test_the_cli_spells_the_flag(tmp_path, capsys):
    out = tmp_path / "m.h5"
    out.write_bytes(b"")
    rc = main(["data", "import", str(tmp_path / "missing.npy"), "-o", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and "--force" in err and "force=True" not in err, err
