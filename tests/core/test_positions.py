import numpy as np
import pytest

from hyperinr_core.positions import (
    gaussian_kernel_positions,
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
