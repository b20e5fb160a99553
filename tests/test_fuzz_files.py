"""Damaged files: random byte flips and truncations of a model, a dataset and a bundle, loaded through the
CLI's loading paths and the explorer's loader. Each must load (the damage hit numbers only) or raise a
HyperINRError naming the damaged file: no other exception, no hang, no crash."""

import argparse
import concurrent.futures
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from hyperinr_core.errors import HyperINRError

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "assets"
CASE_TIMEOUT_S = 30  # a load of these files takes well under a second; more than this is a hang
HEADER_BYTES = 8192  # HDF5 keeps its superblock, root group and attributes near the start


def corruptions(data: bytes, n: int, seed: int):
    """``n`` damaged copies of ``data``: truncations and 1-8 byte flips (half of them in the header)."""
    rng = np.random.default_rng(seed)
    size = len(data)
    for k in range(n):
        if k % 4 == 0:  # truncation: anywhere, with short files more often
            cut = int(min(size - 1, rng.integers(0, size) if rng.random() < 0.5 else rng.integers(0, 4096)))
            yield f"truncated to {cut} of {size} bytes", data[:cut]
            continue
        buf = bytearray(data)
        flips = []
        for _ in range(int(rng.integers(1, 9))):
            where = int(
                rng.integers(0, min(HEADER_BYTES, size)) if rng.random() < 0.5 else rng.integers(0, size)
            )
            buf[where] ^= int(rng.integers(1, 256))
            flips.append(where)
        yield f"bytes flipped at {sorted(flips)}", bytes(buf)


def call_with_timeout(fn):
    pool = concurrent.futures.ThreadPoolExecutor(1)
    try:
        return pool.submit(fn).result(timeout=CASE_TIMEOUT_S)
    finally:
        pool.shutdown(wait=False)


def check_cases(tmp_path, name: str, original: Path, n: int, seed: int, loaders, place=None):
    """Write each damaged copy of ``original`` and run every loader on it; returns the problems found."""
    problems, loaded, refused = [], 0, 0
    data = original.read_bytes()
    for i, (what, damaged) in enumerate(corruptions(data, n, seed)):
        target = place(damaged) if place else tmp_path / f"{name}_{i}{original.suffix}"
        if not place:
            target.write_bytes(damaged)
        for label, load in loaders:
            try:
                call_with_timeout(lambda load=load, target=target: load(target))
                loaded += 1
            except concurrent.futures.TimeoutError:
                problems.append(f"{name} #{i} ({what}) {label}: no answer within {CASE_TIMEOUT_S} s")
            except HyperINRError as exc:
                refused += 1
                if target.name not in str(exc):
                    problems.append(f"{name} #{i} ({what}) {label}: error does not name the file: {exc}")
                elif "\n" in str(exc):
                    problems.append(f"{name} #{i} ({what}) {label}: error is not one line: {exc!r}")
            except Exception as exc:  # noqa: BLE001 - exactly what this test looks for
                problems.append(f"{name} #{i} ({what}) {label}: {type(exc).__name__}: {exc}")
    return problems, loaded, refused


# -- loaders: what the CLI and the explorer do with each kind of file ---------------------------------------
def cli_model(path):
    """``hyperinr render --model`` / ``model info``: load, generate at the midpoint, evaluate a few points."""
    import torch

    from hyperinr_app.commands.model import model_info_lines
    from hyperinr_app.commands.render import theta_for
    from hyperinr_core.model.hyperinr import HyperINR

    model_info_lines(str(path))
    model = HyperINR.load(path)
    inr = model.generate(theta_for(model, [], str(path)))
    inr(torch.rand(64, 3, generator=torch.Generator().manual_seed(0)))


def explorer(path):
    """The explorer: the header check of ``--param``/``--screenshot``, then the loader of File > Open."""
    from hyperinr_app.loading import load_target, model_parameters

    try:
        model_parameters(path)
    except HyperINRError as exc:  # a dataset has no parameters to set; a damaged file is refused
        assert path.name in str(exc), exc
    load_target(path, have_model=True)


def cli_dataset(path):
    """``hyperinr data info --check``: open, summarize, read every frame."""
    from hyperinr_core.data.dataset import open_dataset

    with open_dataset(path) as ds:
        _ = ds.value_range, ds.train_indices, ds.normalized_params()
        for i in range(ds.n_frames):
            ds.frame(i)


def cli_bundle(path):
    """``hyperinr export-frame --bundle``: the bundle's models and transfer function, as exports load them."""
    from hyperinr_app.commands.export import build_scene

    args = argparse.Namespace(
        bundle=str(path),
        model=None,
        shadow_model=None,
        tf=None,
        shadow="field",
        param=[],
        camera="30,20",
        light="45,45",
    )
    build_scene(args)


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory):
    from hyperinr_core.data.dataset_writer import write_dataset

    d = tmp_path_factory.mktemp("fuzz_data")
    rng = np.random.default_rng(0)
    frames = rng.random((6, 8, 8, 8)).astype(np.float32)
    path = d / "tiny.h5"
    write_dataset(
        path,
        "tsr",
        ["t"],
        [0.0],
        [5.0],
        np.arange(6.0)[:, None],
        iter(frames),
        train_mask=np.arange(6) % 2 == 0,
        attrs={"source": "fuzz"},
    )
    return path


def test_damaged_model_files_load_or_give_one_clear_error(tmp_path):
    problems, loaded, refused = check_cases(
        tmp_path,
        "model",
        ASSETS / "demo_tgv.hinr",
        80,
        seed=1,
        loaders=[("cli", cli_model), ("explorer", explorer)],
    )
    assert not problems, "\n".join(problems[:20])
    assert refused > 40  # the damage is mostly found, not mostly harmless


def test_damaged_dataset_files_load_or_give_one_clear_error(tmp_path, tiny_dataset):
    problems, loaded, refused = check_cases(
        tmp_path,
        "dataset",
        tiny_dataset,
        70,
        seed=2,
        loaders=[("cli", cli_dataset), ("explorer", explorer)],
    )
    assert not problems, "\n".join(problems[:20])
    assert refused > 30


@pytest.mark.parametrize(
    ("member", "n"), [("demo.json", 20), ("demo_tf.json", 20), ("demo_tgv_shadow.hinr", 30)]
)
def test_damaged_bundles_load_or_give_one_clear_error(tmp_path, member, n):
    """One file of the demo bundle damaged at a time; the error names that file."""
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    for f in json.loads((ASSETS / "demo.json").read_text()).values():
        if isinstance(f, str) and (ASSETS / f).is_file():
            (bundle / f).symlink_to(ASSETS / f)
    (bundle / "demo.json").unlink(missing_ok=True)
    shutil.copy(ASSETS / "demo.json", bundle / "demo.json")
    damaged = bundle / member
    original = tmp_path / f"original_{member}"
    shutil.copy(ASSETS / member, original)

    def place(data):
        damaged.unlink(missing_ok=True)
        damaged.write_bytes(data)
        return damaged

    manifest = bundle / "demo.json"
    problems, loaded, refused = check_cases(
        tmp_path,
        member,
        original,
        n,
        seed=3,
        loaders=[("cli", lambda _p: cli_bundle(manifest)), ("explorer", lambda _p: explorer(manifest))],
        place=place,
    )
    assert not problems, "\n".join(problems[:20])
    assert refused > n // 2


def test_the_damaged_type_that_crashed_libhdf5_is_refused_before_it_is_read(tmp_path, tiny_dataset):
    """Case 23 of seed 11 turns the type of ``param_names`` into a variable-length sequence whose read
    segfaulted inside libhdf5 (H5T__conv_vlen -> H5VL_blob_put); stored types are now checked first. In a
    subprocess, so that a crash fails this test instead of ending the test run."""
    import subprocess
    import sys

    _what, data = list(corruptions(tiny_dataset.read_bytes(), 24, seed=11))[23]
    bad = tmp_path / "crash.h5"
    bad.write_bytes(data)
    code = (
        "import sys\n"
        "from hyperinr_core.data.dataset import open_dataset\n"
        "from hyperinr_core.errors import FileFormatError\n"
        "try:\n"
        "    open_dataset(sys.argv[1])\n"
        "except FileFormatError as exc:\n"
        "    print('refused:', exc)\n"
    )
    r = subprocess.run([sys.executable, "-c", code, str(bad)], cwd=ROOT, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, (r.returncode, r.stderr[-1000:])
    assert "refused:" in r.stdout and "param_names" in r.stdout and "crash.h5" in r.stdout


HOSTILE_MANIFESTS = [
    {"transfer_function": {"colormap": "viridis"}},  # an inline object where a file name belongs
    {"model": ["demo_tgv.hinr"]},
    {"model": ""},
    {"version": "1"},
    {"version": True},
    {"shadow_model": 3.5},
]
HOSTILE_TFS = [
    '{"colormap": "viridis", "opacity": [[0, 0], [1, NaN]]}',
    '{"colormap": "viridis", "opacity": [[0, 0], [Infinity, 1]]}',
    '{"colormap": "viridis", "opacity": [[0, 0], [1, 1]], "density": NaN}',
    '{"colormap": "viridis", "opacity": "all"}',
    '{"colormap": 7}',
    "[1, 2, 3]",
]


@pytest.mark.parametrize("change", HOSTILE_MANIFESTS)
def test_hostile_bundle_values_give_one_line_naming_the_manifest(tmp_path, change):
    manifest = {**json.loads((ASSETS / "demo.json").read_text()), **change}
    for f in ("demo_tgv.hinr", "demo_tgv_shadow.hinr", "demo_tf.json"):
        (tmp_path / f).symlink_to(ASSETS / f)
    path = tmp_path / "demo.json"
    path.write_text(json.dumps(manifest))
    for load in (cli_bundle, explorer):
        with pytest.raises(HyperINRError) as exc:
            call_with_timeout(lambda load=load: load(path))
        assert "demo.json" in str(exc.value)


@pytest.mark.parametrize("text", HOSTILE_TFS)
def test_hostile_transfer_functions_give_one_line_naming_the_file(tmp_path, text):
    for f in ("demo_tgv.hinr", "demo_tgv_shadow.hinr", "demo.json"):
        (tmp_path / f).symlink_to(ASSETS / f)
    (tmp_path / "demo_tf.json").write_text(text)
    with pytest.raises(HyperINRError) as exc:
        call_with_timeout(lambda: cli_bundle(tmp_path / "demo.json"))
    assert "demo_tf.json" in str(exc.value)
