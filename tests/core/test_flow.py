"""The flow teacher: a coarse-to-fine optical flow estimator and motion-compensated interpolation of the
training frames, which moves features where LERP cross-fades them and falls back to LERP where motion
does not explain the frames."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hyperinr_core.data.dataset import open_dataset
from hyperinr_core.data.dataset_writer import write_dataset
from hyperinr_core.errors import HyperINRError
from hyperinr_core.eval.baselines import Lerp
from hyperinr_core.train.flow import FlowConfig, FlowTeacher
from hyperinr_core.train.flow_estimate import estimate_flow
from hyperinr_core.train.flow_motion import FlowCache, consistency
from hyperinr_core.train.flow_ops import gaussian_blur, spline_coefficients, warp, warp_cubic
from hyperinr_core.train.teachers import Teacher

from .training_helpers import one_thread

_one_thread = pytest.fixture(autouse=True, scope="module")(one_thread)

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _grid(n: int) -> tuple[np.ndarray, ...]:
    return np.meshgrid(*[np.arange(n, dtype=np.float64)] * 3, indexing="ij")


def _blob(n: int, centre, sigma: float = 2.5) -> np.ndarray:
    z, y, x = _grid(n)
    r2 = (z - centre[0]) ** 2 + (y - centre[1]) ** 2 + (x - centre[2]) ** 2
    return np.exp(-r2 / (2 * sigma**2)).astype(np.float32)


def _centroid(f: np.ndarray) -> np.ndarray:
    w = f / f.sum()
    return np.array([(w * g).sum() for g in _grid(f.shape[0])])


def _argmax(f: np.ndarray) -> np.ndarray:
    return np.array(np.unravel_index(int(np.argmax(f)), f.shape), np.float64)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / np.mean((a.astype(np.float64) - b) ** 2)))


def _smooth_field(shape, seed: int, sigma: float = 2.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    f = gaussian_blur(torch.randn(1, 1, *shape, generator=g), sigma)
    return (f - f.min()) / (f.max() - f.min())


# -- the estimator -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("device", DEVICES)
def test_estimator_recovers_a_known_smooth_displacement(device):
    n = 32
    b = _smooth_field((n, n, n), seed=0).to(device)
    z, y, x = (torch.as_tensor(g, dtype=torch.float32, device=device) for g in _grid(n))
    c = (n - 1) / 2
    ang = torch.tensor(0.1)
    # a rotation about the z axis plus a smooth bump along z: up to ~2 voxels
    dy = (torch.cos(ang) - 1) * (y - c) - torch.sin(ang) * (x - c)
    dx = torch.sin(ang) * (y - c) + (torch.cos(ang) - 1) * (x - c)
    dz = 2.0 * torch.exp(-((z - c) ** 2 + (y - c) ** 2 + (x - c) ** 2) / (2 * 8.0**2))
    truth = torch.stack([dz, dy, dx])[None]
    a = warp(b, truth)  # b(x + truth(x)) = a(x)
    flow = estimate_flow(a, b)
    assert flow.shape == truth.shape and flow.device == a.device
    inner = (slice(None), slice(4, -4), slice(4, -4), slice(4, -4))
    epe = (flow - truth).norm(dim=1)[inner]
    assert truth.norm(dim=1).max() > 2.0
    assert epe.mean() < 0.25, float(epe.mean())


def test_estimator_handles_images_and_pure_translation():
    h, w = 48, 56
    b = _smooth_field((h, w), seed=1, sigma=3.0).expand(1, 3, h, w).clone()
    b[:, 1] = 1 - b[:, 1]  # channels differ: all of them constrain one shared motion
    shift = torch.tensor([2.5, -4.0]).view(1, 2, 1, 1).expand(1, 2, h, w)
    a = warp(b, shift)
    flow = estimate_flow(a, b)
    err = (flow - shift)[:, :, 6:-6, 6:-6].norm(dim=1)
    assert err.mean() < 0.2, float(err.mean())


def test_estimator_keeps_still_frames_still():
    a = _smooth_field((20, 20, 20), seed=2)
    assert estimate_flow(a, a.clone()).abs().max() < 1e-4


def test_estimator_rejects_mismatched_frames():
    with pytest.raises(HyperINRError, match="one shape"):
        estimate_flow(torch.zeros(1, 1, 8, 8, 8), torch.zeros(1, 1, 8, 8, 9))
    with pytest.raises(HyperINRError, match="smoothness"):
        FlowConfig(smoothness=0)


def test_consistency_trusts_inverse_flows_and_flags_contradictions():
    fwd = torch.full((1, 3, 12, 12, 12), 1.5)
    assert consistency(fwd, -fwd, FlowConfig()).min() > 0.99
    assert consistency(fwd, fwd, FlowConfig()).max() < 0.01  # both say "forward": one of them is wrong


def test_cubic_warp_interpolates_the_samples():
    f = _smooth_field((10, 11, 12), seed=3).numpy()
    coef = torch.from_numpy(spline_coefficients(f))
    out = warp_cubic(coef, torch.zeros(1, 3, 10, 11, 12))
    np.testing.assert_allclose(out.numpy(), f, atol=1e-5)


# -- the teacher, 1-D ----------------------------------------------------------------------------------------
def test_translating_blob_moves_instead_of_cross_fading():
    n = 28
    c0, c1 = np.array([10.0, 14.0, 9.0]), np.array([13.0, 12.0, 17.0])  # ~8.8 voxels apart
    frames = np.stack([_blob(n, c0), _blob(n, c1)])
    teacher = FlowTeacher.fit(frames, np.array([[0.0], [1.0]]))
    truth_c = 0.5 * (c0 + c1)
    truth = _blob(n, truth_c)
    flow = teacher.predict(np.array([0.5]))
    lerp = 0.5 * (frames[0] + frames[1])
    assert flow.shape == (n, n, n) and flow.dtype == np.float32
    assert np.linalg.norm(_centroid(flow) - truth_c) < 1.0
    assert np.linalg.norm(_argmax(flow) - truth_c) <= 1.0 and flow.max() > 0.9
    # LERP leaves two half-strength blobs where the frames had them: nothing at the true centre moves
    assert lerp.max() < 0.55 and np.linalg.norm(_argmax(lerp) - truth_c) > 3.5
    assert lerp[tuple(np.round(truth_c).astype(int))] < 0.3  # only the two half-blobs' tails reach it
    assert _psnr(flow, truth) > _psnr(lerp, truth) + 15


def test_exact_at_training_parameters_and_clamped_outside():
    n = 20
    u = np.array([0.0, 0.4, 1.0])
    frames = np.stack([_blob(n, (8 + 4 * t, 9, 10 - 3 * t)) for t in u])
    teacher = FlowTeacher.fit(frames, u[:, None])
    for i, ui in enumerate(u):
        np.testing.assert_array_equal(teacher.predict([ui]), frames[i])
    np.testing.assert_array_equal(teacher.predict([-0.3]), frames[0])
    np.testing.assert_array_equal(teacher.predict([1.7]), frames[-1])


def test_a_periodic_parameter_moves_across_the_wrap():
    """A blob circling the centre over one turn, frames at 0, 90, 180, 270 degrees (u = 0 .. 0.75): at 315
    degrees (u = 0.875) the flow teacher moves the blob halfway from the 270-degree frame to the 0-degree one
    (along the chord), where a teacher that does not wrap stays at the last frame."""
    n, r = 24, 6.0

    def centre(turn: float) -> np.ndarray:
        a = 2 * np.pi * turn
        return np.array([11.5, 11.5 + r * np.sin(a), 11.5 + r * np.cos(a)])

    def at(turn: float) -> np.ndarray:
        return _blob(n, centre(turn), sigma=2.0)

    u = np.array([0.0, 0.25, 0.5, 0.75])
    frames = np.stack([at(t) for t in u])
    wrapped = FlowTeacher.fit(frames, u[:, None], periodic=[True])
    clamped = FlowTeacher.fit(frames, u[:, None])
    assert len(wrapped.motion) == 4 and len(clamped.motion) == 3  # one more pair: 270 -> 360 = 0
    mid = 0.5 * (centre(0.75) + centre(1.0))  # flows move in straight lines: halfway along the chord
    truth = _blob(n, mid, sigma=2.0)
    got, stuck = wrapped.predict([0.875]), clamped.predict([0.875])
    np.testing.assert_array_equal(stuck, frames[-1])
    assert np.linalg.norm(_centroid(got) - mid) < 1.0
    assert _psnr(got, truth) > _psnr(stuck, truth) + 3  # (28.7 against 23.6 dB)
    np.testing.assert_array_equal(wrapped.predict([0.25]), frames[1])  # training frames stay exact
    idx, w = wrapped.weights([0.9])
    assert idx.tolist() == [3, 0] and w == pytest.approx([0.4, 0.6])


def test_unsorted_parameters_are_sorted():
    n = 16
    u = np.array([1.0, 0.0, 0.5])
    frames = np.stack([_blob(n, (5 + 6 * t, 8, 8)) for t in u])
    teacher = FlowTeacher.fit(frames, u)
    np.testing.assert_array_equal(teacher.predict([0.5]), frames[2])
    c = _centroid(teacher.predict([0.25]))
    assert abs(c[0] - 6.5) < 0.6


def test_zero_motion_is_lerp_in_one_and_two_dimensions(tmp_path):
    rng = np.random.default_rng(0)
    n = 12
    frames = rng.uniform(0, 1, (5, n, n, n)).astype(np.float32)
    for u in (np.array([[0.0], [0.3], [0.5], [0.8], [1.0]]), rng.uniform(0, 1, (5, 2))):
        teacher = FlowTeacher.fit(frames, u, FlowConfig(levels=1, warps=1, iterations=1))
        teacher.motion.zero_()
        path = tmp_path / f"d{u.shape[1]}.h5"
        write_dataset(
            path,
            "tsr",
            [f"p{k}" for k in range(u.shape[1])],
            [0.0] * u.shape[1],
            [1.0] * u.shape[1],
            u,
            frames,
        )
        with open_dataset(path) as ds:
            lerp = Lerp(ds)
            for q in rng.uniform(0, 1, (4, u.shape[1])):
                idx, w = teacher.weights(q)
                lidx, lw = lerp.weights(q)
                np.testing.assert_allclose(w, lw, rtol=1e-12)
                assert sorted(u[idx].round(12).tolist()) == sorted(u[lidx].round(12).tolist())
                np.testing.assert_allclose(teacher.predict(q), lerp.predict(q), atol=1e-5)


def test_intensity_change_without_motion_stays_close_to_lerp():
    # A pattern that brightens in place: the truth *is* the cross-fade; the teacher must not invent motion.
    n = 24
    base = _smooth_field((n, n, n), seed=4, sigma=1.5)[0, 0].numpy()
    t = np.linspace(0, 1, 9)
    frames = np.stack([(0.2 + 0.8 * ti) * base ** (1 + ti) for ti in t]).astype(np.float32)
    train = np.arange(9) % 2 == 0
    teacher = FlowTeacher.fit(frames[train], t[train])
    for i in np.flatnonzero(~train):
        lerp = 0.5 * (frames[i - 1] + frames[i + 1])
        assert _psnr(teacher.predict([t[i]]), frames[i]) > _psnr(lerp, frames[i]) - 1.0


@pytest.mark.parametrize("device", DEVICES)
def test_images_move_too(device):
    h, w = 40, 48
    yy, xx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")

    def disk(cy, cx):
        r = np.sqrt((yy - cy) ** 2 + (xx - cx) ** 2)
        a = np.clip(6.0 - r, 0, 1)
        return np.stack([a, 0.5 * a, 1 - a], axis=-1).astype(np.float32)

    frames = np.stack([disk(16, 18), disk(21, 26)])
    teacher = FlowTeacher.fit(frames, np.array([0.0, 1.0]), is_image=True, device=device)
    out = teacher.predict([0.5])
    truth = disk(18.5, 22)
    assert out.shape == (h, w, 3) and teacher.frame_shape == (h, w, 3)
    assert _psnr(out, truth) > _psnr(0.5 * (frames[0] + frames[1]), truth) + 8


# -- the teacher, n-D ----------------------------------------------------------------------------------------
def test_two_parameters_blob_moves_with_both():
    n = 24

    def centre(u):
        return np.array([12.0, 7.0 + 10.0 * u[0], 7.0 + 8.0 * u[1] + 2.0 * u[0]])

    g = np.linspace(0, 1, 3)
    u = np.array([[a, b] for a in g for b in g])
    frames = np.stack([_blob(n, centre(p)) for p in u])
    teacher = FlowTeacher.fit(frames, u, FlowConfig(flow_neighbours=4))
    assert isinstance(teacher, Teacher) and teacher.kind == "flow"
    for i, p in enumerate(u):
        np.testing.assert_array_equal(teacher.predict(p), frames[i])
    for q in (np.array([0.25, 0.25]), np.array([0.7, 0.4])):
        truth = _blob(n, centre(q))
        idx, w = teacher.weights(q)
        lerp = np.tensordot(w, frames[idx], axes=1)
        out = teacher.predict(q)
        assert np.linalg.norm(_centroid(out) - centre(q)) < 1.0
        assert _psnr(out, truth) > _psnr(lerp, truth) + 10


def test_bad_inputs_are_clear_errors():
    frames = np.zeros((2, 8, 8, 8), np.float32)
    with pytest.raises(HyperINRError, match="params_u"):
        FlowTeacher.fit(frames, np.zeros((3, 1)))
    with pytest.raises(HyperINRError, match="frames must be"):
        FlowTeacher.fit(np.zeros((2, 8, 8), np.float32), np.zeros((2, 1)))
    with pytest.raises(HyperINRError, match="NaN"):
        FlowTeacher.fit(np.full((2, 8, 8, 8), np.nan, np.float32), np.array([[0.0], [1.0]]))
    teacher = FlowTeacher.fit(frames, np.array([[0.0], [1.0]]))
    with pytest.raises(HyperINRError, match="parameter"):
        teacher.predict([0.1, 0.2])


def test_images_with_two_parameters_and_half_storage():
    h, w = 32, 40
    yy, xx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")

    def image(p):
        r = np.sqrt((yy - 10 - 12 * p[0]) ** 2 + (xx - 10 - 16 * p[1]) ** 2)
        a = np.clip(5.0 - r, 0, 1)
        return np.stack([a, 1 - a], axis=-1).astype(np.float32)

    g = np.linspace(0, 1, 3)
    u = np.array([[a, b] for a in g for b in g])
    frames = np.stack([image(p) for p in u])
    teacher = FlowTeacher.fit(frames, u, FlowConfig(store_half=True), is_image=True, progress=True)
    assert teacher.motion.dtype == torch.float16
    q = np.array([0.3, 0.6])
    idx, wt = teacher.weights(q)
    out = teacher.predict(q)
    assert out.shape == (h, w, 2) and out.dtype == np.float32
    assert _psnr(out, image(q)) > _psnr(np.tensordot(wt, frames[idx], axes=1), image(q)) + 6


def test_incoherent_frames_stay_as_good_as_lerp():
    # Unrelated frames whose in-between states are cross-fades (plus a twist): no motion explains them; the
    # flows the estimator still finds must not cost much against LERP (measured: within about 0.6 dB).
    n = 24
    base = [_smooth_field((n, n, n), seed=10 + i)[0, 0].numpy() for i in range(4)]
    frames = []
    for i in range(3):
        frames += [base[i], np.clip(0.5 * base[i] + 0.5 * base[i + 1] + 0.1 * np.sin(6 * base[i]), 0, 1)]
    frames = np.stack(frames + [base[3]]).astype(np.float32)
    t = np.linspace(0, 1, 7)
    train = np.arange(7) % 2 == 0
    teacher = FlowTeacher.fit(frames[train], t[train])
    for i in np.flatnonzero(~train):
        lerp = 0.5 * (frames[i - 1] + frames[i + 1])
        assert _psnr(teacher.predict([t[i]]), frames[i]) > _psnr(lerp, frames[i]) - 1.0


def test_flows_kept_from_a_fit_to_some_frames_serve_the_fit_to_all():
    # The selection fits a flow teacher to the frames it does not validate on, then the final one to all:
    # the pairs both fits need are estimated once, and the final teacher is the one a fresh fit gives.
    h, w = 24, 28
    yy, xx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")

    def image(p):
        r = np.sqrt((yy - 8 - 8 * p[0]) ** 2 + (xx - 8 - 10 * p[1]) ** 2)
        return np.clip(4.0 - r, 0, 1)[..., None].astype(np.float32)

    g = np.linspace(0, 1, 4)
    u = np.array([[a, b] for a in g for b in g])
    frames = np.stack([image(p) for p in u])
    cfg = FlowConfig(flow_neighbours=4)
    fit_i = np.array([i for i in range(len(u)) if i not in (5, 10)])
    cache = FlowCache()
    FlowTeacher.fit(frames[fit_i], u[fit_i], cfg, is_image=True, cache=cache, keys=fit_i)
    kept = len(cache)
    assert kept > 0 and cache.hits == 0 and cache.nbytes == kept * 2 * h * w * 4
    full = FlowTeacher.fit(frames, u, cfg, is_image=True, cache=cache, keys=np.arange(len(u)))
    fresh = FlowTeacher.fit(frames, u, cfg, is_image=True)
    assert 0 < cache.hits <= kept
    torch.testing.assert_close(full.motion, fresh.motion, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(full.reliability, fresh.reliability, atol=1e-4, rtol=1e-4)
    # other settings are other flows: the cache empties; a bound keeps what fits
    other = FlowConfig(flow_neighbours=2)
    FlowTeacher.fit(frames[:3], u[:3], other, is_image=True, cache=cache, keys=[0, 1, 2])
    assert len(cache) == 6
    small = FlowCache(max_bytes=3 * 2 * h * w * 4)
    FlowTeacher.fit(frames[:3], u[:3], cfg, is_image=True, cache=small, keys=[0, 1, 2])
    assert len(small) == 3 and small.nbytes <= small.max_bytes
    with pytest.raises(HyperINRError, match="keys"):
        FlowTeacher.fit(frames[:3], u[:3], cfg, is_image=True, cache=small, keys=[0, 1])


def test_one_dimensional_pairs_are_kept_too():
    n = 16
    u = np.linspace(0, 1, 5)[:, None]
    frames = np.stack([_blob(n, (8, 5 + 6 * t, 8)) for t in u[:, 0]])
    cache = FlowCache()
    FlowTeacher.fit(frames[[0, 1, 3]], u[[0, 1, 3]], cache=cache, keys=[0, 1, 3])
    full = FlowTeacher.fit(frames, u, cache=cache, keys=np.arange(5))
    assert cache.hits == 2  # 0 <-> 1, the one pair of neighbours both fits share
    torch.testing.assert_close(full.motion, FlowTeacher.fit(frames, u).motion, atol=1e-4, rtol=1e-4)
