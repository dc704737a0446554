"""Problems shared by the integrator tests: numpy right-hand sides written
independently of cubie_trace, scipy references and a relative comparison."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy.integrate import solve_ivp as scipy_solve_ivp

REF_TOL = 1e-13  # rtol = atol of every scipy reference
SOLVE_TOL = 1e-10  # rtol = atol of the adaptive accuracy runs

LORENZ_RHO = np.array([0.0, 7.0, 14.0, 21.0, 28.0])
LORENZ_SPAN = (0.0, 1.0)
LORENZ_EVERY = 0.1
LORENZ_SAVES = 11  # t0, t0 + 0.1, ..., t_end on (0, 1)

VDP_SPAN = (0.0, 50.0)
VDP_EVERY = 0.5
VDP_WINDOW = 7  # summarise_every = 7 * save_every: 101 saves, a partial last window
VDP_SAVES = 101
VDP_Y0 = np.array([[2.0, 0.0], [1.0, 0.5], [0.5, -1.0]])
SUMMARIES = ("mean", "max", "min", "rms", "std", "peaks")


# --- independent right-hand sides ------------------------------------------------

def lorenz_rhs(t: float, y: np.ndarray, sigma: float, rho: float, beta: float) -> np.ndarray:
    return np.array([sigma * (y[1] - y[0]), y[0] * (rho - y[2]) - y[1], y[0] * y[1] - beta * y[2]])


def vdp_rhs(t: float, y: np.ndarray, mu: float) -> np.ndarray:
    return np.array([y[1], mu * (1 - y[0] ** 2) * y[1] - y[0]])


def reference(rhs: Callable, t_span: Sequence[float], y0: Sequence[float],
              times: np.ndarray, args: Sequence[float] = (),
              method: str = "DOP853") -> np.ndarray:
    """scipy solution at `times`, shape (len(times), n), at rtol = atol = 1e-13."""
    times = np.asarray(times, dtype=float)
    sol = scipy_solve_ivp(rhs, (t_span[0], max(t_span[1], times[-1])), np.asarray(y0, float),
                          method=method, rtol=REF_TOL, atol=REF_TOL, args=tuple(args),
                          dense_output=True)
    assert sol.success, sol.message
    out = sol.sol(times).T
    at_start = times == t_span[0]
    out[at_start] = y0  # the dense output at t0 is y0 only to round-off
    return out


def lorenz_reference(times: np.ndarray, rho: Sequence[float] = tuple(LORENZ_RHO),
                     t_span: Sequence[float] = LORENZ_SPAN,
                     y0: Sequence[Sequence[float]] | None = None,
                     sigma: float = 10.0, beta: float = 8 / 3) -> np.ndarray:
    """Per-run Lorenz references, shape (n_runs, len(times), 3)."""
    starts = y0 if y0 is not None else [(1.0, 0.0, 0.0)] * len(rho)
    return np.stack([reference(lorenz_rhs, t_span, start, times, (sigma, r, beta))
                     for r, start in zip(rho, starts)])


def assert_relative(actual: np.ndarray, expected: np.ndarray, rel: float) -> None:
    """Each run within `rel` of `expected`, relative to that run's largest |value|."""
    actual, expected = np.asarray(actual, float), np.asarray(expected, float)
    assert actual.shape == expected.shape
    for run, (a, e) in enumerate(zip(actual, expected)):
        scale = max(float(np.abs(e).max()), 1e-300)
        worst = float(np.abs(a - e).max()) / scale
        assert worst <= rel, f"run {run}: relative error {worst:.3e} > {rel:.1e}"


# --- a smooth nonlinear non-autonomous problem with a known solution --------------

EXACT_P = (0.3, 0.2, 0.4)
EXACT_EQUATIONS = [
    "dx = -v + a*(x**2 - cos(t)**2) + b*(exp(v) - exp(sin(t)))",
    "dv = x + c*(x*v - cos(t)*sin(t)) - a*(v**3 - sin(t)**3)",
]


def exact_solution(t: np.ndarray | float) -> np.ndarray:
    """(cos t, sin t): the perturbation terms of EXACT_EQUATIONS vanish on it."""
    t = np.asarray(t, dtype=float)
    return np.stack([np.cos(t), np.sin(t)], axis=-1)


def exact_rhs(t: float, y: np.ndarray, a: float = EXACT_P[0], b: float = EXACT_P[1],
              c: float = EXACT_P[2]) -> np.ndarray:
    x, v = y
    return np.array([
        -v + a * (x ** 2 - np.cos(t) ** 2) + b * (np.exp(v) - np.exp(np.sin(t))),
        x + c * (x * v - np.cos(t) * np.sin(t)) - a * (v ** 3 - np.sin(t) ** 3)])
