"""Buoyant smoke plume: incompressible flow on a staggered (MAC) grid in a closed box, in torch.

The demo for temporal super-resolution where features *move*: a puff of smoke rises from a nozzle near the
floor, rolls up into a mushroom cap, hits the lid and spreads sideways, so the density moves several voxels
between stored frames and a linear blend of two frames cross-fades instead of moving the structure.

Numerics (the graphics textbook scheme: Stam 1999 "Stable Fluids"; Fedkiw, Stam & Jensen 2001 "Visual
Simulation of Smoke"; Bridson, "Fluid Simulation for Computer Graphics"):

- unit box [0, 1]^3, N^3 cells of size h = 1/N; density at cell centres (N, N, N), velocity components on
  the faces normal to them: u (N, N, N+1), v (N, N+1, N), w (N+1, N, N); array axes (z, y, x), x fastest,
  z up (the renderer's world up), matching the dataset convention;
- each step: source (density and an upward jet from a nozzle just above the floor, with a seeded sideways
  wobble), advection, buoyancy ``dw/dt = buoyancy * density``, vorticity confinement, pressure projection;
- velocity: semi-Lagrangian advection (RK2 backtrace, trilinear ``grid_sample``), unconditionally stable, so
  one step may move the flow ``cfl`` (default 2) cells;
- density: finite-volume (flux-form) advection with the face velocities, MC-limited piecewise-linear upwind
  fluxes (van Leer), Strang-alternated dimensional splitting, sub-stepped to a face Courant number <= 1/2.
  It is exactly conservative: every flux leaving a cell enters its neighbour, and the wall faces carry
  none, so the total density changes only by the injected amount (to round-off). The limiter and the
  Courant bound keep the density non-negative. Semi-Lagrangian advection of the density was tried first:
  it lost 10-15 % of the smoke per time unit at 32^3 (trilinear resampling of a non-uniform backtrace map
  does not preserve the integral);
- boundary: a closed box with free-slip solid walls (normal velocity 0 on all six sides), so no smoke leaves;
- projection: the Neumann Poisson problem of the MAC grid is diagonal in the DCT-II basis, so it is solved
  exactly with N x N matrix products along each axis (forward and back; any torch device); the discrete
  divergence of the projected velocity is zero to round-off.

Units: length = box size, time unit = box size / velocity unit; ``t`` of the frames is this time.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["PlumeConfig", "PlumeSolver", "simulate_plume"]


@dataclass
class PlumeConfig:
    """Settings of a plume run (lengths in box sizes, times in the solver's time unit).

    Attributes:
        resolution: N, cells per axis (>= 8).
        n_frames: number of outputs, evenly spaced in [0, t_end] (both ends included).
        t_end: time of the last frame.
        cfl: largest displacement per step, in cells (semi-Lagrangian advection is stable beyond 1; this
            bounds its error and sets the number of steps between frames).
        source_radius: horizontal radius of the source, centred on the box's vertical axis.
        source_height: height of the source's centre above the floor; the source extends half as far up and
            down (a nozzle above the floor, so the jet draws in fluid from below as well as from the sides).
        source_rate: density injected per unit time at the source's centre (smooth fall-off to its rim).
        ramp: time over which the source rate rises smoothly from 0 to ``source_rate``.
        inflow: upward speed imposed in the source.
        buoyancy: upward acceleration per unit density.
        confinement: vorticity confinement strength (Fedkiw et al.'s epsilon).
        wobble: amplitude of the seeded horizontal velocity wobble in the source (fraction of ``inflow``).
        noise: amplitude of the seeded initial velocity perturbation (fraction of ``inflow``).
        seed: seed of the perturbations; equal seeds give equal runs on one device.
        dtype: "float32" (default) or "float64".
        device: torch device string.
    """

    resolution: int = 64
    n_frames: int = 100
    t_end: float = 6.0
    cfl: float = 2.0
    source_radius: float = 0.09
    source_height: float = 0.08
    source_rate: float = 6.0
    ramp: float = 0.6
    inflow: float = 0.4
    buoyancy: float = 3.0
    confinement: float = 3.0
    wobble: float = 0.5
    noise: float = 0.05
    seed: int = 0
    dtype: str = "float32"
    device: str = "cpu"


def _dct_matrix(n: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """(n, n) orthonormal DCT-II: row k is the Neumann eigenvector cos(pi k (i + 1/2) / n)."""
    i = torch.arange(n, dtype=torch.float64)
    q = torch.cos(math.pi * i[:, None] * (i[None, :] + 0.5) / n) * math.sqrt(2.0 / n)
    q[0] = math.sqrt(1.0 / n)
    return q.to(dtype=dtype, device=device)


def _along(q: torch.Tensor, a: torch.Tensor, axis: int) -> torch.Tensor:
    """Apply the matrix ``q`` along ``axis`` of the 3-D array ``a``."""
    return torch.movedim(torch.tensordot(q, torch.movedim(a, axis, 0), dims=1), 0, axis)


class PlumeSolver:
    """State and time stepping of one run: ``density``, face velocities ``u``, ``v``, ``w``, time ``t``."""

    def __init__(self, cfg: PlumeConfig):
        if cfg.resolution < 8:
            raise ValueError(f"resolution must be >= 8, got {cfg.resolution}")
        if not cfg.cfl > 0:
            raise ValueError(f"cfl must be positive, got {cfg.cfl}")
        self.cfg = cfg
        n = self.n = cfg.resolution
        self.h = 1.0 / n
        self.device = torch.device(cfg.device)
        self.dtype = {"float64": torch.float64, "float32": torch.float32}[cfg.dtype]
        dev, dt = self.device, self.dtype
        self.q = _dct_matrix(n, dt, dev)
        lam = (2.0 * torch.cos(math.pi * torch.arange(n, dtype=torch.float64) / n) - 2.0) / self.h**2
        lap = lam[:, None, None] + lam[None, :, None] + lam[None, None, :]
        lap[0, 0, 0] = 1.0  # the constant mode: its coefficient of the divergence is 0 in a closed box
        self.inv_lap = (1.0 / lap).to(dtype=dt, device=dev)
        self.inv_lap[0, 0, 0] = 0.0

        # Sample positions of the four grids in box coordinates (x, y, z), shape (Dz, Dy, Dx, 3).
        c = (torch.arange(n, dtype=dt, device=dev) + 0.5) * self.h
        f = torch.arange(n + 1, dtype=dt, device=dev) * self.h
        self.pos = {
            "d": self._positions(c, c, c),
            "u": self._positions(f, c, c),
            "v": self._positions(c, f, c),
            "w": self._positions(c, c, f),
        }
        zz, yy, xx = (p.squeeze(-1) for p in self.pos["d"].split(1, dim=-1)[::-1])
        r = torch.sqrt((xx - 0.5) ** 2 + (yy - 0.5) ** 2) / cfg.source_radius
        hz = (zz - cfg.source_height).abs() / (0.5 * cfg.source_height)
        # Smooth (cos^2 fall-off) in r and z so the source adds no grid-scale noise.
        bump = torch.where(r < 1, torch.cos(0.5 * math.pi * r) ** 2, torch.zeros_like(r))
        self.source = bump * torch.where(hz < 1, torch.cos(0.5 * math.pi * hz) ** 2, torch.zeros_like(hz))
        # The same profile on the faces: a face is in the source when a cell on either side is.
        src = self.source
        self.source_face = {
            "u": F.pad(src, (1, 0)).maximum(F.pad(src, (0, 1))),
            "v": F.pad(src, (0, 0, 1, 0)).maximum(F.pad(src, (0, 0, 0, 1))),
            "w": F.pad(src, (0, 0, 0, 0, 1, 0)).maximum(F.pad(src, (0, 0, 0, 0, 0, 1))),
        }

        gen = torch.Generator().manual_seed(cfg.seed)
        # Seeded wobble: per horizontal component, three sinusoids of random frequency (< 5 rad per time unit)
        # and phase. A function of t, not a random stream, so a run does not depend on the steps per frame.
        scale = torch.tensor([5.0, 2 * math.pi], dtype=torch.float64)
        self.wobble = torch.rand(2, 3, 2, generator=gen, dtype=torch.float64) * scale  # (component, 3, 2)
        self.t = 0.0
        self.injected = 0.0
        amp = cfg.noise * cfg.inflow
        shapes = {"u": (n, n, n + 1), "v": (n, n + 1, n), "w": (n + 1, n, n)}
        for name, shape in shapes.items():
            noise = torch.randn(shape, generator=gen, dtype=torch.float64)
            # Smooth the white noise over ~4 cells: grid-scale noise would only be dissipated by advection.
            noise = F.avg_pool3d(noise[None, None], 5, stride=1, padding=2, count_include_pad=False)[0, 0]
            setattr(self, name, (amp * noise / noise.std()).to(dtype=dt, device=dev))
        self.w += self.source_face["w"] * (cfg.inflow - self.w)  # the jet runs from the start
        self.density = 0.5 * self.source  # a first puff at about the nozzle's later density
        self._close_walls()
        self.project()

    @staticmethod
    def _positions(x: torch.Tensor, y: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        zz, yy, xx = torch.meshgrid(z, y, x, indexing="ij")
        return torch.stack([xx, yy, zz], dim=-1)

    # -- interpolation ------------------------------------------------------------------------------------
    def _sample(self, field: torch.Tensor, kind: str, pos: torch.Tensor) -> torch.Tensor:
        """Trilinear value of ``field`` (one of the four grids, ``kind`` in d/u/v/w) at box positions ``pos``
        (..., 3) (x, y, z); positions outside the grid's sample points take the nearest boundary value."""
        h = self.h
        shape = field.shape  # (Dz, Dy, Dx)
        # index coordinate of a box position along each axis: cell-centred grids are offset by half a cell.
        off = [0.0 if kind == k else 0.5 for k in ("u", "v", "w")]
        idx = [pos[..., a] / h - off[a] for a in range(3)]
        size = [shape[2], shape[1], shape[0]]
        g = torch.stack([2.0 * idx[a] / (size[a] - 1) - 1.0 for a in range(3)], dim=-1)
        return F.grid_sample(
            field[None, None], g[None], mode="bilinear", padding_mode="border", align_corners=True
        )[0, 0]

    def centred_velocity(self) -> torch.Tensor:
        """(3, N, N, N) velocity (u, v, w) at the cell centres: the mean of the two faces of each cell."""
        return torch.stack(
            [
                0.5 * (self.u[:, :, 1:] + self.u[:, :, :-1]),
                0.5 * (self.v[:, 1:, :] + self.v[:, :-1, :]),
                0.5 * (self.w[1:] + self.w[:-1]),
            ]
        )

    def _velocity_at(self, uc: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """(..., 3) velocity at box positions ``pos`` (..., 3), trilinear in the centred velocity ``uc``.

        One 3-channel lookup instead of one per staggered component: grid_sample's cost is mostly per
        channel gather, and this is the solver's hot loop (once per grid per step).
        """
        g = pos / (0.5 * self.h * (self.n - 1)) - (1.0 + 1.0 / (self.n - 1))
        out = F.grid_sample(uc[None], g[None], mode="bilinear", padding_mode="border", align_corners=True)
        return out[0].movedim(0, -1)

    def _velocity_on(self, kind: str, uc: torch.Tensor) -> torch.Tensor:
        """(Dz, Dy, Dx, 3) velocity at the face grid ``kind`` (u/v/w): the component stored there
        exactly, the others averaged from the two neighbouring cell centres (edge cells repeated)."""
        axis = {"u": 3, "v": 2, "w": 1}[kind]  # array axis of uc normal to these faces
        pad = [0] * 6
        pad[2 * (3 - axis)] = pad[2 * (3 - axis) + 1] = 1
        a = F.pad(uc[None], pad, mode="replicate")[0]
        n = a.shape[axis]
        vel = 0.5 * (a.narrow(axis, 0, n - 1) + a.narrow(axis, 1, n - 1))
        comp = "uvw".index(kind)
        vel[comp] = getattr(self, kind)
        return vel.movedim(0, -1)

    def _backtrace(self, kind: str, uc: torch.Tensor, dt: float) -> torch.Tensor:
        """Departure points of the sample points of grid ``kind`` one step ``dt`` back (midpoint rule),
        kept inside the box."""
        pos = self.pos[kind]
        mid = (pos - 0.5 * dt * self._velocity_on(kind, uc)).clamp(0.0, 1.0)
        return (pos - dt * self._velocity_at(uc, mid)).clamp(0.0, 1.0)

    # -- one step -----------------------------------------------------------------------------------------
    def _close_walls(self) -> None:
        self.u[:, :, 0] = self.u[:, :, -1] = 0.0
        self.v[:, 0, :] = self.v[:, -1, :] = 0.0
        self.w[0] = self.w[-1] = 0.0

    def _add_source(self, dt: float) -> None:
        cfg = self.cfg
        # The rate ramps up over the flow's spin-up time (smoothstep over ``ramp``): at full rate from rest,
        # smoke piles up at the nozzle until buoyancy has accelerated the column, a transient peak twice the
        # later maximum that would set the dataset's value range.
        x = min(1.0, (self.t + 0.5 * dt) / cfg.ramp) if cfg.ramp > 0 else 1.0
        amount = (cfg.source_rate * x * x * (3.0 - 2.0 * x) * dt) * self.source
        self.density += amount
        self.injected += float(amount.sum())
        # The source velocity: an upward jet with a slow seeded sideways sway. The velocity is relaxed toward
        # it with the source profile as weight rather than overwritten, so the source has no hard edge.
        freq, phase = self.wobble[..., 0], self.wobble[..., 1]
        sway = cfg.wobble * cfg.inflow * torch.sin(freq * self.t + phase).sum(-1) / math.sqrt(3)
        for name, target in zip("uvw", (float(sway[0]), float(sway[1]), cfg.inflow), strict=True):
            vel, s = getattr(self, name), self.source_face[name]
            vel += s * (target - vel)

    def _advect(self, dt: float) -> None:
        uc = self.centred_velocity()
        vel = {k: self._sample(getattr(self, k), k, self._backtrace(k, uc, dt)) for k in "uvw"}
        self._advect_density(dt)
        self.u, self.v, self.w = vel["u"], vel["v"], vel["w"]

    def _advect_density(self, dt: float) -> None:
        """Flux-form advection of the density by the (old) face velocities over ``dt``."""
        faces = (self.w, self.v, self.u)  # normal velocity of the faces across array axes 0, 1, 2
        courant = max(float(f.abs().amax()) for f in faces) * dt / self.h
        # Courant <= 1/2 per sweep keeps the limited upwind scheme positive even where a cell empties
        # through both faces at once.
        steps = max(1, math.ceil(2.0 * courant - 1e-9))
        order = (0, 1, 2)
        for _ in range(steps):
            for axis in order:
                self.density = self._sweep(self.density, faces[axis], axis, dt / steps)
            order = order[::-1]  # Strang-style alternation: no preferred axis

    def _sweep(self, q: torch.Tensor, vel: torch.Tensor, axis: int, dt: float) -> torch.Tensor:
        """One 1-D MC-limited upwind finite-volume update of ``q`` (N, N, N) along array ``axis``.

        ``vel`` holds the velocities of the N + 1 faces across that axis (walls first and last).
        """
        n, h = self.n, self.h
        diff = torch.diff(q, dim=axis)  # (.., N - 1, ..) differences between neighbouring cells
        pad = [0, 0] * (2 - axis) + [1, 1]  # zero difference beyond the walls: flat slope there
        diff = F.pad(diff, pad)
        left, right = diff.narrow(axis, 0, n), diff.narrow(axis, 1, n)
        # Monotonized-central limited slope per cell (van Leer 1977).
        mag = torch.minimum(torch.minimum(2.0 * left.abs(), 2.0 * right.abs()), 0.5 * (left + right).abs())
        slope = torch.where(left * right > 0, torch.sign(left) * mag, torch.zeros_like(mag))
        inner = vel.narrow(axis, 1, n - 1)  # interior faces; face j lies between cells j-1 and j
        c = inner * (dt / h)
        from_left = q.narrow(axis, 0, n - 1) + 0.5 * (1.0 - c) * slope.narrow(axis, 0, n - 1)
        from_right = q.narrow(axis, 1, n - 1) - 0.5 * (1.0 + c) * slope.narrow(axis, 1, n - 1)
        flux = inner * torch.where(c > 0, from_left, from_right)
        flux = F.pad(flux, pad)  # the walls carry no flux
        return q - (dt / h) * (flux.narrow(axis, 1, n) - flux.narrow(axis, 0, n))

    def _forces(self, dt: float) -> None:
        cfg = self.cfg
        self.w[1:-1] += (dt * cfg.buoyancy * 0.5) * (self.density[1:] + self.density[:-1])
        if cfg.confinement > 0:
            f = self._confinement()
            self.u[:, :, 1:-1] += dt * 0.5 * (f[0][:, :, 1:] + f[0][:, :, :-1])
            self.v[:, 1:-1, :] += dt * 0.5 * (f[1][:, 1:, :] + f[1][:, :-1, :])
            self.w[1:-1] += dt * 0.5 * (f[2][1:] + f[2][:-1])

    def _confinement(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Vorticity confinement force eps h (n x omega), n = grad|omega| / |grad|omega||, at the cell
        centres: components (x, y, z), each (N, N, N). Written out per component: torch.linalg.cross and
        vector_norm over a leading axis were 20x slower here on a CPU."""
        h = self.h
        u, v, w = self.centred_velocity()
        u_z, u_y, _ = torch.gradient(u, spacing=h)
        v_z, _, v_x = torch.gradient(v, spacing=h)
        _, w_y, w_x = torch.gradient(w, spacing=h)
        ox, oy, oz = w_y - v_z, u_z - w_x, v_x - u_y
        mag = torch.sqrt(ox * ox + oy * oy + oz * oz)
        gz, gy, gx = torch.gradient(mag, spacing=h)
        # 1e-6/h: a floor far below any real gradient, so flat regions get no force instead of 0/0
        scale = self.cfg.confinement * h / (torch.sqrt(gx * gx + gy * gy + gz * gz) + 1e-6 / h)
        return (gy * oz - gz * oy) * scale, (gz * ox - gx * oz) * scale, (gx * oy - gy * ox) * scale

    def divergence(self) -> torch.Tensor:
        """(N, N, N) discrete divergence of the face velocities at the cell centres (1 / time unit)."""
        return (
            (self.u[:, :, 1:] - self.u[:, :, :-1])
            + (self.v[:, 1:, :] - self.v[:, :-1, :])
            + (self.w[1:] - self.w[:-1])
        ) / self.h

    def project(self) -> None:
        """Make the velocity discretely divergence-free: solve lap(phi) = div (Neumann), u -= grad(phi)."""
        q, h = self.q, self.h
        a = self.divergence()
        for axis in range(3):
            a = _along(q, a, axis)
        a = a * self.inv_lap
        for axis in range(3):
            a = _along(q.T, a, axis)
        self.u[:, :, 1:-1] -= (a[:, :, 1:] - a[:, :, :-1]) / h
        self.v[:, 1:-1, :] -= (a[:, 1:, :] - a[:, :-1, :]) / h
        self.w[1:-1] -= (a[1:] - a[:-1]) / h

    def step(self, dt: float) -> None:
        """One step of length ``dt``: source, advection, forces, projection."""
        self._add_source(dt)
        self._advect(dt)
        self._forces(dt)
        self._close_walls()
        self.project()
        self.t += dt

    def stable_dt(self) -> float:
        """Step that moves no sample more than ``cfl`` cells (at least the inflow speed is assumed)."""
        vmax = max(self.cfg.inflow, *(float(a.abs().amax()) for a in (self.u, self.v, self.w)))
        return self.cfg.cfl * self.h / vmax

    def advance_to(self, t: float) -> None:
        """Step to time ``t`` exactly with equal steps no longer than the CFL step."""
        span = t - self.t
        if span <= 1e-12:
            return
        steps = max(1, math.ceil(span / self.stable_dt() - 1e-9))
        for _ in range(steps):
            self.step(span / steps)
        self.t = t

    # -- diagnostics --------------------------------------------------------------------------------------
    def total_density(self) -> float:
        """Density integrated over the box, in density x cell volumes (the sum over cells)."""
        return float(self.density.sum())

    def centroid(self) -> tuple[float, float, float]:
        """Density-weighted mean position (x, y, z) in box coordinates."""
        wts = self.density / self.density.sum()
        p = self.pos["d"]
        return tuple(float((wts * p[..., a]).sum()) for a in range(3))

    def max_divergence(self) -> float:
        """max |div u| on the grid (1 / time unit)."""
        return float(self.divergence().abs().amax())


def simulate_plume(
    cfg: PlumeConfig, progress: bool = True, callback: Callable[[PlumeSolver], None] | None = None
) -> Iterator[tuple[float, np.ndarray]]:
    """Run the plume and yield ``(t, density)`` at ``cfg.n_frames`` evenly spaced times in [0, t_end].

    Frames are (N, N, N) float32 NumPy arrays, axes (z, y, x), yielded one at a time so a long series
    streams into a file. ``callback(solver)`` runs after each output (diagnostics, tests).
    """
    if cfg.n_frames < 1:
        raise ValueError(f"n_frames must be >= 1, got {cfg.n_frames}")
    times = np.linspace(0.0, cfg.t_end, cfg.n_frames) if cfg.n_frames > 1 else np.array([0.0])
    solver = PlumeSolver(cfg)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(times), desc=f"plume {cfg.resolution}^3", unit="frame")
    try:
        for t in times:
            solver.advance_to(float(t))
            if callback is not None:
                callback(solver)
            frame = solver.density.to(torch.float32).cpu().numpy()
            if bar is not None:
                bar.set_postfix(t=f"{t:.2f}", z=f"{solver.centroid()[2]:.2f}", refresh=False)
                bar.update(1)
            yield float(t), frame
    finally:
        if bar is not None:
            bar.close()
