"""HyperINR: encoder positions + one hash-grid parameter vector per position + one shared MLP.

For a parameter θ the hypernetwork interpolates the encoders' parameter vectors (1-D: the bracketing pair,
linearly; D > 1: the K nearest by KD-tree with inverse-distance weights, p = 1; an exact hit returns that
encoder) and pairs the result with the shared MLP. :meth:`HyperINR.generate` does it without allocating,
into a preallocated buffer; :meth:`HyperINR.encoder_params_at` + :func:`~hyperinr_core.model.inr.evaluate_inr`
are the same interpolation in differentiable form, for training.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

from hyperinr_core.model.encoding import HashGridConfig
from hyperinr_core.model.inr import INR, evaluate_inr
from hyperinr_core.model.mlp import MLPConfig, SharedMLP
from hyperinr_core.model.modelfile import read_model_file, write_model_file
from hyperinr_core.model.param_space import param_tree, wrap

__all__ = ["HyperINRConfig", "HyperINR"]

EXACT_HIT = 1e-9


@dataclass
class HyperINRConfig:
    """Everything about a HyperINR except its learned tensors and encoder positions."""

    encoding: HashGridConfig = field(default_factory=HashGridConfig)
    mlp: MLPConfig = field(default_factory=MLPConfig)
    param_names: list[str] = field(default_factory=lambda: ["t"])
    param_lo: list[float] = field(default_factory=lambda: [0.0])
    param_hi: list[float] = field(default_factory=lambda: [1.0])
    k_neighbours: int = 8
    value_range: tuple[float, float] = (0.0, 1.0)
    task: str = "tsr"
    metadata: dict = field(default_factory=dict)
    periodic: list[bool] = field(default_factory=list)  # parameters whose neighbours wrap around (a full turn)

    def __post_init__(self) -> None:
        d = len(self.param_names)
        if d < 1 or len(self.param_lo) != d or len(self.param_hi) != d:
            raise ValueError("param_names, param_lo and param_hi must have the same non-zero length")
        if any(not (h > l) or not np.isfinite(h - l) for l, h in zip(self.param_lo, self.param_hi)):
            raise ValueError(f"every param_hi must exceed param_lo: {self.param_lo} .. {self.param_hi}")
        if int(self.k_neighbours) < 1:
            raise ValueError(f"k_neighbours must be >= 1, got {self.k_neighbours}")
        vr = np.asarray(self.value_range, dtype=np.float64)
        if vr.shape != (2,) or not np.isfinite(vr).all():
            raise ValueError(f"value_range must be two finite numbers, got {self.value_range}")
        if self.mlp.n_input_dims != self.encoding.n_output_dims:
            raise ValueError(
                f"MLP input ({self.mlp.n_input_dims}) must equal encoding output ({self.encoding.n_output_dims})"
            )

    @property
    def n_param_dims(self) -> int:
        return len(self.param_names)

    def to_dict(self) -> dict:
        return {
            "encoding": self.encoding.to_dict(),
            "mlp": self.mlp.to_dict(),
            "param_names": list(self.param_names),
            "param_lo": [float(v) for v in self.param_lo],
            "param_hi": [float(v) for v in self.param_hi],
            "k_neighbours": int(self.k_neighbours),
            "value_range": [float(v) for v in self.value_range],
            "task": self.task,
            "metadata": self.metadata,
            "periodic": [bool(v) for v in self.periodic],
        }

    @classmethod
    def from_dict(cls, d: dict) -> HyperINRConfig:
        return cls(
            encoding=HashGridConfig.from_dict(d["encoding"]),
            mlp=MLPConfig.from_dict(d["mlp"]),
            param_names=list(d["param_names"]),
            param_lo=list(d["param_lo"]),
            param_hi=list(d["param_hi"]),
            k_neighbours=int(d.get("k_neighbours", 8)),
            value_range=tuple(d.get("value_range", (0.0, 1.0))),
            task=d.get("task", "tsr"),
            metadata=d.get("metadata", {}),
            periodic=[bool(v) for v in d.get("periodic", [])],
        )


class HyperINR(nn.Module):
    """The hypernetwork. ``positions`` are encoder positions in normalized parameter space [0, 1]^D."""

    def __init__(
        self,
        cfg: HyperINRConfig,
        positions: np.ndarray,
        generator: torch.Generator | None = None,
        device: str | torch.device | None = None,
    ):
        super().__init__()
        positions = np.asarray(positions, dtype=np.float64).reshape(len(positions), -1)
        if positions.shape[1] != cfg.n_param_dims:
            raise ValueError(f"positions are {positions.shape[1]}-D, the config has {cfg.n_param_dims} params")
        if len(positions) < 1 or not np.isfinite(positions).all():
            raise ValueError("need at least one finite encoder position")
        if cfg.n_param_dims == 1:
            order = np.argsort(positions[:, 0], kind="stable")
            positions = positions[order]
            if np.any(np.diff(positions[:, 0]) <= 0):
                raise ValueError("1-D encoder positions must be distinct")
        self.cfg = cfg
        self._positions = positions
        self._pos1d = positions[:, 0].copy() if cfg.n_param_dims == 1 else None
        self._periodic = cfg.periodic if len(cfg.periodic) == cfg.n_param_dims else None
        self._tree = param_tree(positions, self._periodic) if cfg.n_param_dims > 1 else None
        # 1-D and periodic: the gap between the last encoder and the first across the wrap (0: no wrap)
        wraps = self._pos1d is not None and self._periodic is not None and bool(self._periodic[0])
        self._gap1d = float(self._pos1d[0] + 1.0 - self._pos1d[-1]) if wraps and len(positions) > 1 else 0.0
        n, p = len(positions), cfg.encoding.n_params
        enc = torch.empty(n, p).uniform_(-1e-4, 1e-4, generator=generator)
        self.encoder_params = nn.Parameter(enc)
        self.mlp = SharedMLP(cfg.mlp, generator=generator)
        self.register_buffer("positions", torch.from_numpy(positions).float(), persistent=False)
        self._lo = np.asarray(cfg.param_lo, dtype=np.float64)
        self._span = np.asarray(cfg.param_hi, dtype=np.float64) - self._lo
        self._buffer: Tensor | None = None
        self.generations = 0  # generate() calls so far: an INR of call k is valid while this is still k
        if device is not None:
            self.to(device)

    # -- parameters ------------------------------------------------------------------------------------
    @property
    def n_encoders(self) -> int:
        return self.encoder_params.shape[0]

    @property
    def device(self) -> torch.device:
        return self.encoder_params.device

    @property
    def encoder_positions(self) -> np.ndarray:
        """(N, D) encoder positions in normalized parameter space (a copy)."""
        return self._positions.copy()

    def normalize(self, theta: Sequence[float] | np.ndarray) -> np.ndarray:
        """User units → normalized [0, 1]^D, validated and clamped. ``theta`` (D,) or (B, D)."""
        d = self.cfg.n_param_dims
        a = np.asarray(theta, dtype=np.float64)
        if a.ndim == 0:
            a = a.reshape(1)
        if a.shape[-1] != d or a.ndim > 2:
            names = ", ".join(self.cfg.param_names)
            raise ValueError(f"theta must have {d} value(s) ({names}), got shape {a.shape}")
        if not np.isfinite(a).all():
            raise ValueError(f"theta must be finite, got {a.tolist()}")
        return np.clip((a - self._lo) / self._span, 0.0, 1.0)

    def denormalize(self, u: np.ndarray) -> np.ndarray:
        return np.asarray(u) * self._span + self._lo

    # -- interpolation ---------------------------------------------------------------------------------
    def neighbours(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Encoder indices and interpolation weights for normalized parameters ``u`` (B, D).

        Returns ``idx (B, K)`` int64 and ``w (B, K)`` float64, rows summing to 1. K = 2 in 1-D; otherwise
        ``min(k_neighbours, N)``. Exact hits put weight 1 on the hit encoder.
        """
        u = np.atleast_2d(u)
        if self._pos1d is not None:
            pos = self._pos1d
            x = np.mod(u[:, 0], 1.0) if self._gap1d else u[:, 0]
            t = np.clip(x, pos[0], pos[-1])
            hi = np.clip(np.searchsorted(pos, t, side="right"), 1, max(len(pos) - 1, 1))
            lo = hi - 1
            if len(pos) == 1:
                return np.zeros((len(t), 2), np.int64), np.tile([1.0, 0.0], (len(t), 1))
            w1 = (t - pos[lo]) / (pos[hi] - pos[lo])
            if self._gap1d:  # a periodic parameter: past the last encoder, toward the first across the wrap
                across = (x < pos[0]) | (x > pos[-1])
                lo, hi = np.where(across, len(pos) - 1, lo), np.where(across, 0, hi)
                w1 = np.where(across, np.mod(x - pos[-1], 1.0) / max(self._gap1d, 1e-300), w1)
            return np.stack([lo, hi], 1).astype(np.int64), np.stack([1.0 - w1, w1], 1)
        k = min(self.cfg.k_neighbours, self.n_encoders)
        dist, idx = self._tree.query(wrap(u, self._periodic), k=k)
        dist, idx = np.asarray(dist).reshape(len(u), k), np.asarray(idx).reshape(len(u), k)
        hit = dist[:, 0] <= EXACT_HIT
        inv = 1.0 / np.maximum(dist, EXACT_HIT)
        w = inv / inv.sum(1, keepdims=True)
        w[hit] = 0.0
        w[hit, 0] = 1.0
        return idx.astype(np.int64), w

    def neighbour_tensors(self, u: Tensor | np.ndarray) -> tuple[Tensor, Tensor]:
        """:meth:`neighbours` of normalized parameters ``u (B, D)`` as tensors on the model's device:
        ``idx (B, K)`` int64 and ``w (B, K)`` float32."""
        if isinstance(u, Tensor) and u.device.type != "cpu" and self._pos1d is not None:
            return self._neighbours_1d(u.detach().reshape(-1))  # on the device: no sync in a training step
        u_np = u.detach().cpu().numpy() if isinstance(u, Tensor) else np.asarray(u)
        idx, w = self.neighbours(u_np.reshape(-1, self.cfg.n_param_dims))
        return (torch.from_numpy(idx).to(self.device),
                torch.from_numpy(w).to(self.device, torch.float32))

    def _neighbours_1d(self, t: Tensor) -> tuple[Tensor, Tensor]:
        """:meth:`neighbours` in 1-D as torch ops on ``t``'s device (the same arithmetic, in float64)."""
        pos = torch.as_tensor(self._pos1d, device=t.device)
        n = len(pos)
        if n == 1:
            idx = torch.zeros(len(t), 2, dtype=torch.int64, device=t.device)
            return idx, torch.tensor([1.0, 0.0], device=t.device).expand(len(t), 2).contiguous()
        x = torch.remainder(t.double(), 1.0) if self._gap1d else t.double()
        t = x.clamp(pos[0], pos[-1])
        hi = torch.searchsorted(pos, t, right=True).clamp(1, n - 1)
        lo = hi - 1
        w1 = (t - pos[lo]) / (pos[hi] - pos[lo])
        if self._gap1d:
            across = (x < pos[0]) | (x > pos[-1])
            lo, hi = torch.where(across, n - 1, lo), torch.where(across, 0, hi)
            w1 = torch.where(across, torch.remainder(x - pos[-1], 1.0) / self._gap1d, w1)
        return torch.stack([lo, hi], 1), torch.stack([1.0 - w1, w1], 1).float()

    def encoder_params_at(self, u: Tensor | np.ndarray) -> Tensor:
        """Differentiable interpolated encoding parameters ``(B, P)`` at normalized parameters ``u`` (B, D).

        Gradients flow to :attr:`encoder_params`; the weights themselves are constants (as in the paper).
        """
        idx, w = self.neighbour_tensors(u)
        return torch.einsum("bk,bkp->bp", w.to(self.encoder_params.dtype), self.encoder_params[idx])

    def forward(self, x: Tensor, u: Tensor | np.ndarray) -> Tensor:
        """Stateless-evaluator forward for training: values ``(B, M, C)`` at points ``x`` (B, M, d) and
        normalized parameters ``u`` (B, D)."""
        enc = self.encoder_params_at(u)
        return evaluate_inr(x, enc, self.mlp.params, self.cfg.encoding, self.cfg.mlp)

    # -- generation ------------------------------------------------------------------------------------
    def _generation_buffer(self) -> Tensor:
        buf = self._buffer
        p = self.cfg.encoding.n_params
        if buf is None or buf.device != self.device or buf.dtype != self.encoder_params.dtype:
            buf = torch.empty(p, device=self.device, dtype=self.encoder_params.dtype)
            self._buffer = buf
        return buf

    @torch.no_grad()
    def generate(self, theta: Sequence[float] | np.ndarray | float) -> INR:
        """The INR at parameter ``theta`` (user units, one value per parameter).

        Writes into a buffer preallocated on the model's device; the returned INR views that buffer (and
        the shared MLP's weights) and is overwritten by the next call; use ``.clone()`` to keep one.
        """
        u = self.normalize(theta).reshape(-1)
        idx, w = self.neighbours(u[None])
        idx, w = idx[0], w[0]
        buf = self._generation_buffer()
        self.generations += 1
        table = self.encoder_params
        blend = self._blender(table, len(idx), buf)
        if blend is not None:  # one launch (a CUDA graph replay on CUDA) of the backend's blend kernel
            blend(idx, w)
        elif w[0] >= 1.0 - 1e-12:
            buf.copy_(table[int(idx[0])])
        elif len(idx) == 2:
            torch.lerp(table[int(idx[0])], table[int(idx[1])], float(w[1]), out=buf)
        else:
            torch.mul(table[int(idx[0])], float(w[0]), out=buf)
            for j, wj in zip(idx[1:], w[1:]):
                buf.add_(table[int(j)], alpha=float(wj))
        return INR(buf, self.mlp.params.detach(), self.cfg.encoding, self.cfg.mlp, self.cfg.value_range)

    def _blender(self, table: Tensor, k: int, buf: Tensor):
        """The backend's blend of K encoders into ``buf`` (made once per table and buffer), or None."""
        from hyperinr_core.model.backends import select_backend

        blend = getattr(self, "_blend", None)
        if blend is not None and blend.matches(table, k, buf):
            return blend
        backend = select_backend(self.device)
        self._blend = backend.blender(table.detach(), k, buf)
        return self._blend

    def inr_at_encoder(self, j: int) -> INR:
        """The INR of encoder ``j`` itself (no interpolation, no copy)."""
        return INR(
            self.encoder_params.detach()[j], self.mlp.params.detach(), self.cfg.encoding, self.cfg.mlp,
            self.cfg.value_range,
        )

    # -- files -----------------------------------------------------------------------------------------
    KIND = "hyperinr"

    def model_file(self, encoder_dtype: str = "float32") -> tuple[str, dict, dict[str, np.ndarray]]:
        """``(kind, config, arrays)``: what :meth:`save` and training checkpoints write
        (:func:`~hyperinr_core.model.modelfile.write_model_file`)."""
        if encoder_dtype not in ("float32", "float16"):
            raise ValueError(f"encoder_dtype must be float32 or float16, got {encoder_dtype!r}")
        return (
            self.KIND,
            self.cfg.to_dict(),
            {
                "positions": self._positions,
                "encoder_params": self.encoder_params.detach().cpu().float().numpy().astype(encoder_dtype),
                "mlp_params": self.mlp.params.detach().cpu().float().numpy(),
            },
        )

    def save(self, path: str | os.PathLike, encoder_dtype: str = "float32") -> None:
        """Write the model atomically as an HDF5 model file.

        ``encoder_dtype="float16"`` halves the file (the encoders are almost all of it) at a relative error of
        about 5e-4 per parameter; loading always gives float32.
        """
        write_model_file(path, *self.model_file(encoder_dtype))

    @classmethod
    def load(cls, path: str | os.PathLike, device: str | torch.device | None = None) -> HyperINR:
        """Load a model file written by :meth:`save`; malformed files raise ``FileFormatError``."""
        from hyperinr_core.errors import FileFormatError

        mf = read_model_file(path, kind=cls.KIND)
        try:
            cfg = HyperINRConfig.from_dict(mf.config)
            n_enc_params, n_mlp_params = cfg.encoding.n_params, cfg.mlp.n_params
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError, IndexError) as exc:
            problem = f"missing key {exc}" if isinstance(exc, KeyError) else str(exc)
            raise FileFormatError(
                mf.path,
                f"invalid HyperINR config ({problem}): the file is damaged or was not written by this "
                "program; train the model again (hyperinr train; the demo: hyperinr demo build) or open "
                "another model file",
            ) from None
        pos = mf.array("positions", (None, cfg.n_param_dims))
        enc = mf.array("encoder_params", (len(pos), n_enc_params))
        mlp = mf.array("mlp_params", (n_mlp_params,))
        try:
            model = cls(cfg, pos)
        except ValueError as exc:
            raise FileFormatError(mf.path, str(exc)) from None
        # Encoders were sorted by position at construction in 1-D; apply the same order to their rows.
        if cfg.n_param_dims == 1:
            enc = enc[np.argsort(pos[:, 0], kind="stable")]
        with torch.no_grad():
            model.encoder_params.copy_(torch.from_numpy(np.ascontiguousarray(enc, dtype=np.float32)))
            model.mlp.params.copy_(torch.from_numpy(mlp))
        return model.to(device) if device is not None else model

    def extra_repr(self) -> str:
        c = self.cfg
        return (
            f"params={c.param_names}, encoders={self.n_encoders}, enc_params={c.encoding.n_params}, "
            f"mlp_params={c.mlp.n_params}, k={c.k_neighbours if c.n_param_dims > 1 else 2}"
        )
