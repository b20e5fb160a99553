import numpy as np
import pytest

from hyperinr_core.model.positions import (
    farthest_point_subset,
    gaussian_kernel_positions,
    inside_hull,
    poisson_disk_positions,
    uniform_positions,
    union_positions,
)


def test_uniform():
    p = uniform_positions(24)
    assert p.shape == (24, 1) and p[0, 0] == 0 and p[-1, 0] == 1
    assert np.allclose(np.diff(p[:, 0]), 1 / 23)


def test_poisson_disk_by_radius_respects_radius():
    p = poisson_disk_positions(2, radius=0.1, seed=1)
    d = np.linalg.norm(p[:, None] - p[None], axis=-1) + np.eye(len(p))
    assert d.min() >= 0.1 - 1e-9 and len(p) > 30
    assert np.all((p >= 0) & (p <= 1))


def test_poisson_disk_by_count():
    p = poisson_disk_positions(2, count=177, seed=0)
    assert len(p) == 177
    p3 = poisson_disk_positions(3, count=60, seed=0)
    assert p3.shape == (60, 3)


def test_gaussian_kernels_and_union():
    c = np.array([[0.5, 0.5, 0.5]])
    g = gaussian_kernel_positions(c, 50, 0.05, seed=0)
    assert g.shape == (50, 3) and np.abs(g - 0.5).max() < 0.3
    u = union_positions(g, g[:10], poisson_disk_positions(3, radius=0.3, seed=0))
    assert len(u) == 50 + len(poisson_disk_positions(3, radius=0.3, seed=0))
    with pytest.raises(ValueError):
        poisson_disk_positions(2)


def test_farthest_point_subset_is_spread_and_spans_the_square():
    p = poisson_disk_positions(2, count=48, seed=0)
    idx = farthest_point_subset(p, 16)
    assert len(set(idx.tolist())) == 16
    sub = p[idx]
    d = np.linalg.norm(sub[:, None] - sub[None], axis=-1) + np.eye(16)
    rng = np.random.default_rng(0)
    random_min = [
        (np.linalg.norm(r[:, None] - r[None], axis=-1) + np.eye(16)).min()
        for r in (p[rng.choice(48, 16, replace=False)] for _ in range(20))
    ]
    assert d.min() > np.median(random_min)  # better spread than a random subset
    assert sub.min(0).max() < 0.15 and sub.max(0).min() > 0.85  # reaches the edges of the square
    held_out = np.setdiff1d(np.arange(48), idx)
    assert inside_hull(p[held_out], sub).mean() >= 0.6
    np.testing.assert_array_equal(idx, farthest_point_subset(p, 16))  # deterministic
    with pytest.raises(ValueError):
        farthest_point_subset(p, 49)


def test_inside_hull():
    square = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], float)
    got = inside_hull(np.array([[0.5, 0.5], [1.0, 0.5], [1.2, 0.5], [-0.1, 0.0]]), square)
    np.testing.assert_array_equal(got, [True, True, False, False])
    assert inside_hull(np.zeros((0, 2)), square).shape == (0,)
