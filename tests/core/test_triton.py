"""Triton kernels against the torch reference: on a CPU under Triton's interpreter (tests/conftest.py sets
``TRITON_INTERPRET=1``), compiled on CUDA. CUDA-only behaviour skips with "needs CUDA"."""

import numpy as np
import pytest
import torch

from hyperinr_core import INR, HashGridConfig, MLPConfig, hash_encode, mlp_forward
from hyperinr_core.model.backends import backend_status, force_backend, select_backend

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
pytestmark = pytest.mark.skipif(
    backend_status(DEVICE)["triton"] is not None,
    reason=f"triton unavailable in this process ({backend_status(DEVICE)['triton']}); "
    "test_triton_interpreted.py runs this file with the interpreter's own triton",
)
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@pytest.fixture
def triton_backend():
    force_backend("triton", DEVICE)
    yield select_backend(DEVICE)
    force_backend(None)


def _points(n, d, g):
    """Random points plus points on the faces x = 0 and x = 1 and on the cube's corners."""
    x = torch.rand(n, d, generator=g)
    x[:16, 0] = 0.0
    x[16:32, 0] = 1.0
    x[32:36] = 1.0
    x[36:40] = 0.0
    return x.to(DEVICE)


def _rel(a, b):
    a, b = a.detach(), b.detach()
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-30))


# The configurations of the core's tcnn-layout tests: 2-D and 3-D input, F in {1, 2, 4, 8}; log2 sizes
# small enough that the fine levels are hashed while the coarse ones stay dense.
CONFIGS = [HashGridConfig(d, 6, f, 10, 4, 1.8) for d in (2, 3) for f in (1, 2, 4, 8)]


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: f"d{c.n_input_dims}-F{c.n_features_per_level}")
def test_hash_grid_forward_and_table_gradient_match_the_reference(cfg):
    from hyperinr_core.model.triton_grid import encode

    dense = [int(r) ** cfg.n_input_dims <= int(s) for r, s in zip(cfg.level_resolutions, cfg.level_sizes)]
    assert any(dense) and not all(dense)  # both kinds of level are exercised
    g = torch.Generator().manual_seed(cfg.n_input_dims * 10 + cfg.n_features_per_level)
    x = _points(1100, cfg.n_input_dims, g)  # more than one program of points
    params = torch.randn(cfg.n_params, generator=g).to(DEVICE)
    p_ref, p_tri = params.clone().requires_grad_(), params.clone().requires_grad_()
    ref, out = hash_encode(x, p_ref, cfg), encode(x, p_tri, cfg)
    assert out.shape == ref.shape
    assert _rel(out, ref) < 1e-5
    gout = torch.randn(ref.shape, generator=g).to(DEVICE)
    (ref * gout).sum().backward()
    (out * gout).sum().backward()
    assert p_ref.grad.abs().max() > 0
    assert _rel(p_tri.grad, p_ref.grad) < 1e-4


def test_mixture_of_tables_matches_blending_first():
    """Set s encoded with sum_k w[s,k] T[idx[s,k]]: values and the gradient scattered into every table."""
    from hyperinr_core.model.triton_grid import encode_mixture

    cfg = HashGridConfig(3, 5, 4, 10, 4, 2.0)
    g = torch.Generator().manual_seed(3)
    tables = torch.randn(6, cfg.n_params, generator=g).to(DEVICE)
    kidx = torch.tensor([[0, 1, 2], [5, 5, 1], [3, 4, 0]], device=DEVICE)
    kw = torch.tensor([[0.2, 0.5, 0.3], [0.6, 0.1, 0.3], [1.0, 0.0, 0.0]], device=DEVICE)
    x = torch.stack([_points(150, 3, g) for _ in range(3)])
    t_ref, t_tri = tables.clone().requires_grad_(), tables.clone().requires_grad_()
    ref = hash_encode(x, torch.einsum("bk,bkp->bp", kw, t_ref[kidx]), cfg)
    out = encode_mixture(x, t_tri, kidx, kw, cfg)
    assert _rel(out, ref) < 1e-5
    gout = torch.randn(ref.shape, generator=g).to(DEVICE)
    (ref * gout).sum().backward()
    (out * gout).sum().backward()
    assert _rel(t_tri.grad, t_ref.grad) < 1e-4
    assert float(t_tri.grad[3].abs().max()) > 0  # weight 1 on table 3: its gradient is there


def _inr(enc, mlp, seed):
    g = torch.Generator().manual_seed(seed)
    return INR(torch.randn(enc.n_params, generator=g).mul_(0.5).to(DEVICE), mlp.init_params(g).to(DEVICE),
               enc, mlp), g


@pytest.mark.parametrize("shape", [(HashGridConfig(3, 8, 4, 12, 4, 2.0), MLPConfig(32, 1, 64, 4)),
                                   (HashGridConfig(2, 6, 2, 10, 8, 1.5), MLPConfig(12, 3, 32, 2)),
                                   (HashGridConfig(3, 3, 1, 9, 4, 2.0), MLPConfig(3, 1, 16, 1))],
                         ids=["paper", "2d-rgb", "tiny"])
def test_fused_inr_matches_the_reference(shape):
    from hyperinr_core.model.triton_inr import inr_forward

    enc, mlp = shape
    inr, g = _inr(enc, mlp, 5)
    x = _points(300, enc.n_input_dims, g)
    ref = inr(x)
    span = float(ref.max() - ref.min())
    assert span > 0
    fp32 = inr_forward(x, inr.enc_params, inr.mlp_params, enc, mlp, "fp32")
    assert fp32.shape == ref.shape and _rel(fp32, ref) < 1e-5
    fp16 = inr_forward(x, inr.enc_params, inr.mlp_params, enc, mlp, "fp16")
    assert float((fp16 - ref).abs().max()) < 2e-3 * span
    bf16 = inr_forward(x, inr.enc_params, inr.mlp_params, enc, mlp, "bf16")
    # bf16 keeps 8 bits of mantissa (torch's own bf16 MLP: ~6e-3 of the range here), and the interpreter
    # truncates instead of rounding.
    assert float((bf16 - ref).abs().max()) < 4e-2 * span


def test_fast_evaluator_and_decoder_use_the_kernel(triton_backend):
    from hyperinr_core.model.fast import FastINREvaluator

    enc, mlp = HashGridConfig(3, 4, 2, 10, 4, 2.0), MLPConfig(8, 1, 16, 2)
    inr, g = _inr(enc, mlp, 7)
    ev = FastINREvaluator(enc, mlp, device=DEVICE)
    assert ev.backend.name == "triton" and ev.mlp_dtype == torch.float16 and not ev.compiled
    ref = inr.sample_grid((5, 6, 7))
    span = float(ref.max() - ref.min())
    assert float((ev.sample_grid(inr, (5, 6, 7)) - ref).abs().max()) < 2e-3 * span
    exact = FastINREvaluator(enc, mlp, device=DEVICE, mlp_dtype=torch.float32)
    assert _rel(exact(inr, x := _points(100, 3, g)), inr(x)) < 1e-5


@pytest.mark.parametrize("dims", [1, 2])
def test_generation_matches_the_reference(dims):
    from hyperinr_core import HyperINR, HyperINRConfig

    enc = HashGridConfig(3, 4, 2, 10, 4, 2.0)
    cfg = HyperINRConfig(encoding=enc, mlp=MLPConfig(8, 1, 16, 2), param_names=[f"p{i}" for i in range(dims)],
                         param_lo=[0.0] * dims, param_hi=[1.0] * dims, k_neighbours=4)
    pos = np.linspace(0, 1, 5)[:, None] if dims == 1 else np.random.default_rng(0).uniform(0, 1, (12, 2))
    model = HyperINR(cfg, pos, generator=torch.Generator().manual_seed(0), device=DEVICE)
    with torch.no_grad():
        model.encoder_params.normal_()
    thetas = [[0.37] * dims, pos[2].tolist(), [1.0] * dims]
    refs = [model.generate(t).enc_params.clone() for t in thetas]
    force_backend("triton", DEVICE)
    try:
        for theta, ref in zip(thetas, refs):
            out = model.generate(theta)
            assert out.enc_params.data_ptr() == model._generation_buffer().data_ptr()
            torch.testing.assert_close(out.enc_params, ref, rtol=1e-5, atol=1e-6)
    finally:
        force_backend(None)


def test_one_training_step_updates_parameters_as_the_torch_path():
    from hyperinr_core import HyperINR, HyperINRConfig
    from hyperinr_core.train.distill import hyperinr_query

    enc = HashGridConfig(3, 4, 2, 10, 4, 2.0)
    cfg = HyperINRConfig(encoding=enc, mlp=MLPConfig(8, 1, 16, 2), param_names=["t"], param_lo=[0.0],
                         param_hi=[1.0])
    g = torch.Generator().manual_seed(1)
    u = torch.tensor([[0.1], [0.55], [0.9]])
    x = torch.rand(3, 200, 3, generator=g).to(DEVICE)
    y = torch.rand(3, 200, 1, generator=g).to(DEVICE)
    models = []
    for name in ("torch", "triton"):
        force_backend(name, DEVICE)
        try:
            model = HyperINR(cfg, np.linspace(0, 1, 4)[:, None], generator=torch.Generator().manual_seed(2),
                             device=DEVICE)
            with torch.no_grad():
                model.encoder_params.normal_(0, 0.1, generator=torch.Generator().manual_seed(3))
            start = model.encoder_params.detach().clone()
            opt = torch.optim.Adam(model.parameters(), lr=1e-2, eps=1e-10)
            loss = (hyperinr_query(model)(u, x) - y).abs().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            models.append(model)
        finally:
            force_backend(None)
    ref, tri = models
    torch.testing.assert_close(tri.mlp.params, ref.mlp.params, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(tri.encoder_params, ref.encoder_params, rtol=1e-4, atol=1e-6)
    assert float((ref.encoder_params.detach() - start).abs().max()) > 1e-3  # the step moved the encoders


@needs_cuda
def test_generation_replays_a_cuda_graph():
    from hyperinr_core.model.triton_inr import GraphedBlend

    tables = torch.randn(5, 4096, device="cuda")
    out = torch.empty(4096, device="cuda")
    blend = GraphedBlend(tables, 2, out)
    assert blend.graph is not None
    for idx, w in (([0, 3], [0.25, 0.75]), ([4, 1], [0.5, 0.5])):
        blend(np.array(idx), np.array(w))
        torch.cuda.synchronize()
        torch.testing.assert_close(out, w[0] * tables[idx[0]] + w[1] * tables[idx[1]])


@needs_cuda
def test_triton_is_the_default_on_cuda():
    assert select_backend("cuda").name == "triton"


@pytest.mark.parametrize("dtype", [torch.float16, torch.float32])
def test_grid_decode_in_one_launch_matches_the_decoder(triton_backend, dtype):
    from hyperinr_renderer.decode import Decoder, DecoderConfig

    enc, mlp = HashGridConfig(3, 4, 2, 10, 4, 2.0), MLPConfig(8, 1, 16, 2)
    inr, _ = _inr(enc, mlp, 9)
    ref = inr.sample_grid((7, 9, 11)).clamp(0, 1)
    dec = Decoder(DecoderConfig(dtype=str(dtype).replace("torch.", ""), mlp_dtype="float32"), device=DEVICE)
    out = dec.decode(inr, (7, 9, 11))
    assert out.dtype == dtype and out.shape == ref.shape
    assert dec.evaluator(inr).backend.name == "triton"
    tol = 1e-3 if dtype == torch.float16 else 1e-5
    assert float((out.float() - ref).abs().max()) < tol * max(1.0, float(ref.abs().max()))
    assert float(ref.max() - ref.min()) > 0


def test_image_grid_decode_2d():
    from hyperinr_core.model.triton_inr import inr_decode_grid

    enc, mlp = HashGridConfig(2, 4, 2, 10, 4, 2.0), MLPConfig(8, 1, 16, 2)
    inr, _ = _inr(enc, mlp, 11)
    ref = inr.sample_grid((13, 6)).clamp(0, 1)
    out = inr_decode_grid(torch.empty(13, 6, device=DEVICE), inr.enc_params, inr.mlp_params, enc, mlp, "fp32")
    assert _rel(out, ref) < 1e-5


def test_one_dimensional_neighbours_on_the_device_match_the_host():
    """Training steps look up 1-D neighbours with torch ops on the batch's device (no sync)."""
    from hyperinr_core import HyperINR, HyperINRConfig

    cfg = HyperINRConfig(encoding=HashGridConfig(3, 2, 2, 8, 4, 2.0), mlp=MLPConfig(4, 1, 16, 1))
    model = HyperINR(cfg, np.array([[0.0], [0.2], [0.45], [1.0]]))
    u = torch.tensor([0.0, 0.1, 0.2, 0.3, 0.45, 0.99, 1.0, -0.5, 1.5], dtype=torch.float64)
    idx, w = model._neighbours_1d(u)
    ref_idx, ref_w = model.neighbours(u.numpy()[:, None])
    np.testing.assert_array_equal(idx.numpy(), ref_idx)
    np.testing.assert_allclose(w.numpy(), ref_w, rtol=1e-6, atol=1e-7)


def test_hyperinr_train_through_the_kernels_matches_the_torch_backend(tmp_path):
    """``hyperinr train --backend triton`` end to end (direct training, checkpoints, the held-out check):
    after the same steps from the same seed, the model decodes like the torch backend's."""
    from hyperinr_app.cli import main
    from hyperinr_core import HyperINR

    data = tmp_path / "tgv.h5"
    assert main(["data", "demo", "tgv", "-o", str(data), "--resolution", "16", "--frames", "8",
                 "--train-stride", "2", "--quiet"]) == 0
    volumes = {}
    for name in ("torch", "triton"):
        out = tmp_path / f"{name}.h5"
        try:
            assert main(["train", "--data", str(data), "-o", str(out), "--preset", "tiny", "--steps", "3",
                         "--device", DEVICE, "--backend", name, "--teacher", "none", "--threads", "1"]) == 0
        finally:
            force_backend(None)
        volumes[name] = HyperINR.load(out).generate([3.3]).sample_grid(12)
    span = float(volumes["torch"].max() - volumes["torch"].min())
    assert span > 0
    assert float((volumes["triton"] - volumes["torch"]).abs().max()) < 1e-3 * span


def test_packed_mlp_weights_are_reused_and_repacked_after_an_update():
    """The tracer evaluates one INR many times a frame: its weights are packed once, and again only after
    an in-place change (a training step)."""
    from hyperinr_core.model.triton_inr import inr_forward

    enc, mlp = HashGridConfig(3, 3, 2, 9, 4, 2.0), MLPConfig(6, 1, 16, 2)
    inr, g = _inr(enc, mlp, 13)
    x = _points(200, 3, g)
    a = inr_forward(x, inr.enc_params, inr.mlp_params, enc, mlp, "fp32")
    assert torch.equal(inr_forward(x, inr.enc_params, inr.mlp_params, enc, mlp, "fp32"), a)
    with torch.no_grad():
        inr.mlp_params.mul_(2.0)  # a ReLU MLP without biases, three matrices each doubled: 8x the output
    b = inr_forward(x, inr.enc_params, inr.mlp_params, enc, mlp, "fp32")
    torch.testing.assert_close(b, 8.0 * a, rtol=1e-5, atol=1e-6)
