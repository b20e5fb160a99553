"""Pseudo-spectral incompressible Navier–Stokes solver started from the 3-D Taylor–Green vortex.

The bundled demo data: a time series of vorticity magnitude in which vortex stretching turns the smooth
initial vortex into sheets and tubes, i.e. data with fine structure that moves in time (the kind of data the
paper's temporal super-resolution targets).

Numerics (the textbook scheme, e.g. Canuto et al., "Spectral Methods", and Brachet et al. 1983 for the flow):

- periodic box [0, 2π)^3, N^3 points, velocity kept as rFFT coefficients ``u_hat`` (3, N, N, N//2+1);
- rotational form ``du/dt = u × ω - ∇p' + ν ∇²u``; the pressure is removed by projecting the nonlinear term
  onto divergence-free fields in Fourier space, so the velocity stays divergence-free to round-off;
- 2/3-rule dealiasing of the nonlinear term;
- classic RK4 with an integrating factor ``exp(-ν |k|² t)``, so viscosity is integrated exactly and only the
  advective CFL limits the step.

Array axes are (z, y, x), x fastest, matching the dataset convention (x in [0,1]^3 maps to index (z, y, x)).
Units: velocity scale U = 1, length scale L = 1 (wavenumber 1), so Re = 1/ν.

Initial condition: u = sin x cos y cos z, v = -cos x sin y cos z, w = 0; kinetic energy per unit volume
E0 = 1/8. At low Re the flow stays a single |k|² = 3 mode and E(t) = E0 exp(-6 ν t).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["TGVConfig", "TGVSolver", "simulate_tgv"]


@dataclass
class TGVConfig:
    """Settings of a Taylor–Green vortex run.

    Attributes:
        resolution: N, grid points per axis (even).
        reynolds: Re = 1/ν (U = L = 1).
        t_end: last output time (time units L/U).
        n_frames: number of outputs, evenly spaced in [0, t_end] (both ends included).
        cfl: advective Courant number of the time step, dt = cfl * dx / max|u|.
        dtype: "float64" (default; divergence at round-off 1e-15) or "float32".
        device: torch device string.
    """

    resolution: int = 64
    reynolds: float = 400.0
    t_end: float = 10.0
    n_frames: int = 100
    cfl: float = 0.5
    dtype: str = "float64"
    device: str = "cpu"

    @property
    def viscosity(self) -> float:
        return 1.0 / self.reynolds


class TGVSolver:
    """State and time stepping of one run. ``t`` is the current time, ``u_hat`` the velocity spectrum."""

    def __init__(self, cfg: TGVConfig):
        if cfg.resolution < 4 or cfg.resolution % 2:
            raise ValueError(f"resolution must be an even number >= 4, got {cfg.resolution}")
        if not cfg.reynolds > 0:
            raise ValueError(f"reynolds must be positive, got {cfg.reynolds}")
        self.cfg = cfg
        self.nu = cfg.viscosity
        n = cfg.resolution
        self.n = n
        self.device = torch.device(cfg.device)
        self.rdtype = {"float64": torch.float64, "float32": torch.float32}[cfg.dtype]
        dev, rd = self.device, self.rdtype
        k_full = torch.fft.fftfreq(n, 1.0 / n, dtype=rd, device=dev)  # integer wavenumbers
        k_half = torch.fft.rfftfreq(n, 1.0 / n, dtype=rd, device=dev)
        kz, ky, kx = torch.meshgrid(k_full, k_full, k_half, indexing="ij")
        # Component order of vectors is (x, y, z) while array axes are (z, y, x).
        self.k = torch.stack([kx, ky, kz])  # (3, N, N, N//2+1)
        self.k2 = (self.k**2).sum(0)
        self.k2_safe = torch.where(self.k2 == 0, torch.ones_like(self.k2), self.k2)
        cutoff = n / 3.0  # 2/3 rule: keep |k_i| < N/3 per axis
        self.dealias = ((kx.abs() < cutoff) & (ky.abs() < cutoff) & (kz.abs() < cutoff)).to(rd)

        x = torch.arange(n, dtype=rd, device=dev) * (2 * math.pi / n)
        zz, yy, xx = torch.meshgrid(x, x, x, indexing="ij")
        u = torch.stack(
            [
                torch.sin(xx) * torch.cos(yy) * torch.cos(zz),
                -torch.cos(xx) * torch.sin(yy) * torch.cos(zz),
                torch.zeros_like(xx),
            ]
        )
        self.u_hat = self._fft(u)
        self.t = 0.0

    # -- spectral helpers -------------------------------------------------------------------------------
    def _fft(self, a: torch.Tensor) -> torch.Tensor:
        return torch.fft.rfftn(a, dim=(-3, -2, -1))

    def _ifft(self, a_hat: torch.Tensor) -> torch.Tensor:
        return torch.fft.irfftn(a_hat, s=(self.n,) * 3, dim=(-3, -2, -1))

    def _curl_hat(self, u_hat: torch.Tensor) -> torch.Tensor:
        ik = 1j * self.k
        return torch.stack(
            [
                ik[1] * u_hat[2] - ik[2] * u_hat[1],
                ik[2] * u_hat[0] - ik[0] * u_hat[2],
                ik[0] * u_hat[1] - ik[1] * u_hat[0],
            ]
        )

    def _project(self, a_hat: torch.Tensor) -> torch.Tensor:
        """Divergence-free part: a - k (k·a)/|k|²."""
        return a_hat - self.k * ((self.k * a_hat).sum(0) / self.k2_safe)

    def _rhs(self, u_hat: torch.Tensor) -> torch.Tensor:
        u = self._ifft(u_hat)
        w = self._ifft(self._curl_hat(u_hat))
        nl = torch.linalg.cross(u, w, dim=0)
        return self._project(self._fft(nl) * self.dealias)

    # -- stepping ---------------------------------------------------------------------------------------
    def step(self, dt: float) -> None:
        """One integrating-factor RK4 step of length ``dt``."""
        e = torch.exp(-self.nu * self.k2 * (0.5 * dt))
        u = self.u_hat
        k1 = self._rhs(u)
        k2 = self._rhs(e * (u + 0.5 * dt * k1))
        k3 = self._rhs(e * u + 0.5 * dt * k2)
        k4 = self._rhs(e * e * u + dt * e * k3)
        self.u_hat = e * e * u + (dt / 6.0) * (e * e * k1 + 2.0 * e * (k2 + k3) + k4)
        self.t += dt

    def stable_dt(self) -> float:
        """Advective CFL step: cfl * dx / max|u| (viscosity is exact and sets no limit)."""
        umax = float(self.velocity().abs().amax())
        return self.cfg.cfl * (2 * math.pi / self.n) / max(umax, 1e-12)

    def advance_to(self, t: float) -> None:
        """Step to time ``t`` exactly with equal steps no longer than the CFL step."""
        span = t - self.t
        if span <= 0:
            return
        steps = max(1, math.ceil(span / self.stable_dt() - 1e-9))
        dt = span / steps
        for _ in range(steps):
            self.step(dt)
        self.t = t  # remove accumulated round-off of the sum of steps

    # -- diagnostics ------------------------------------------------------------------------------------
    def velocity(self) -> torch.Tensor:
        """(3, N, N, N) velocity (u_x, u_y, u_z) on the grid, axes (z, y, x)."""
        return self._ifft(self.u_hat)

    def vorticity(self) -> torch.Tensor:
        """(3, N, N, N) vorticity ω = ∇ × u."""
        return self._ifft(self._curl_hat(self.u_hat))

    def vorticity_magnitude(self) -> torch.Tensor:
        """(N, N, N) |ω|, axes (z, y, x)."""
        return torch.linalg.vector_norm(self.vorticity(), dim=0)

    def kinetic_energy(self) -> float:
        """Mean kinetic energy per unit volume, <|u|²>/2."""
        return 0.5 * float((self.velocity() ** 2).sum(0).mean())

    def enstrophy(self) -> float:
        """Mean enstrophy per unit volume, <|ω|²>/2 (dissipation rate = 2 ν enstrophy)."""
        return 0.5 * float((self.vorticity() ** 2).sum(0).mean())

    def max_divergence(self) -> float:
        """max |∇·u| on the grid, computed spectrally."""
        div_hat = (1j * self.k * self.u_hat).sum(0)
        return float(self._ifft(div_hat).abs().amax())


def simulate_tgv(
    cfg: TGVConfig, progress: bool = True, callback: Callable[[TGVSolver], None] | None = None
) -> Iterator[tuple[float, np.ndarray]]:
    """Run the Taylor–Green vortex and yield ``(t, |ω|)`` at ``cfg.n_frames`` evenly spaced times.

    Frames are (N, N, N) float32 NumPy arrays, axes (z, y, x), yielded one at a time so a long series
    streams into a file. ``callback(solver)`` runs after each output (diagnostics, tests).
    """
    if cfg.n_frames < 1:
        raise ValueError(f"n_frames must be >= 1, got {cfg.n_frames}")
    times = np.linspace(0.0, cfg.t_end, cfg.n_frames) if cfg.n_frames > 1 else np.array([0.0])
    solver = TGVSolver(cfg)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(times), desc=f"TGV {cfg.resolution}^3 Re={cfg.reynolds:g}", unit="frame")
    try:
        for t in times:
            solver.advance_to(float(t))
            if callback is not None:
                callback(solver)
            frame = solver.vorticity_magnitude().to(torch.float32).cpu().numpy()
            if bar is not None:
                bar.set_postfix(t=f"{t:.2f}", E=f"{solver.kinetic_energy():.4f}", refresh=False)
                bar.update(1)
            yield float(t), frame
    finally:
        if bar is not None:
            bar.close()
