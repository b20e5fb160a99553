"""Smoke plume solver: divergence-free projection, conservation, rising plume, determinism, and the CLI."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hyperinr_app.cli import main
from hyperinr_core.data.dataset import open_dataset
from hyperinr_core.data.plume import PlumeConfig, PlumeSolver, simulate_plume


def _gradient_scale(s: PlumeSolver) -> float:
    """max |u| / h: the size of a velocity difference across one cell, the scale of a divergence."""
    return float(s.centred_velocity().abs().amax()) / s.h


@pytest.mark.parametrize("dtype, tol", [("float32", 1e-5), ("float64", 1e-12)])
def test_projection_makes_a_random_field_divergence_free(dtype, tol):
    s = PlumeSolver(PlumeConfig(resolution=16, dtype=dtype))
    g = torch.Generator().manual_seed(1)
    for name in "uvw":
        setattr(s, name, torch.randn(getattr(s, name).shape, generator=g, dtype=s.dtype))
    s.w[0] = s.w[-1] = 0.0
    s.u[:, :, 0] = s.u[:, :, -1] = 0.0
    s.v[:, 0] = s.v[:, -1] = 0.0
    before = _gradient_scale(s)
    assert s.max_divergence() > 0.1 * before  # a random field is far from divergence-free
    s.project()
    assert s.max_divergence() < tol * _gradient_scale(s)
    assert _gradient_scale(s) > 0.1 * before  # only the gradient part was removed
    w = s.w.clone()
    s.project()  # a divergence-free field is left as it is
    torch.testing.assert_close(s.w, w, atol=10 * tol * float(w.abs().max()), rtol=0)


def test_flow_stays_divergence_free_and_walls_closed():
    s = PlumeSolver(PlumeConfig(resolution=20))
    s.advance_to(0.5)
    assert s.max_divergence() < 1e-5 * _gradient_scale(s)
    for wall in (s.w[0], s.w[-1], s.u[:, :, 0], s.u[:, :, -1], s.v[:, 0], s.v[:, -1]):
        assert float(wall.abs().max()) == 0.0


def test_density_changes_only_by_the_injected_amount():
    """Flux-form advection in a closed box: the total is the initial puff plus what the source added."""
    s = PlumeSolver(PlumeConfig(resolution=20))
    m0 = s.total_density()
    s.advance_to(1.0)
    assert s.injected > 2 * m0  # the source did add a substantial amount
    assert s.total_density() == pytest.approx(m0 + s.injected, rel=1e-5)
    assert float(s.density.min()) >= -1e-6 * float(s.density.max())


def test_density_is_conserved_with_the_source_off():
    s = PlumeSolver(PlumeConfig(resolution=16, source_rate=0.0))
    m0 = s.total_density()
    s.advance_to(1.0)
    assert s.injected == 0.0
    assert s.total_density() == pytest.approx(m0, rel=1e-5)
    assert float(s.density.std()) > 0  # the puff is still there, it did not smear to nothing


def test_plume_rises():
    heights, tops = [], []

    def record(s: PlumeSolver) -> None:
        heights.append(s.centroid()[2])
        smoky = (s.density > 0.01 * s.density.max()).any(dim=2).any(dim=1)  # per z layer
        tops.append((int(torch.nonzero(smoky).max()) + 0.5) * s.h)

    cfg = PlumeConfig(resolution=16, n_frames=4, t_end=1.5)
    for _ in simulate_plume(cfg, progress=False, callback=record):
        pass
    assert all(b > a for a, b in zip(heights, heights[1:], strict=False))
    assert heights[-1] - heights[0] > 0.1  # box heights (the nozzle keeps adding smoke at the bottom)
    assert tops[-1] - tops[0] > 0.3  # the smoke front climbs a third of the box


def test_deterministic_for_a_seed():
    cfg = PlumeConfig(resolution=16, n_frames=3, t_end=0.6)
    a = [f for _, f in simulate_plume(cfg, progress=False)]
    b = [f for _, f in simulate_plume(cfg, progress=False)]
    np.testing.assert_array_equal(np.stack(a), np.stack(b))
    cfg.seed = 1
    c = [f for _, f in simulate_plume(cfg, progress=False)]
    assert np.abs(c[-1] - a[-1]).max() > 1e-3 * a[-1].max()


def test_cli_demo_plume_tiny(tmp_path, capsys):
    out = tmp_path / "plume.h5"
    args = ["data", "demo", "plume", "-o", str(out), "--resolution", "12", "--frames", "6", "--quiet"]
    args += ["--t-end", "0.5", "--seed", "2"]
    assert main(args + ["--train-stride", "2"]) == 0
    with open_dataset(out) as d:
        assert d.task == "tsr" and d.param_names == ["t"] and d.frame_shape == (12, 12, 12)
        assert d.n_frames == 6
        np.testing.assert_allclose(d.params[:, 0], np.linspace(0, 0.5, 6))
        assert list(d.param_lo) == [0.0] and list(d.param_hi) == [0.5]
        np.testing.assert_array_equal(d.train_indices, [0, 2, 4])
        frames = d.frames(range(6))
        assert frames.min() >= 0 and frames[-1].sum() > frames[0].sum()  # smoke is added over time
        assert d.attrs["seed"] == 2
    capsys.readouterr()
    before = out.read_bytes()
    assert main(args) == 2  # exists: not overwritten without --force
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "output exists" in err[0]
    assert out.read_bytes() == before
    assert main(args + ["--force", "--train-stride", "3"]) == 0
    with open_dataset(out) as d:
        np.testing.assert_array_equal(d.train_indices, [0, 3])


@pytest.mark.parametrize(
    "bad, message",
    [
        (["--resolution", "4"], "--resolution"),
        (["--frames", "1"], "--frames"),
        (["--train-stride", "0"], "--train-stride"),
        (["--t-end", "-1"], "--t-end"),
        (["--device", "nonsense"], "--device"),
    ],
)
def test_cli_demo_plume_bad_arguments(tmp_path, capsys, bad, message):
    out = tmp_path / "p.h5"
    assert main(["data", "demo", "plume", "-o", str(out), "--quiet", *bad]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert not out.exists()
