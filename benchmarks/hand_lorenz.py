"""One classical RK4 step on Lorenz with the state in scalars, written by hand: the body
of the hand-written reference kernels (compiled with `numba.njit` for the CPU and as a
`numba.cuda` device function for the GPU)."""

from __future__ import annotations

B16, B13, HALF = 0.16666666666666666, 0.3333333333333333, 0.5


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
