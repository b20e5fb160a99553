"""Bad input to the CLI: one line and exit code 2, before any work; the output-path rules every command
shares; ``model info``; help texts; and no torch import on the way to an argument error."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hyperinr_app.cli import main

ROOT = Path(__file__).resolve().parents[1]
MODEL = str(ROOT / "assets" / "demo_tgv.hinr")
BUNDLE = str(ROOT / "assets" / "demo.json")
MISSING = "/nonexistent/model.h5"  # a command that did work before checking its output would name this


def one_line_error(capsys, rc, *needles):
    err = capsys.readouterr().err
    assert rc == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for n in needles:
        assert n in err, err
    return err


# -- parameters ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
@pytest.mark.parametrize("command", ["render", "export-frame"])
def test_non_finite_parameters_are_one_line_exit_2(tmp_path, capsys, command, value):
    rc = main(
        [
            command,
            "--model",
            MODEL,
            "--param",
            f"t={value}",
            "--size",
            "16x12",
            "--spp",
            "1",
            "--out",
            str(tmp_path / "x.png"),
        ]
    )
    one_line_error(capsys, rc, f"t={value}", "finite")
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("command", ["render", "export-frame"])
def test_out_of_range_and_unknown_parameters_are_errors_not_clamped(tmp_path, capsys, command):
    out = str(tmp_path / "x.png")
    rc = main([command, "--model", MODEL, "--param", "t=99", "--size", "16x12", "--spp", "1", "--out", out])
    one_line_error(capsys, rc, "t=99", "outside", "[0, 10]")
    rc = main([command, "--model", MODEL, "--param", "foo=1", "--size", "16x12", "--spp", "1", "--out", out])
    one_line_error(capsys, rc, "foo", "no parameter")
    assert not Path(out).exists()


def test_animation_sweeps_stay_within_the_model_range(tmp_path, capsys):
    rc = main(
        [
            "export-animation",
            "--model",
            MODEL,
            "--sweep",
            "param:t",
            "--range",
            "0,20",
            "--frames",
            "2",
            "--size",
            "16x12",
            "--spp",
            "1",
            "--out",
            str(tmp_path / "a.mp4"),
        ]
    )
    one_line_error(capsys, rc, "t=20", "outside")


def test_an_argument_error_is_reported_without_importing_torch():
    """``--help`` and an input error answer at once: no torch (seconds to import) on the way."""
    for args in (
        ["--help"],
        ["render", "--model", MODEL, "--param", "t=nan", "--size", "16x12", "--out", "x.png"],
        ["export-frame", "--help"],
    ):
        r = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "hyperinr_app.cli", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        modules = {
            line.rsplit("|", 1)[-1].strip() for line in r.stderr.splitlines() if "import time:" in line
        }
        assert "torch" not in modules and "h5py" not in modules, args
        assert r.returncode == (0 if "--help" in args else 2), r.stderr


# -- output paths --------------------------------------------------------------------------------------------
def unwritable(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    return {
        "read-only": ("/sys/x", None),  # sysfs refuses new files, even to root
        "proc": ("/proc/x", None),
        "parent is a file": (f"{afile}/x", f"{afile} is a file"),
    }


COMMANDS = {
    "render": lambda out: ["render", "--model", MISSING, "--size", "16x12", "--out", out + ".png"],
    "export-frame": lambda out: [
        "export-frame",
        "--model",
        MISSING,
        "--size",
        "16x12",
        "--out",
        out + ".png",
    ],
    "export-animation mp4": lambda out: [
        "export-animation",
        "--model",
        MISSING,
        "--sweep",
        "orbit",
        "--range",
        "0,90",
        "--size",
        "16x12",
        "--out",
        out + ".mp4",
    ],
    "export-animation folder": lambda out: [
        "export-animation",
        "--model",
        MISSING,
        "--sweep",
        "orbit",
        "--range",
        "0,90",
        "--size",
        "16x12",
        "--out",
        out + "_frames",
    ],
    "data import": lambda out: ["data", "import", MISSING, "-o", out + ".h5"],
    "data demo tgv": lambda out: [
        "data",
        "demo",
        "tgv",
        "--resolution",
        "4",
        "--frames",
        "2",
        "-o",
        out + ".h5",
    ],
    "data demo plume": lambda out: ["data", "demo", "plume", "--resolution", "8", "--frames", "2", "-o",
                                    out + ".h5"],
    "data demo shadows": lambda out: ["data", "demo", "shadows", "--model", MISSING, "--out", out + ".h5"],
    "data demo nvs": lambda out: ["data", "demo", "nvs", "--model", MISSING, "-o", out + ".h5"],
}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_an_unwritable_output_is_one_line_naming_path_and_reason_before_any_work(tmp_path, capsys, command):
    for case, (out, reason) in unwritable(tmp_path).items():
        argv = COMMANDS[command](out)
        rc = main(argv)
        err = one_line_error(capsys, rc, out)
        assert MISSING not in err, f"{case}: the command read its input before checking its output: {err}"
        if reason:
            assert reason in err, err
        else:
            assert err.rstrip().endswith(("denied", "directory", "file system", "not permitted")), err


def test_missing_output_folders_are_created_the_same_way_everywhere(tmp_path, capsys):
    """render, export-frame and data import all create missing folders of their output."""
    umask = os.umask(0o022)
    os.umask(umask)
    outs = [tmp_path / "a" / "b" / "r.png", tmp_path / "c" / "d" / "e.png", tmp_path / "e" / "f" / "i.h5"]
    npy = tmp_path / "v.npy"
    np.save(npy, np.random.default_rng(0).random((2, 4, 4, 4)).astype(np.float32))
    assert main(["render", "--model", MODEL, "--size", "8x6", "--spp", "1", "--out", str(outs[0])]) == 0
    assert main(["export-frame", "--model", MODEL, "--size", "8x6", "--spp", "1", "--out", str(outs[1])]) == 0
    assert main(["data", "import", str(npy), "-o", str(outs[2]), "--quiet"]) == 0
    for out in outs:
        assert out.exists()
        assert out.parent.stat().st_mode & 0o777 == 0o777 & ~umask
        assert out.stat().st_mode & 0o777 == 0o666 & ~umask


def test_a_png_folder_export_gets_the_umask_default_mode(tmp_path):
    umask = os.umask(0o022)
    os.umask(umask)
    out = tmp_path / "frames"
    assert (
        main(
            [
                "export-animation",
                "--model",
                MODEL,
                "--sweep",
                "orbit",
                "--range",
                "0,90",
                "--frames",
                "2",
                "--size",
                "8x6",
                "--spp",
                "1",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert out.stat().st_mode & 0o777 == 0o777 & ~umask
    pngs = sorted(out.iterdir())
    assert len(pngs) == 2 and all(p.stat().st_mode & 0o777 == 0o666 & ~umask for p in pngs)


# -- import without a training split -------------------------------------------------------------------------
def test_import_without_a_train_stride_warns_that_nothing_is_held_out(tmp_path, capsys):
    npy = tmp_path / "v.npy"
    np.save(npy, np.random.default_rng(0).random((4, 4, 4, 4)).astype(np.float32))
    assert main(["data", "import", str(npy), "-o", str(tmp_path / "all.h5"), "--quiet"]) == 0
    err = capsys.readouterr().err
    warning = [line for line in err.splitlines() if "held out" in line]
    assert len(warning) == 1 and "--train-stride" in warning[0], err
    assert (
        main(["data", "import", str(npy), "-o", str(tmp_path / "split.h5"), "--quiet", "--train-stride", "2"])
        == 0
    )
    assert "held out" not in capsys.readouterr().err


# -- model info, help ----------------------------------------------------------------------------------------
def test_model_info_prints_config_parameters_encoders_size_and_metadata(tmp_path, capsys):
    import torch

    from hyperinr_core import HashGridConfig, HyperINR, HyperINRConfig, MLPConfig
    from hyperinr_core.train.selection import Score, Selection

    enc = HashGridConfig(3, 2, 2, 8, 4, 2.0)
    selection = Selection("flow", Score("lerp", 30.1, 25.0), [Score("flow", 31.5, 27.0, 2.0)], 8, 4)
    meta = {
        "trained": "distilled",
        "teacher": "flow",
        "started_from_race": True,
        "selection": selection.to_dict(),
        "source": {"data": "tgv.h5", "frames": [0, 5, 10]},
    }
    cfg = HyperINRConfig(
        enc,
        MLPConfig(enc.n_output_dims, 1, 16, 2),
        ["t", "s"],
        [0.0, -1.0],
        [10.0, 1.0],
        k_neighbours=3,
        metadata=meta,
    )
    path = tmp_path / "m.h5"
    HyperINR(cfg, np.random.default_rng(0).random((5, 2)), generator=torch.Generator().manual_seed(0)).save(
        path
    )
    for argv in (["model", "info", str(path)], ["data", "info", str(path)]):
        assert main(argv) == 0
        out = capsys.readouterr().out
        for needle in (
            "t: [0, 10]",
            "s: [-1, 1]",
            "encoders    5,",
            f"{enc.n_params:,} parameters each",
            "2 levels x 2 features",
            "2 hidden layers of 16",
            "3 nearest",
            "trained: distilled from the flow teacher",
            "started from: the selection race's winning student",
            "teacher selection on 4 validation frames",  # the selection table, as View > Model info shows it
            "chosen: flow",
            "source:",  # any other metadata: generic key: value lines, nested ones indented
            "  data: tgv.h5",
            "frames: [0, 5, 10]",
            f"{5 * enc.n_params + cfg.mlp.n_params:,} parameters",
        ):
            assert needle in out, (needle, out)
        assert "started_from_race" not in out  # described in words, not listed again
    rc = main(["model", "info", str(ROOT / "README.md")])
    assert rc == 2 and "README.md" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["export-frame", "export-animation"])
def test_export_help_has_a_description_and_shows_defaults(capsys, command):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    out = capsys.readouterr().out
    assert "Path-trace" in out and "explorer" in out.replace("\n", " ")
    assert "(default: 800x600)" in out and "(default: 64)" in out


def test_a_damaged_config_names_the_file_and_a_fix(tmp_path, capsys):
    import h5py

    path = tmp_path / "m.h5"
    path.write_bytes(Path(MODEL).read_bytes())
    with h5py.File(path, "r+") as f:
        f.attrs["config"] = '{"mlp": {}, "param_names": ["t"], "param_lo": [0], "param_hi": [1]}'
    rc = main(
        ["render", "--model", str(path), "--size", "8x6", "--spp", "1", "--out", str(tmp_path / "x.png")]
    )
    one_line_error(capsys, rc, str(path), "'encoding'", "hyperinr train")


def test_a_light_outside_the_docks_ranges_is_refused_everywhere(tmp_path):
    """--light 999,999 is one line and exit code 2 in render, export-frame, export-animation and the
    explorer's scripted mode, before any work; an angle is never clamped silently."""
    import sys

    out = tmp_path / "x.png"
    commands = [
        [sys.executable, "-m", "hyperinr_app.cli", "render", "--model", "assets/demo_tgv.hinr", "--light", "999,999",
         "--out", str(out)],
        [sys.executable, "-m", "hyperinr_app.cli", "export-frame", "--model", "assets/demo_tgv.hinr", "--light",
         "10,200", "--out", str(out)],
        [sys.executable, "-m", "hyperinr_app.cli", "export-animation", "--model", "assets/demo_tgv.hinr",
         "--light=-5,40", "--sweep", "azimuth", "--range", "0,90", "--frames", "2", "--out", str(tmp_path / "a.mp4")],
        [sys.executable, "-m", "hyperinr_app.explorer_main", "--light", "999,999", "--screenshot", str(out)],
    ]
    for cmd in commands:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        assert r.returncode == 2, (cmd, r.stderr)
        assert r.stderr.count("\n") == 1 and "outside" in r.stderr and "degrees" in r.stderr, r.stderr
        assert not out.exists()
    from hyperinr_app.params import parse_light

    assert parse_light("360,180") == (360.0, 180.0) and parse_light("0,0") == (0.0, 0.0)


def test_render_and_exports_refuse_to_replace_an_output_without_force(tmp_path):
    """An existing PNG, MP4 or PNG folder is an error before any work; --force replaces it (a PNG folder only
    once the new one is complete) and leaves no temporary beside it."""
    import sys

    png, mp4, folder = tmp_path / "x.png", tmp_path / "a.mp4", tmp_path / "frames"
    png.write_bytes(b"old")
    mp4.write_bytes(b"old")
    folder.mkdir()
    (folder / "keep.txt").write_text("old")
    base = [sys.executable, "-m", "hyperinr_app.cli"]
    model = ["--model", "assets/demo_tgv.hinr"]
    anim = ["export-animation", *model, "--sweep", "azimuth", "--range", "0,10", "--frames", "2", "--size",
            "32x24", "--spp", "1"]
    for cmd in (["render", *model, "--out", str(png)], ["export-frame", *model, "--out", str(png)],
                [*anim, "--out", str(mp4)], [*anim, "--out", str(folder)]):
        r = subprocess.run(base + cmd, capture_output=True, text=True, timeout=300)
        assert r.returncode == 2 and r.stderr.count("\n") == 1 and "--force" in r.stderr, r.stderr
    assert png.read_bytes() == b"old" and mp4.read_bytes() == b"old" and (folder / "keep.txt").exists()
    r = subprocess.run(base + [*anim, "--out", str(folder), "--force"], capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert sorted(p.name for p in folder.iterdir()) == ["frame_0000.png", "frame_0001.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mp4", "frames", "x.png"]


def test_a_scalar_model_given_as_the_shadow_model_is_refused_at_load(tmp_path):
    """--shadow-model must have the light among its parameters: one line naming the file, before rendering."""
    import sys

    for cmd in ("render", "export-frame"):
        r = subprocess.run(
            [sys.executable, "-m", "hyperinr_app.cli", cmd, "--model", "assets/demo_tgv.hinr", "--shadow-model",
             "assets/demo_tgv.hinr", "--shadow", "field", "--out", str(tmp_path / f"{cmd}.png")],
            capture_output=True, text=True, timeout=300,
        )
        assert r.returncode == 2, r.stderr
        err = r.stderr.strip().splitlines()[-1]
        assert "demo_tgv.hinr: not a shadow model" in err and "azimuth" in err, r.stderr
        assert "Traceback" not in r.stderr and not (tmp_path / f"{cmd}.png").exists()


@pytest.mark.parametrize(("sig", "background"), [("SIGTERM", False), ("SIGINT", False), ("SIGTERM", True)])
def test_a_signal_during_a_png_folder_export_leaves_nothing_and_exits_130(tmp_path, sig, background):
    """SIGTERM takes Ctrl-C's path: the hidden folder the frames were being written to is removed, nothing
    appears under the final name, and the process ends with 130 (not an abort from a compile cut off). Also
    for a job a shell started in the background, which inherits SIGINT ignored."""
    import signal
    import sys
    import time

    out = tmp_path / "frames"
    proc = subprocess.Popen(
        [sys.executable, "-m", "hyperinr_app.cli", "export-animation", "--model", "assets/demo_tgv.hinr", "--sweep",
         "azimuth", "--range", "0,90", "--frames", "400", "--size", "64x48", "--spp", "1", "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=(lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if background else None,
    )
    time.sleep(6.0)  # mid-export on this machine; at any moment the assertions below must hold
    proc.send_signal(getattr(signal, sig))
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError(f"still running 60 s after {sig}") from None
    assert proc.returncode == 130, err[-2000:]
    assert "interrupted" in err and "Traceback" not in err and "terminate called" not in err, err[-2000:]
    assert list(tmp_path.iterdir()) == [], list(tmp_path.iterdir())


def test_help_and_argument_texts_a_new_user_reads(capsys):
    """A negative-looking value reaches the command's own check; help shows no "(default: None)", describes
    the pipeline train runs, and lists every benchmark with what it measures."""
    import sys

    r = subprocess.run([sys.executable, "-m", "hyperinr_app.cli", "export-frame", "--model", "assets/demo_tgv.hinr",
                        "--size", "-100x50", "--out", "never.png"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "--size '-100x50'" in r.stderr and "expected one argument" not in r.stderr
    for cmd in (["export-frame", "--help"], ["export-animation", "--help"]):
        with pytest.raises(SystemExit):
            main(cmd)
        assert "(default: None)" not in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--teacher auto" in text and "held out" in text and "CoordNet teacher, distillation set, distillation" not in text
    assert main(["bench", "--help"]) == 0
    listing = capsys.readouterr().out
    from hyperinr_app.commands.bench import BENCHES

    for name in BENCHES:
        line = next(ln for ln in listing.splitlines() if ln.split() and ln.split()[0] == name)
        assert len(line.split()) > 3, line  # the name and what it measures


def test_data_demo_shadows_takes_o_force_and_quiet(tmp_path, capsys):
    out = tmp_path / "sh.h5"
    args = ["data", "demo", "shadows", "--model", "assets/demo_tgv.hinr", "--param", "t=6", "--lights", "4",
            "--resolution", "6", "-o", str(out), "--quiet"]
    assert main(args) == 0 and out.exists()
    assert "shadow volumes:" not in capsys.readouterr().err  # no progress bar
    stamp = out.stat().st_mtime_ns
    assert main(args) == 2 and "--force" in capsys.readouterr().err and out.stat().st_mtime_ns == stamp
    assert main(args + ["--force"]) == 0


def test_exports_of_a_bundle_default_to_its_field_shadows_like_the_explorer(tmp_path, capsys):
    """A bundle whose shadow model was made for its transfer function exports with field shadows unless
    --shadow says otherwise; with another transfer function the default falls back to none, with a note."""
    small = ["--size", "16x12", "--spp", "1", "--volume-res", "16"]
    assert main(["export-frame", "--bundle", "assets/demo.json", *small, "--out", str(tmp_path / "a.png")]) == 0
    assert "shadow field" in capsys.readouterr().out
    assert main(["export-frame", "--bundle", "assets/demo.json", "--shadow", "none", *small, "--out",
                 str(tmp_path / "b.png")]) == 0
    assert "shadow none" in capsys.readouterr().out
    assert main(["export-frame", "--bundle", "assets/demo.json", "--tf", "grayscale", *small, "--out",
                 str(tmp_path / "c.png")]) == 0
    out = capsys.readouterr()
    assert "shadow none" in out.out and "another transfer function" in out.err


def test_a_nearly_empty_export_says_why(tmp_path, capsys):
    """The demo's early timesteps lie where its transfer function is transparent: the export says so instead
    of writing a black frame silently; a frame with content gets no warning."""
    import numpy as np

    from hyperinr_app.export import nearly_empty

    bg = (0.08, 0.08, 0.1)
    image = np.tile(np.round(np.array(bg) * 255).astype(np.uint8), (40, 50, 1))
    assert nearly_empty(image, bg)
    image[10:20, 10:20] = 200
    assert not nearly_empty(image, bg)
    small = ["--bundle", "assets/demo.json", "--size", "32x24", "--spp", "1", "--volume-res", "16"]
    assert main(["export-frame", *small, "--param", "t=0", "--out", str(tmp_path / "a.png")]) == 0
    assert "nearly empty" in capsys.readouterr().err
    assert main(["export-frame", *small, "--param", "t=6", "--out", str(tmp_path / "b.png")]) == 0
    assert "nearly empty" not in capsys.readouterr().err
    assert main(["export-animation", *small, "--sweep", "param:t", "--range", "0,10", "--frames", "3", "--out",
                 str(tmp_path / "c.mp4")]) == 0
    err = capsys.readouterr().err
    assert "of 3 frames are nearly empty (first: frame 0, t = 0)" in err, err


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_an_interrupt_that_lands_in_a_finalizer_is_not_lost(sig):
    """Python swallows an exception raised in a __del__ or a weakref callback ("Exception ignored in ..."): a
    Ctrl-C (or SIGTERM) arriving there would be lost and the command would run on. It is sent again."""
    import os
    import signal
    import time

    from hyperinr_app.signals import interrupt_handlers, restore

    undo = interrupt_handlers()
    try:

        class Finalized:
            def __del__(self):
                os.kill(os.getpid(), getattr(signal, sig))
                time.sleep(0.001)  # the handler runs here, inside the finalizer

        with pytest.raises(KeyboardInterrupt):
            x = Finalized()
            del x
            time.sleep(2.0)
    finally:
        restore(undo)


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_an_interrupt_swallowed_by_a_callback_of_any_name_is_sent_again(sig, capsys):
    """A weakref callback outside weakref.py (importlib's module-lock callback ``cb`` caught a SIGTERM in
    ``hyperinr train``) swallows the KeyboardInterrupt where no frame says "finalizer": the unraisable hook
    sends the signal again, silently, and the command stops."""
    import os
    import signal
    import time
    import weakref

    from hyperinr_app.signals import interrupt_handlers, restore

    class Node:
        pass

    def cb(_ref):
        os.kill(os.getpid(), getattr(signal, sig))
        time.sleep(0.001)  # the handler runs here, inside the callback

    undo = interrupt_handlers()
    try:
        with pytest.raises(KeyboardInterrupt):
            x = Node()
            ref = weakref.ref(x, cb)
            del x
            time.sleep(2.0)
        assert ref() is None
    finally:
        restore(undo)
    assert "Exception ignored" not in capsys.readouterr().err


def test_render_is_export_frame_under_another_name(tmp_path, capsys):
    """One command: `render` and `export-frame` take the same options and make the same image, the look's
    options (field of view, light, step, background, seed) included."""
    import imageio.v3 as iio

    from hyperinr_app.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert sub.choices["render"] is sub.choices["export-frame"]
    images = []
    for name in ("render", "export-frame"):
        out = tmp_path / f"{name}.png"
        rc = main([name, "--model", MODEL, "--param", "t=4", "--size", "12x10", "--spp", "1", "--renderer", "torch",
                   "--fov", "50", "--intensity", "2", "--ambient", "0.1", "--step", "0.01", "--background",
                   "0.5,0,0", "--seed", "3", "--out", str(out)])
        assert rc == 0
        images.append(iio.imread(out))
    np.testing.assert_array_equal(images[0], images[1])
    assert tuple(images[0][0, 0]) == (128, 0, 0)  # the corner shows the background asked for
    capsys.readouterr()
    rc = main(["export-frame", "--model", MODEL, "--step", "0", "--out", str(tmp_path / "x.png")])
    assert rc == 2 and "--step 0" in capsys.readouterr().err


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_a_signal_a_library_turns_into_its_own_error_still_reads_interrupted(monkeypatch, capsys, sig):
    """A Ctrl-C or SIGTERM landing in a C library's callback into Python comes out as that library's error
    (h5py: TypeError "operation not defined for data type class"): still one line and rc 130, no traceback."""
    import signal
    import time

    from hyperinr_app.commands import decode

    def run(args):
        try:
            os.kill(os.getpid(), getattr(signal, sig))
            time.sleep(5)
        except KeyboardInterrupt:
            raise TypeError("Operation not defined for data type class") from None
        return 0

    monkeypatch.setattr(decode, "run", run)
    assert main(["decode", "--model", "m.hinr", "-o", "v.npy"]) == 130
    assert capsys.readouterr().err.strip() == "hyperinr decode: interrupted"
    monkeypatch.setattr(decode, "run", lambda args: int("x"))  # without a signal, an error is an error
    with pytest.raises(ValueError):
        main(["decode", "--model", "m.hinr", "-o", "v.npy"])


def test_an_animation_takes_the_frame_s_device_and_tracer_options(tmp_path, capsys):
    """export-animation runs on the device asked for, with or without macro cells, like export-frame: the
    torch tracer's frames with and without empty-space skipping agree, and an unusable device is one line."""
    import imageio.v3 as iio

    base = ["export-animation", "--model", MODEL, "--sweep", "param:t", "--range", "2,6", "--frames", "2",
            "--size", "24x16", "--spp", "1", "--renderer", "torch", "--device", "cpu"]
    frames = {}
    for name, extra in (("cells", []), ("plain", ["--no-macro-cells"])):
        out = tmp_path / name
        assert main([*base, *extra, "--out", str(out)]) == 0, capsys.readouterr().err
        frames[name] = [iio.imread(out / f"frame_{i:04d}.png").astype(np.int16) for i in range(2)]
    for a, b in zip(frames["cells"], frames["plain"], strict=True):
        assert np.abs(a - b).mean() < 2.0 and a.std() > 0
    capsys.readouterr()
    rc = main([*base[:-1], "nodevice", "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err
    assert rc == 2 and "--device 'nodevice'" in err and err.count("\n") == 1, err
    assert not (tmp_path / "x").exists()
