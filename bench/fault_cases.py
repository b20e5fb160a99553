"""The commands of the fault suite (:mod:`bench.faults`): their arguments, their outputs, and how to tell a
complete, valid output from a corrupt one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.faults import ForkServer


@dataclass
class Case:
    """One command under faults: its arguments in a fresh folder, what its outputs are, and how to check them.

    ``check(folder) -> problem or None`` looks at the final outputs (absent is fine); ``rerun(folder)`` the
    arguments of the next run; ``same(folder) -> problem or None`` compares the finished outputs with the
    reference (bit-identical where the command promises it).
    """

    name: str
    argv: list[str]
    outputs: tuple[str, ...]
    check: Callable[[Path], str | None]
    rerun: Callable[[Path], list[str]]
    same: Callable[[Path], str | None] = lambda _: None



# -- the commands ------------------------------------------------------------------------------------------
def _series(path: Path, n: int = 9, shape=(8, 8, 8)) -> None:
    import numpy as np

    from hyperinr_core.data.dataset_writer import write_dataset

    z, y, x = np.meshgrid(*[np.linspace(0, 1, s) for s in shape], indexing="ij")
    t = np.linspace(0.0, 1.0, n)
    frames = np.stack(
        [np.exp(-((x - 0.3 - 0.4 * ti) ** 2 + (y - 0.5) ** 2 + (z - 0.5) ** 2) / 0.05) for ti in t]
    )
    mask = np.zeros(n, bool)
    mask[::2] = True
    write_dataset(path, "tsr", ["t"], [0.0], [1.0], t[:, None], frames.astype(np.float32), train_mask=mask)


def _loads(load: Callable[[Path], object], what: str) -> Callable[[Path], str | None]:
    """A check: an absent file is fine; one that ``load`` fails on is the finding, ``what`` says how."""

    def check(path: Path) -> str | None:
        if not path.exists():
            return None
        try:
            load(path)
        except Exception as exc:  # noqa: BLE001 (any failure to load is the finding)
            return f"{path.name} {what}: {exc}"
        return None

    return check


def _load_model(path: Path) -> None:
    from hyperinr_core.model.hyperinr import HyperINR

    HyperINR.load(path)


def _read_checkpoint(path: Path) -> None:
    from hyperinr_core.train.checkpoint import read_checkpoint

    read_checkpoint(path)


def _read_dataset(path: Path) -> None:
    from hyperinr_core.data.dataset import open_dataset

    with open_dataset(path) as ds:
        ds.frames(range(len(ds)))


def _read_png(path: Path) -> None:
    from PIL import Image

    with Image.open(path) as im:
        im.load()


def _read_h5(path: Path) -> None:
    import h5py

    with h5py.File(path, "r") as f:
        f.visititems(lambda _n, o: o[()] if isinstance(o, h5py.Dataset) else None)


_valid_model = _loads(_load_model, "does not load")
_valid_checkpoint = _loads(_read_checkpoint, "does not read")
_valid_dataset = _loads(_read_dataset, "does not open")
_valid_png = _loads(_read_png, "is not a whole PNG")
_valid_h5 = _loads(_read_h5, "does not read")


def _valid_mp4(path: Path, n: int) -> str | None:
    if not path.exists():
        return None
    try:
        import imageio.v3 as iio

        frames = iio.imread(path, plugin="FFMPEG")
    except Exception as exc:  # noqa: BLE001 (any failure to decode is the finding)
        return f"{path.name} does not decode: {exc}"
    return None if len(frames) == n else f"{path.name} holds {len(frames)} of {n} frames"


def _valid_pngs(folder: Path, n: int) -> str | None:
    if not folder.exists():
        return None
    pngs = sorted(folder.glob("*.png"))
    if len(pngs) != n:
        return f"{folder.name}/ holds {len(pngs)} of {n} frames"
    return next((p for p in map(_valid_png, pngs) if p), None)


def _same_model(ref: Path, name: str):
    def same(folder: Path) -> str | None:
        from hyperinr_core.model.hyperinr import HyperINR

        a, b = HyperINR.load(ref), HyperINR.load(folder / name)
        for (k, x), (_, y) in zip(
            sorted(a.state_dict().items()), sorted(b.state_dict().items()), strict=True
        ):
            if x.shape != y.shape or not bool((x == y).all()):
                return f"{name}: {k} differs from the uninterrupted run"
        return None

    return same


def cases(work: Path, which: tuple[str, ...], server: ForkServer) -> list[Case]:
    """The commands: train (checkpoints, --resume, bit-identical), data import, export-frame, decode."""
    import numpy as np

    data = work / "series.h5"
    _series(data)
    model = work / "model.h5"
    train_args = [
        "train",
        "--data",
        str(data),
        "-o",
        "m.h5",
        "--preset",
        "tiny",
        "--steps",
        "60",
        "--teacher",
        "none",
        "--seed",
        "3",
        "--quiet",
        "--threads",
        "1",
        "--checkpoint-every",
        "0.002",
    ]
    if server.run([*train_args[:4], str(model), *train_args[5:]], work) != 0:
        raise RuntimeError(f"the reference model did not train: {(work / 'run.log').read_text()[-2000:]}")
    frames = work / "frames"
    frames.mkdir(exist_ok=True)
    for i in range(12):
        np.save(frames / f"f{i:02d}.npy", np.random.default_rng(i).random((16, 16, 16), np.float32))
    out: list[Case] = []
    if "train" in which:
        out.append(
            Case(
                "train",
                train_args,
                ("m.h5", "m.ckpt.h5"),
                lambda f: _valid_model(f / "m.h5") or _valid_checkpoint(f / "m.ckpt.h5"),
                lambda f: train_args + (["--resume"] if (f / "m.ckpt.h5").exists() else ["--force"]),
                _same_model(model, "m.h5"),
            )
        )
    if "import" in which:
        imp = [
            "data",
            "import",
            *sorted(str(p) for p in frames.glob("*.npy")),
            "-o",
            "d.h5",
            "--quiet",
            "--params-range",
            "0:1",
            "--train-stride",
            "2",
        ]
        out.append(
            Case("import", imp, ("d.h5",), lambda f: _valid_dataset(f / "d.h5"), lambda f: imp + ["--force"])
        )
    if "export-frame" in which:
        exp = [
            "export-frame",
            "--model",
            str(model),
            "--renderer",
            "torch",
            "--size",
            "96x64",
            "--spp",
            "4",
            "--out",
            "f.png",
        ]
        out.append(
            Case(
                "export-frame",
                exp,
                ("f.png",),
                lambda f: _valid_png(f / "f.png"),
                lambda f: exp + ["--force"],
            )
        )
    anim = ["export-animation", "--model", str(model), "--renderer", "torch", "--size", "64x48", "--spp", "2",
            "--sweep", "param:t", "--range", "0,1", "--frames", "4", "--out", "frames"]
    if "export-animation" in which:
        out.append(
            Case(
                "export-animation",
                anim,
                ("frames",),
                lambda f: _valid_pngs(f / "frames", 4),
                lambda f: anim + ["--force"],
            )
        )
    if "export-mp4" in which:
        mp4 = [*anim[: anim.index("--out")], "--out", "a.mp4", "--fps", "4"]
        out.append(
            Case("export-mp4", mp4, ("a.mp4",), lambda f: _valid_mp4(f / "a.mp4", 4), lambda f: mp4 + ["--force"])
        )
    if "decode" in which:
        dec = ["decode", "--model", str(model), "--resolution", "48", "-o", "v.nc", "--quiet"]
        out.append(
            Case("decode", dec, ("v.nc",), lambda f: _valid_h5(f / "v.nc"), lambda f: dec + ["--force"])
        )
    return out


COMMANDS = ("train", "import", "export-frame", "export-animation", "export-mp4", "decode")


