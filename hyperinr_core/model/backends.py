"""The backend registry: which implementation runs the hash grid, the INR and generation on a device.

- ``torch``: the reference (:mod:`.encoding`, :mod:`.mlp`), on every device; on a CPU the fast evaluator
  compiles it with ``torch.compile``. The one definition every other backend is tested against.
- ``triton``: Triton kernels (:mod:`.triton_grid`, :mod:`.triton_inr`): the fused INR forward, the hash
  grid's forward and backward over mixtures of K encoders (training), and generation as one launch captured
  in a CUDA graph. The default on CUDA when triton imports. On a CPU it runs only under
  ``TRITON_INTERPRET=1`` (Triton's interpreter: correct and slow; the tests use it).
- ``tcnn``: tiny-cuda-nn's fused kernels for decoding, fed the same parameter vectors (CUDA, when
  ``tinycudann`` is installed); training and generation use the reference.

Every caller (the hash grid module, the fast evaluator and so the decoder and the tracer's INR queries, the
training encoder, generation) asks :func:`select_backend`. A choice is forced with ``HYPERINR_BACKEND`` or,
for one process, :func:`force_backend` (the CLI's ``--backend``); a forced backend that cannot run on the
device is a :class:`BackendUnavailable` error naming why.
"""

from __future__ import annotations

import os
from functools import lru_cache

import torch

from hyperinr_core.device import triton_interpreted
from hyperinr_core.errors import HyperINRError
from hyperinr_core.model.encoding import HashGridConfig
from hyperinr_core.model.mlp import MLPConfig

__all__ = ["BACKENDS", "BACKEND_ENV", "Backend", "BackendUnavailable", "select_backend", "force_backend",
           "forced_backend", "backend_status", "triton_available", "tcnn_available", "tcnn_inr_module"]

BACKENDS = ("torch", "triton", "tcnn")
BACKEND_ENV = "HYPERINR_BACKEND"

_FORCED: list[str | None] = [None]


class BackendUnavailable(HyperINRError):
    """A forced backend cannot run on the requested device."""


def tcnn_available(device: str | torch.device | None = None) -> bool:
    if device is not None and torch.device(device).type != "cuda":
        return False
    if not torch.cuda.is_available():
        return False
    try:
        import tinycudann  # noqa: F401
    except Exception:  # ImportError, or a broken build raising at import
        return False
    return True


@lru_cache(maxsize=1)
def _triton_import_error() -> str | None:
    try:
        import triton  # noqa: F401
        import triton.language  # noqa: F401
    except Exception as exc:  # ImportError, or a broken install raising at import
        return f"triton does not import ({exc.__class__.__name__}: {exc}); pip install triton"
    return None


def _triton_problem(device: torch.device) -> str | None:
    # Devices first: triton is imported only where it could run. (Its bundled LLVM must not meet Mesa's
    # llvmpipe in a process that never uses it: importing both crashes some builds.)
    if device.type == "cuda" and not torch.cuda.is_available():
        return "CUDA is not available"
    if device.type != "cuda" and not (device.type == "cpu" and triton_interpreted()):
        return (f"triton runs on CUDA devices, not on {device.type} (on a CPU only under its interpreter, "
                "TRITON_INTERPRET=1, for tests)")
    return _triton_import_error()


def triton_available(device: str | torch.device) -> bool:
    return _triton_problem(torch.device(device)) is None


def backend_status(device: str | torch.device) -> dict[str, str | None]:
    """``{name: None if usable on device else why not}`` for every backend."""
    dev = torch.device(device)
    tcnn = None if tcnn_available(dev) else (
        "tiny-cuda-nn needs CUDA" if dev.type != "cuda" else "tinycudann is not installed")
    return {"torch": None, "triton": _triton_problem(dev), "tcnn": tcnn}


def force_backend(name: str | None, device: str | torch.device | None = None) -> None:
    """Force ``name`` for this process (None: back to automatic); checked against ``device`` when given."""
    if name is not None:
        _check_name(name, "--backend")
        if device is not None:
            why = backend_status(device)[name]
            if why is not None:
                raise BackendUnavailable(f"backend {name!r} is not available on {torch.device(device)}: {why}")
    _FORCED[0] = name


def forced_backend() -> str | None:
    """The backend forced by :func:`force_backend` or ``HYPERINR_BACKEND``, if any."""
    if _FORCED[0] is not None:
        return _FORCED[0]
    env = os.environ.get(BACKEND_ENV, "").strip().lower()
    if env:
        _check_name(env, BACKEND_ENV)
        return env
    return None


def _check_name(name: str, where: str) -> None:
    if name not in BACKENDS:
        raise BackendUnavailable(f"unknown backend {name!r} ({where}); choose one of {', '.join(BACKENDS)}")


class Backend:
    """One implementation of the core's hot paths. ``torch`` is this base class itself."""

    name = "torch"
    #: MLP precision of the fused INR evaluation when the caller asks for none.
    default_mlp_dtype = torch.float32

    def encode(self, x, params, cfg: HashGridConfig):
        """Differentiable hash encoding (:func:`~hyperinr_core.model.encoding.hash_encode`)."""
        from hyperinr_core.model.encoding import hash_encode

        return hash_encode(x, params, cfg)

    def inr_forward(self, x, enc_params, mlp_params, enc_cfg: HashGridConfig, mlp_cfg: MLPConfig,
                    mlp_dtype: torch.dtype, out=None):
        """Values ``(N, C)`` of an INR; None where the backend has no fused kernel (the caller's own path)."""
        return None

    def decode_grid(self, out, enc_params, mlp_params, enc_cfg: HashGridConfig, mlp_cfg: MLPConfig,
                    mlp_dtype: torch.dtype):
        """The first channel, clamped to [0, 1], on the node-centred grid of ``out``'s shape, written into
        ``out``; None where the backend has no grid kernel (the caller evaluates coordinates)."""
        return None

    def blender(self, tables, k: int, out):
        """A callable ``(idx, w) -> out`` blending K rows of ``tables`` into ``out``; None: the caller's own."""
        return None

    def __repr__(self) -> str:
        return f"<backend {self.name}>"


_PRECISION = {torch.float32: "fp32", torch.float16: "fp16", torch.bfloat16: "bf16"}


class TritonBackend(Backend):
    name = "triton"
    default_mlp_dtype = torch.float16

    def encode(self, x, params, cfg):
        from hyperinr_core.model.triton_grid import encode

        return encode(x, params, cfg)

    def encode_mixture(self, x, tables, kidx, kw, cfg):
        from hyperinr_core.model.triton_grid import encode_mixture

        return encode_mixture(x, tables, kidx, kw, cfg)

    def inr_forward(self, x, enc_params, mlp_params, enc_cfg, mlp_cfg, mlp_dtype, out=None):
        from hyperinr_core.model.triton_inr import inr_forward

        return inr_forward(x, enc_params, mlp_params, enc_cfg, mlp_cfg, _PRECISION[mlp_dtype], out)

    def decode_grid(self, out, enc_params, mlp_params, enc_cfg, mlp_cfg, mlp_dtype):
        from hyperinr_core.model.triton_inr import inr_decode_grid

        if out.dtype not in (torch.float16, torch.float32) or not out.is_contiguous():
            return None
        return inr_decode_grid(out, enc_params, mlp_params, enc_cfg, mlp_cfg, _PRECISION[mlp_dtype])

    def blender(self, tables, k, out):
        from hyperinr_core.model.triton_inr import GraphedBlend

        return GraphedBlend(tables, k, out)


class TcnnBackend(Backend):
    name = "tcnn"
    default_mlp_dtype = torch.float16

    def __init__(self):
        self._modules: dict = {}

    def inr_forward(self, x, enc_params, mlp_params, enc_cfg, mlp_cfg, mlp_dtype, out=None):
        key = (enc_cfg, mlp_cfg, str(x.device))
        if key not in self._modules:
            self._modules[key] = tcnn_inr_module(enc_cfg, mlp_cfg, x.device)
        if out is None:
            out = torch.empty(x.shape[0], mlp_cfg.n_output_dims, device=x.device)
        return self._modules[key](enc_params, mlp_params, x, out)


_INSTANCES = {"torch": Backend(), "triton": TritonBackend(), "tcnn": TcnnBackend()}


def select_backend(device: str | torch.device, name: str | None = None) -> Backend:
    """The backend to run on ``device``: ``name``, else the forced one, else the best available (CUDA:
    triton, then tcnn, then torch; any other device: torch). A named or forced backend that cannot run on
    ``device`` raises :class:`BackendUnavailable`."""
    dev = torch.device(device)
    name = name or forced_backend()
    if name is not None:
        _check_name(name, "backend")
        why = backend_status(dev)[name]
        if why is not None:
            raise BackendUnavailable(f"backend {name!r} is not available on {dev}: {why}")
        return _INSTANCES[name]
    if dev.type == "cuda":
        status = backend_status(dev)
        for candidate in ("triton", "tcnn"):
            if status[candidate] is None:
                return _INSTANCES[candidate]
    return _INSTANCES["torch"]


def tcnn_inr_module(enc_cfg: HashGridConfig, mlp_cfg: MLPConfig, device):
    """A callable ``(enc_params, mlp_params, x, out) -> out`` running tcnn kernels, or None without tcnn."""
    if not tcnn_available(device):
        return None
    import tinycudann as tcnn

    encoding = tcnn.Encoding(enc_cfg.n_input_dims, enc_cfg.to_tcnn(), dtype=torch.float32).to(device)
    network = tcnn.Network(mlp_cfg.n_input_dims, mlp_cfg.n_output_dims, mlp_cfg.to_tcnn()).to(device)

    @torch.no_grad()
    def run(enc_params, mlp_params, x, out):
        encoding.params.copy_(enc_params)
        network.params.copy_(mlp_params.to(network.params.dtype))
        out.copy_(network(encoding(x.contiguous())).float())
        return out

    return run
