"""Lorenz integrated by hand, the references of the CPU and GPU benchmarks: one classical
RK4 step with the state in scalars (the body of the hand-written kernels, compiled with
`numba.njit` for the CPU and as a `numba.cuda` device function for the GPU), RK4 over
runs held in SIMD lanes, and a whole adaptive Tsitouras 5 run in scalars. Plain Python
functions: the benchmarks compile them."""

from __future__ import annotations

import math
from typing import Any

from numba import njit

from cubie_trace.integrators.tableaus import ERK_TABLEAUS

B16, B13, HALF = 0.16666666666666666, 0.3333333333333333, 0.5
_TSIT5 = ERK_TABLEAUS["tsit5"]
(A21,), (A31, A32), (A41, A42, A43), (A51, A52, A53, A54), (A61, A62, A63, A64, A65) = \
    [row[:k] for k, row in enumerate(_TSIT5.a[1:6], start=1)]
B1, B2, B3, B4, B5, B6 = _TSIT5.b[:6]
# the error estimate y - y_hat = h sum (b_i - b_hat_i) k_i (b_7 = 0: the FSAL stage)
E1, E2, E3, E4, E5, E6, E7 = (b - bh for b, bh in zip(_TSIT5.b, _TSIT5.b_error))


def rk4_step(x: float, y: float, z: float, sigma: float, rho: float, beta: float,
             dt: float) -> tuple[float, float, float]:
    """(x, y, z) after one step of size dt."""
    h2, h3, h6 = HALF * dt, B13 * dt, B16 * dt
    k1x, k1y, k1z = sigma * (y - x), x * (rho - z) - y, x * y - beta * z
    ax, ay, az = x + h2 * k1x, y + h2 * k1y, z + h2 * k1z
    k2x, k2y, k2z = sigma * (ay - ax), ax * (rho - az) - ay, ax * ay - beta * az
    ax, ay, az = x + h2 * k2x, y + h2 * k2y, z + h2 * k2z
    k3x, k3y, k3z = sigma * (ay - ax), ax * (rho - az) - ay, ax * ay - beta * az
    ax, ay, az = x + dt * k3x, y + dt * k3y, z + dt * k3z
    k4x, k4y, k4z = sigma * (ay - ax), ax * (rho - az) - ay, ax * ay - beta * az
    return (x + (h6 * k1x + h3 * k2x + h3 * k3x + h6 * k4x),
            y + (h6 * k1y + h3 * k2y + h3 * k3y + h6 * k4y),
            z + (h6 * k1z + h3 * k2z + h3 * k3z + h6 * k4z))


STEP = njit(inline="always", error_model="numpy")(rk4_step)


def rk4_lanes(x: Any, y: Any, z: Any, sigma: Any, rho: Any, beta: Any, dt: float,
              n_steps: int, lanes: int) -> None:
    """`n_steps` RK4 steps of `lanes` runs held in lanes (arrays of the runs' x, y, z and
    parameters, updated in place): the loop over the lanes is innermost, so that LLVM
    vectorises each step across the runs."""
    for _ in range(n_steps):
        for lane in range(lanes):
            x[lane], y[lane], z[lane] = STEP(x[lane], y[lane], z[lane], sigma[lane],
                                             rho[lane], beta[lane], dt)


def tsit5_run(x: float, y: float, z: float, sigma: float, rho: float, beta: float,
              t0: float, t1: float, tol: float, max_steps: int
              ) -> tuple[float, float, float, int, int]:
    """One Lorenz run over [t0, t1] with Tsitouras 5(4) at rtol = atol = `tol`, the state
    and stages in scalars, with the library's controller: the same initial step (Hairer,
    Norsett and Wanner II.4), PI factors 0.9 E^(-0.7/5) E_prev^(0.4/5) clipped to
    [0.2, 10] (at most 1 after a rejection), the RMS error norm over
    atol + rtol max(|y|, |y_new|), first-same-as-last stages and the step landing on t1.
    Returns the final state and the accepted and rejected step counts."""
    k1x, k1y, k1z = sigma * (y - x), x * (rho - z) - y, x * y - beta * z
    sx, sy, sz = tol + tol * abs(x), tol + tol * abs(y), tol + tol * abs(z)
    d0 = math.sqrt(((x / sx) ** 2 + (y / sy) ** 2 + (z / sz) ** 2) / 3.0)
    d1 = math.sqrt(((k1x / sx) ** 2 + (k1y / sy) ** 2 + (k1z / sz) ** 2) / 3.0)
    h0 = 1e-6 if (d0 < 1e-5 or d1 < 1e-5) else 0.01 * d0 / max(d1, 1e-300)
    h0 = min(h0, t1 - t0)
    ex, ey, ez = x + h0 * k1x, y + h0 * k1y, z + h0 * k1z
    fx, fy, fz = sigma * (ey - ex), ex * (rho - ez) - ey, ex * ey - beta * ez
    d2 = math.sqrt((((fx - k1x) / sx) ** 2 + ((fy - k1y) / sy) ** 2
                    + ((fz - k1z) / sz) ** 2) / 3.0) / h0
    largest = max(d1, d2)
    h1 = max(1e-6, h0 * 1e-3) if largest <= 1e-15 else \
        math.exp(math.log(0.01 / max(largest, 1e-300)) / 6.0)
    dt = min(min(100.0 * h0, h1), t1 - t0)
    t, e_prev, accepted, rejected = t0, 1.0, 0, 0
    while t < t1 and accepted + rejected < max_steps:
        remaining = t1 - t
        hit = dt * (1.0 + 1e-9) >= remaining
        h = remaining if hit else dt
        ax = x + h * (A21 * k1x)
        ay = y + h * (A21 * k1y)
        az = z + h * (A21 * k1z)
        k2x, k2y, k2z = sigma * (ay - ax), ax * (rho - az) - ay, ax * ay - beta * az
        ax = x + h * (A31 * k1x + A32 * k2x)
        ay = y + h * (A31 * k1y + A32 * k2y)
        az = z + h * (A31 * k1z + A32 * k2z)
        k3x, k3y, k3z = sigma * (ay - ax), ax * (rho - az) - ay, ax * ay - beta * az
        ax = x + h * (A41 * k1x + A42 * k2x + A43 * k3x)
        ay = y + h * (A41 * k1y + A42 * k2y + A43 * k3y)
        az = z + h * (A41 * k1z + A42 * k2z + A43 * k3z)
        k4x, k4y, k4z = sigma * (ay - ax), ax * (rho - az) - ay, ax * ay - beta * az
        ax = x + h * (A51 * k1x + A52 * k2x + A53 * k3x + A54 * k4x)
        ay = y + h * (A51 * k1y + A52 * k2y + A53 * k3y + A54 * k4y)
        az = z + h * (A51 * k1z + A52 * k2z + A53 * k3z + A54 * k4z)
        k5x, k5y, k5z = sigma * (ay - ax), ax * (rho - az) - ay, ax * ay - beta * az
        ax = x + h * (A61 * k1x + A62 * k2x + A63 * k3x + A64 * k4x + A65 * k5x)
        ay = y + h * (A61 * k1y + A62 * k2y + A63 * k3y + A64 * k4y + A65 * k5y)
        az = z + h * (A61 * k1z + A62 * k2z + A63 * k3z + A64 * k4z + A65 * k5z)
        k6x, k6y, k6z = sigma * (ay - ax), ax * (rho - az) - ay, ax * ay - beta * az
        nx = x + h * (B1 * k1x + B2 * k2x + B3 * k3x + B4 * k4x + B5 * k5x + B6 * k6x)
        ny = y + h * (B1 * k1y + B2 * k2y + B3 * k3y + B4 * k4y + B5 * k5y + B6 * k6y)
        nz = z + h * (B1 * k1z + B2 * k2z + B3 * k3z + B4 * k4z + B5 * k5z + B6 * k6z)
        k7x, k7y, k7z = sigma * (ny - nx), nx * (rho - nz) - ny, nx * ny - beta * nz
        errx = h * (E1 * k1x + E2 * k2x + E3 * k3x + E4 * k4x + E5 * k5x + E6 * k6x
                    + E7 * k7x)
        erry = h * (E1 * k1y + E2 * k2y + E3 * k3y + E4 * k4y + E5 * k5y + E6 * k6y
                    + E7 * k7y)
        errz = h * (E1 * k1z + E2 * k2z + E3 * k3z + E4 * k4z + E5 * k5z + E6 * k6z
                    + E7 * k7z)
        qx = errx / (tol + tol * max(abs(x), abs(nx)))
        qy = erry / (tol + tol * max(abs(y), abs(ny)))
        qz = errz / (tol + tol * max(abs(z), abs(nz)))
        norm = math.sqrt((qx * qx + qy * qy + qz * qz) / 3.0)
        accept = norm <= 1.0
        e = max(norm, 1e-10)
        factor = 0.9 * math.exp(-0.14 * math.log(e) + 0.08 * math.log(e_prev))
        factor = min(max(factor, 0.2), 10.0)
        if not accept:
            factor = min(factor, 1.0)
        dt_new = h * factor
        if accept:
            t = t1 if hit else t + h
            x, y, z = nx, ny, nz
            k1x, k1y, k1z = k7x, k7y, k7z
            e_prev = e
            accepted += 1
            if hit:
                dt_new = max(dt_new, dt)
        else:
            rejected += 1
        dt = dt_new
    return x, y, z, accepted, rejected
