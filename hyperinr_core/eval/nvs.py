"""Novel view synthesis (NVS) evaluation: the LERP image baseline, per-view scores, the paired test of
PSNR(model) - PSNR(LERP) and the paper's figure 12.

The paper (section 6.1) scores HyperINR and LERP at every held-out view, tests whether the PSNR differences
are greater than zero with a one-sample t-test (p = 1.2e-12 on MPAS) and shows the differences in the
(theta, phi) plane next to their kernel density estimate (figure 12).

LERP for images is inverse-distance weighting (p = 1) of the K nearest training images in the normalized
parameter square, K the model's own KD-tree K, so both methods blend the same neighbourhoods: HyperINR
blends encoders, LERP blends pixels. It is exact at training views.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from hyperinr_core.errors import HyperINRError
from hyperinr_core.fileio import atomic_path

__all__ = [
    "nvs_encoder_positions",
    "image_lerp",
    "model_k",
    "DifferenceTest",
    "ViewScores",
    "difference_test",
    "view_scores",
    "evaluate_views",
    "format_difference",
    "plot_view_differences",
]


def nvs_encoder_positions(n: int, seed: int = 0) -> np.ndarray:
    """``(n, 2)`` encoder positions in the normalized view square: Bridson Poisson disk (paper, figure 4A)."""
    from hyperinr_core.model.positions import poisson_disk_positions

    return poisson_disk_positions(2, count=max(2, int(n)), seed=seed)


def image_lerp(ds: Any, k_neighbours: int = 8):
    """The LERP baseline of an open image dataset as an :class:`~hyperinr_core.eval.evaluate.Method`.

    ``predict(u (2,) normalized) -> (H, W, C)`` data units: inverse-distance weights (p = 1) over the
    ``k_neighbours`` nearest training views (KD-tree); a training view returns its own image.
    """
    from hyperinr_core.eval.baselines import Lerp
    from hyperinr_core.eval.evaluate import Method

    if ds.dim < 2:
        raise HyperINRError(f"{ds.path}: image LERP over view directions needs 2 parameters, got {ds.dim}")
    lerp = Lerp(ds, k_neighbours=k_neighbours)
    return Method("LERP", lerp.predict, f"IDW of {len(lerp.train)} training views, K={lerp.k}")


def model_k(path: str | os.PathLike, default: int = 8) -> int:
    """The KD-tree K of a HyperINR model file (``default`` for other model kinds), so LERP blends as many
    neighbours as the model does."""
    from hyperinr_core.model.modelfile import peek_kind, read_model_file

    path = os.fspath(path)
    if peek_kind(path) != "hyperinr":
        return default
    return int(read_model_file(path, kind="hyperinr").config.get("k_neighbours", default))


@dataclass
class DifferenceTest:
    """One-sample t-test of per-view PSNR differences (dB) against 0.

    Attributes:
        n: views with a finite difference.
        mean, std, median: of the differences (std with ddof = 1).
        t: the t statistic.
        p_greater: one-sided p-value for "the mean difference is > 0" (the paper's hypothesis).
        p_two_sided: two-sided p-value.
        wins: views where the model's PSNR is higher.
    """

    n: int
    mean: float
    std: float
    median: float
    t: float
    p_greater: float
    p_two_sided: float
    wins: int

    def to_dict(self) -> dict:
        return asdict(self)


def difference_test(diff: np.ndarray) -> DifferenceTest:
    """:class:`DifferenceTest` of ``diff (N,)`` (non-finite entries are left out) via ``ttest_1samp``."""
    from scipy import stats

    d = np.asarray(diff, np.float64).reshape(-1)
    d = d[np.isfinite(d)]
    if len(d) < 2:
        raise HyperINRError(f"a t-test needs at least 2 finite PSNR differences, got {len(d)}")
    greater = stats.ttest_1samp(d, 0.0, alternative="greater")
    both = stats.ttest_1samp(d, 0.0)
    return DifferenceTest(
        n=len(d),
        mean=float(d.mean()),
        std=float(d.std(ddof=1)),
        median=float(np.median(d)),
        t=float(greater.statistic),
        p_greater=float(greater.pvalue),
        p_two_sided=float(both.pvalue),
        wins=int((d > 0).sum()),
    )


@dataclass
class ViewScores:
    """Per-view scores of a model and a baseline at the same views.

    Attributes:
        params: (N, 2) view parameters in user units (degrees).
        frames: (N,) dataset frame indices.
        psnr_model, psnr_base, ssim_model, ssim_base: (N,) float64 (SSIM NaN when not computed).
        model, base: method names; param_names: the two parameter names.
    """

    params: np.ndarray
    frames: np.ndarray
    psnr_model: np.ndarray
    psnr_base: np.ndarray
    ssim_model: np.ndarray
    ssim_base: np.ndarray
    model: str
    base: str
    param_names: list[str]

    @property
    def diff(self) -> np.ndarray:
        """(N,) PSNR(model) - PSNR(base) in dB."""
        return self.psnr_model - self.psnr_base

    def test(self) -> DifferenceTest:
        return difference_test(self.diff)


def view_scores(report: Any, model: str | None = None, base: str = "LERP") -> ViewScores:
    """Per-view scores from an :class:`~hyperinr_core.eval.evaluate.EvalReport`; ``model`` defaults to its first
    method that is not ``base``."""
    names = list(report.methods)
    if base not in names:
        raise HyperINRError(f"the evaluation has no {base!r} scores (methods: {', '.join(names)})")
    if model is None:
        others = [n for n in names if n != base]
        if not others:
            raise HyperINRError("the evaluation has no model scores besides the baseline")
        model = others[0]
    rows = report.rows

    def col(name: str, key: str) -> np.ndarray:
        return np.array([np.nan if r[name].get(key) is None else r[name][key] for r in rows], np.float64)

    return ViewScores(
        params=np.array([r["params"] for r in rows], np.float64).reshape(len(rows), -1),
        frames=np.array([r["frame"] for r in rows], np.int64),
        psnr_model=col(model, "psnr"),
        psnr_base=col(base, "psnr"),
        ssim_model=col(model, "ssim"),
        ssim_base=col(base, "ssim"),
        model=model,
        base=base,
        param_names=list(report.param_names),
    )


def evaluate_views(
    ds: Any,
    model_path: str | os.PathLike,
    device: Any = "cpu",
    with_ssim: bool = True,
    progress: bool = True,
) -> tuple[Any, ViewScores]:
    """Score an NVS model and LERP (same K) at the held-out views of the open dataset ``ds``.

    Returns the :class:`~hyperinr_core.eval.evaluate.EvalReport` and its :class:`ViewScores`.
    """
    import torch

    from hyperinr_core.eval.evaluate import evaluate, load_method

    method = load_method(model_path, ds, torch.device(device))
    k = model_k(model_path)
    report = evaluate(ds, [method, image_lerp(ds, k)], with_ssim=with_ssim, progress=progress)
    return report, view_scores(report, method.name)


def format_difference(test: DifferenceTest, model: str = "HyperINR", base: str = "LERP") -> str:
    """Two lines for the terminal: the mean difference and the t-test."""
    return (
        f"PSNR({model}) - PSNR({base}) over {test.n} held-out views: mean {test.mean:+.3f} dB "
        f"(std {test.std:.3f}, median {test.median:+.3f}; {model} better on {test.wins}/{test.n})\n"
        f"one-sample t-test of the difference > 0: t = {test.t:.3f}, p = {test.p_greater:.3g} "
        f"(two-sided p = {test.p_two_sided:.3g})"
    )


def plot_view_differences(
    scores: ViewScores,
    path: str | os.PathLike,
    train_params: np.ndarray | None = None,
    param_lo: np.ndarray | None = None,
    param_hi: np.ndarray | None = None,
    title: str | None = None,
) -> DifferenceTest:
    """The paper's figure 12: held-out views in the (theta, phi) plane coloured by PSNR(model) - PSNR(base)
    (diverging colours centred on 0; training views as grey dots), and the kernel density estimate of the
    differences with the t-test result. Written atomically as PNG; returns the test.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.colors import TwoSlopeNorm
    except ImportError:
        raise HyperINRError("plotting needs matplotlib (pip install matplotlib)") from None
    from scipy.stats import gaussian_kde

    test = scores.test()
    d = scores.diff
    ok = np.isfinite(d)
    p = scores.params
    # phi (azimuth) across, theta (polar) down, as a map of the view sphere is usually read.
    names = scores.param_names
    ix, iy = (1, 0) if names[:2] == ["theta", "phi"] else (0, 1)
    fig, (ax, kx) = plt.subplots(1, 2, figsize=(11, 4.4), dpi=120, gridspec_kw={"width_ratios": [1.35, 1]})
    lim = float(np.nanmax(np.abs(d[ok]))) if ok.any() else 1.0
    lim = lim if lim > 0 else 1.0
    norm = TwoSlopeNorm(vcenter=0.0, vmin=-lim, vmax=lim)
    if train_params is not None and len(train_params):
        tp = np.asarray(train_params, np.float64)
        ax.scatter(tp[:, ix], tp[:, iy], s=10, c="0.7", marker="x", lw=0.8, label="training views")
    sc = ax.scatter(
        p[ok, ix],
        p[ok, iy],
        c=d[ok],
        cmap="RdBu_r",
        norm=norm,
        s=42,
        edgecolors="0.2",
        linewidths=0.4,
        label="held-out views",
    )
    cb = fig.colorbar(sc, ax=ax, pad=0.02)
    cb.set_label(f"PSNR({scores.model}) − PSNR({scores.base}) (dB)")
    ax.set_xlabel(f"{names[ix]} (degrees)")
    ax.set_ylabel(f"{names[iy]} (degrees)")
    if param_lo is not None and param_hi is not None:
        ax.set_xlim(param_lo[ix], param_hi[ix])
        ax.set_ylim(param_hi[iy], param_lo[iy])  # theta = 0 (top of the sphere) at the top
    else:
        ax.invert_yaxis()
    ax.legend(loc="upper right", fontsize=7, framealpha=0.8)
    ax.set_title("held-out views in the parameter plane", fontsize=10)

    dd = d[ok]
    if len(dd) >= 2 and np.ptp(dd) > 0:
        grid = np.linspace(dd.min() - 0.15 * np.ptp(dd), dd.max() + 0.15 * np.ptp(dd), 400)
        dens = gaussian_kde(dd)(grid)
        kx.fill_between(grid, dens, color="tab:blue", alpha=0.25)
        kx.plot(grid, dens, color="tab:blue", lw=1.5)
    kx.plot(dd, np.zeros_like(dd), "|", color="0.3", ms=10)
    kx.axvline(0.0, color="0.3", lw=1, ls="--")
    kx.axvline(test.mean, color="tab:red", lw=1.2, label=f"mean {test.mean:+.2f} dB")
    kx.set_xlabel(f"PSNR({scores.model}) − PSNR({scores.base}) (dB)")
    kx.set_ylabel("density")
    p_txt = f"{test.p_greater:.2g}" if test.p_greater >= 1e-300 else "< 1e-300"
    kx.set_title(f"one-sample t-test, difference > 0: t = {test.t:.2f}, p = {p_txt}", fontsize=10)
    kx.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return test
