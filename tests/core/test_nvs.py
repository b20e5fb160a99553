"""NVS evaluation: image LERP (IDW, exact at training views), the PSNR-difference t-test, figure 12."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from hyperinr_core.data.dataset import open_dataset
from hyperinr_core.data.dataset_writer import write_dataset
from hyperinr_core.errors import HyperINRError
from hyperinr_core.eval.evaluate import Method, evaluate
from hyperinr_core.eval.nvs import (
    difference_test,
    evaluate_views,
    format_difference,
    image_lerp,
    nvs_encoder_positions,
    plot_view_differences,
    view_scores,
)

from hyperinr_core.train.presets import nvs_distill_samples

from .training_helpers import one_thread

_one_thread = pytest.fixture(autouse=True, scope="module")(one_thread)


@pytest.fixture(scope="module")
def views(tmp_path_factory):
    """12 'views' of 6x7 RGB over (theta, phi) in [20, 160] x [0, 180]; even frames train."""
    rng = np.random.default_rng(0)
    params = np.column_stack([rng.uniform(20, 160, 12), rng.uniform(0, 180, 12)])
    h, w = np.meshgrid(np.linspace(0, 1, 6), np.linspace(0, 1, 7), indexing="ij")
    frames = np.stack(
        [np.stack([np.sin(4 * h + p[0] / 30), np.cos(3 * w + p[1] / 40), 0.5 + 0 * h], -1) for p in params]
    ).astype(np.float32)
    path = tmp_path_factory.mktemp("nvs") / "views.h5"
    write_dataset(
        path,
        "nvs",
        ["theta", "phi"],
        [20, 0],
        [160, 180],
        params,
        frames,
        train_mask=np.arange(12) % 2 == 0,
    )
    return str(path)


def test_image_lerp_is_exact_at_training_views_and_idw_between(views):
    with open_dataset(views) as ds:
        u = ds.normalized_params()
        lerp = image_lerp(ds, k_neighbours=3)
        for i in ds.train_indices:
            np.testing.assert_array_equal(lerp.predict(u[i]), ds.frame(i))
        # held-out view: inverse distance weights (p = 1) over the 3 nearest training views
        j = int(ds.test_indices[0])
        tr = ds.train_indices
        dist = np.linalg.norm(u[tr] - u[j], axis=1)
        near = np.argsort(dist)[:3]
        w = 1 / dist[near]
        want = sum(wi * ds.frame(int(tr[k])) for wi, k in zip(w / w.sum(), near, strict=True))
        np.testing.assert_allclose(lerp.predict(u[j]), want, rtol=1e-5, atol=1e-6)


def test_nvs_defaults_follow_the_paper():
    assert len(nvs_encoder_positions(177)) == 177
    assert nvs_distill_samples(100, "paper") == 1000 and nvs_distill_samples(100, "cpu") == 200


def test_image_lerp_needs_two_parameters(tmp_path):
    path = tmp_path / "one.h5"
    write_dataset(path, "nvs", ["t"], [0], [1], np.array([0.0, 1.0]), np.zeros((2, 4, 4, 3), np.float32))
    with open_dataset(path) as ds, pytest.raises(HyperINRError):
        image_lerp(ds)


def test_difference_test_matches_scipy_and_ignores_non_finite():
    d = np.array([0.5, 1.2, -0.3, 0.8, 0.9, 1.1, np.inf, np.nan])
    t = difference_test(d)
    ref = stats.ttest_1samp(d[:6], 0.0, alternative="greater")
    assert t.n == 6 and t.wins == 5
    assert t.t == pytest.approx(ref.statistic) and t.p_greater == pytest.approx(ref.pvalue)
    assert t.p_two_sided == pytest.approx(2 * ref.pvalue)
    assert t.mean == pytest.approx(d[:6].mean())
    assert difference_test(-d[:6]).p_greater > 0.9  # a worse model is not "significantly better"
    with pytest.raises(HyperINRError):
        difference_test(np.array([1.0]))
    assert "p = " in format_difference(t)


def test_view_scores_and_figure_12(views, tmp_path):
    with open_dataset(views) as ds:
        rng = np.random.default_rng(1)

        def near_truth(u):  # a better predictor than LERP: the true frame plus a little noise
            i = int(np.argmin(np.linalg.norm(ds.normalized_params() - u, axis=1)))
            return ds.frame(i) + 0.01 * rng.standard_normal(ds.frame_shape).astype(np.float32)

        rep = evaluate(ds, [Method("HyperINR", near_truth), image_lerp(ds, 4)], progress=False)
        train_params = ds.params[ds.train_indices]
        lo, hi = ds.param_lo, ds.param_hi
    s = view_scores(rep)
    assert s.model == "HyperINR" and s.base == "LERP"
    assert s.params.shape == (6, 2) and s.diff.shape == (6,)
    np.testing.assert_array_equal(s.frames, np.arange(1, 12, 2))
    assert (s.diff > 0).all() and np.isfinite(s.ssim_model).all()
    out = tmp_path / "fig12.png"
    test = plot_view_differences(s, out, train_params, lo, hi, title="tiny")
    assert test.wins == 6 and test.p_greater < 0.01
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(HyperINRError):
        view_scores(rep, base="nope")


@pytest.fixture(scope="module")
def nvs_model(views, tmp_path_factory):
    """A HyperINR trained for two steps on the views, with K = 2 (fewer than the 6 training views)."""
    from hyperinr_core.model.hyperinr import HyperINR
    from hyperinr_core.train.distill import DistillJob, distill

    model = tmp_path_factory.mktemp("nvs_model") / "m.h5"
    distill(DistillJob(views, str(model), teacher=None, preset="tiny", steps=2, progress=False))
    m = HyperINR.load(model)
    assert m.n_encoders == round(1.77 * 6)  # the paper's 177 encoders per 100 training views
    assert m.cfg.encoding.n_input_dims == 2 and m.cfg.encoding.base_resolution == 8
    m.cfg.k_neighbours = 2
    m.save(model)
    return str(model)


def test_evaluate_views_with_a_model_uses_its_k(views, nvs_model):
    with open_dataset(views) as ds:
        rep, s = evaluate_views(ds, nvs_model, progress=False)
        k2 = evaluate(ds, [image_lerp(ds, 2)], with_ssim=False, progress=False)
        k6 = evaluate(ds, [image_lerp(ds, 6)], with_ssim=False, progress=False)
    assert rep.methods == ["HyperINR", "LERP"]
    assert s.psnr_model.shape == (6,) and np.isfinite(s.psnr_model).all()
    # LERP blends as many neighbours as the model does
    np.testing.assert_allclose(s.psnr_base, [r["LERP"]["psnr"] for r in k2.rows])
    assert not np.allclose(s.psnr_base, [r["LERP"]["psnr"] for r in k6.rows])


def test_cli_evaluate_nvs_reports_the_test_and_draws_figure_12(views, nvs_model, tmp_path, capsys):
    from hyperinr_app.cli import main

    png, js = tmp_path / "fig12.png", tmp_path / "scores.json"
    args = ["evaluate", "--model", nvs_model, "--data", views, "--plot", str(png), "--json", str(js)]
    assert main(args + ["--quiet", "--no-ssim", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "PSNR(HyperINR) - PSNR(LERP) over 6 held-out views" in out and "t-test" in out
    assert png.read_bytes()[:4] == b"\x89PNG" and js.exists()
