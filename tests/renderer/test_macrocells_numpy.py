"""The GL path's numpy macro cells equal the torch ones cell for cell (the GL and torch tracers skip the same
space, which their agreement tests rely on)."""

import numpy as np
import pytest
import torch

from hyperinr_renderer.fields import GridField
from hyperinr_renderer.macrocells import GridMacroCells, MacroCells, cell_value_ranges, cell_value_ranges_np
from hyperinr_renderer.transfer import TransferFunction


@pytest.mark.parametrize("shape,vpc", [((64, 64, 64), 8), ((33, 20, 47), 8), ((5, 9, 2), 4), ((17, 17, 17), 16),
                                       ((2, 2, 2), 8)])
def test_numpy_cells_equal_torch_cells(shape, vpc):
    rng = np.random.default_rng(sum(shape) + vpc)
    g = (rng.random(shape) ** 3).astype(np.float32)
    lo, hi = cell_value_ranges(torch.from_numpy(g), vpc)
    lo_np, hi_np = cell_value_ranges_np(g, vpc)
    np.testing.assert_array_equal(lo.numpy(), lo_np)
    np.testing.assert_array_equal(hi.numpy(), hi_np)
    # A transfer function that is transparent below 0.4 and over a gap: some cells empty, some not.
    tf = TransferFunction("magma", [(0.0, 0.0), (0.4, 0.0), (0.5, 0.3), (0.6, 0.0), (0.8, 0.0), (1.0, 0.6)])
    table = tf.table(256)
    ref = MacroCells(GridField(torch.from_numpy(g)), voxels_per_cell=vpc)
    ref.refresh(tf, torch.from_numpy(table))
    cells = GridMacroCells(g, vpc)
    cells.refresh(table)
    np.testing.assert_array_equal(ref.max_alpha.numpy(), cells.max_alpha)
    assert cells.scale.tolist() == pytest.approx(ref.scale.tolist())
    b_ref, b = ref.bounds(), cells.bounds()
    assert (b_ref is None) == (b is None)
    if b is not None:
        np.testing.assert_allclose(b_ref[0].numpy(), b[0], rtol=1e-6)
        np.testing.assert_allclose(b_ref[1].numpy(), b[1], rtol=1e-6)


def test_an_all_transparent_volume_has_no_occupied_cells():
    g = np.full((20, 20, 20), 0.1, np.float32)
    cells = GridMacroCells(g, 8)
    cells.refresh(TransferFunction("viridis", [(0.0, 0.0), (0.5, 0.0), (1.0, 1.0)]).table(256))
    assert not cells.occupied.any() and cells.bounds() is None
