"""The optional tiny-cuda-nn backend and the fast evaluator."""

import pytest
import torch

from hyperinr_core import INR, HashGridConfig, MLPConfig, hash_encode, mlp_forward
from hyperinr_core.model.backends import tcnn_available
from hyperinr_core.model.fast import FastINREvaluator

needs_tcnn = pytest.mark.skipif(not tcnn_available("cuda"), reason="needs CUDA + tinycudann")


def test_tcnn_is_never_used_on_cpu():
    assert tcnn_available("cpu") is False


@needs_tcnn
def test_tcnn_encoding_matches_reference_with_the_same_params():
    import tinycudann as tcnn

    cfg = HashGridConfig(3, 8, 4, 15, 4, 2.0)
    enc = tcnn.Encoding(3, cfg.to_tcnn(), dtype=torch.float32).cuda()
    assert enc.params.numel() == cfg.n_params
    p = torch.empty(cfg.n_params, device="cuda").uniform_(-1, 1)
    with torch.no_grad():
        enc.params.copy_(p)
    x = torch.rand(4096, 3, device="cuda")
    torch.testing.assert_close(enc(x).float(), hash_encode(x, p, cfg), atol=1e-4, rtol=1e-4)


@needs_tcnn
def test_tcnn_network_matches_reference_with_the_same_params():
    import tinycudann as tcnn

    cfg = MLPConfig(32, 1)
    net = tcnn.Network(32, 1, cfg.to_tcnn()).cuda()
    assert net.params.numel() == cfg.n_params
    p = cfg.init_params().cuda()
    with torch.no_grad():
        net.params.copy_(p.to(net.params.dtype))
    h = torch.rand(1024, 32, device="cuda")
    torch.testing.assert_close(net(h).float(), mlp_forward(h, p, cfg), atol=5e-3, rtol=5e-2)


@pytest.mark.parametrize("compile", [False, True])
def test_fast_evaluator_matches_reference(compile):
    g = torch.Generator().manual_seed(0)
    enc, mlp = HashGridConfig(3, 4, 2, 10, 4, 2.0), MLPConfig(8, 1, 16, 2)
    inr = INR(torch.randn(enc.n_params, generator=g), mlp.init_params(g), enc, mlp)
    ev = FastINREvaluator(enc, mlp, compile=compile, chunk=256)
    x = torch.rand(1000, 3, generator=g)  # not a multiple of the chunk: exercises padding
    torch.testing.assert_close(ev(inr, x), inr(x), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ev.sample_grid(inr, (4, 5, 6)), inr.sample_grid((4, 5, 6)), atol=1e-5, rtol=1e-5)


def test_background_compile_evaluates_correctly_before_and_after_it_lands():
    g = torch.Generator().manual_seed(1)
    enc, mlp = HashGridConfig(3, 3, 2, 9, 4, 2.0), MLPConfig(6, 1, 16, 2)
    inr = INR(torch.randn(enc.n_params, generator=g), mlp.init_params(g), enc, mlp)
    x = torch.rand(700, 3, generator=g)
    ev = FastINREvaluator(enc, mlp, compile=True, chunk=256, background=True)
    before = ev(inr, x)  # eager, or compiled if the warm-up already landed: both must be right
    assert ev.wait_compiled(timeout=600), "background compilation did not finish"
    after = ev(inr, x)
    torch.testing.assert_close(before, inr(x), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(after, inr(x), atol=1e-5, rtol=1e-5)
    assert not ev._warmup_thread.is_alive()


def test_shared_evaluator_is_one_per_shape():
    from hyperinr_core.model.fast import shared_evaluator

    enc, mlp = HashGridConfig(3, 2, 2, 8, 4, 2.0), MLPConfig(4, 1, 16, 2)
    a = shared_evaluator(enc, mlp, compile=False)
    assert shared_evaluator(enc, mlp, compile=False) is a
    assert shared_evaluator(HashGridConfig(3, 3, 2, 8, 4, 2.0), mlp, compile=False) is not a


def test_backend_registry_picks_torch_on_cpu_and_names_what_cannot_run():
    from hyperinr_core.model.backends import BackendUnavailable, force_backend, select_backend

    assert select_backend("cpu").name == "torch"
    with pytest.raises(BackendUnavailable, match="tcnn"):
        select_backend("cpu", "tcnn")
    with pytest.raises(BackendUnavailable, match="unknown backend 'cuda'"):
        force_backend("cuda")
    force_backend("torch", "cpu")
    try:
        assert select_backend("cpu").name == "torch"
    finally:
        force_backend(None)


def test_backend_environment_variable_forces_and_is_checked(monkeypatch):
    from hyperinr_core.model.backends import BackendUnavailable, select_backend

    monkeypatch.setenv("HYPERINR_BACKEND", "tcnn")
    with pytest.raises(BackendUnavailable, match="not available on cpu"):
        select_backend("cpu")
    monkeypatch.setenv("HYPERINR_BACKEND", "fast")
    with pytest.raises(BackendUnavailable, match="HYPERINR_BACKEND"):
        select_backend("cpu")


def test_coordnet_leaves_cpu_matmul_precision_alone():
    from hyperinr_core.model.coordnet import CoordNet, CoordNetConfig

    net = CoordNet(CoordNetConfig.preset("cpu", 4, 1))
    before = torch.get_float32_matmul_precision()
    net(torch.rand(8, 4))
    assert torch.get_float32_matmul_precision() == before


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_coordnet_runs_tf32_on_cuda_and_restores_the_precision():
    from hyperinr_core.model.coordnet import CoordNet, CoordNetConfig

    net = CoordNet(CoordNetConfig.preset("paper", 4, 1)).cuda()
    x = torch.rand(4096, 4, device="cuda")
    before = torch.get_float32_matmul_precision()
    with torch.no_grad():
        tf32 = net(x)
        net.tf32 = False
        fp32 = net(x)
    assert torch.get_float32_matmul_precision() == before
    assert float((tf32 - fp32).abs().max()) < 2e-2
