"""The stiff benchmark's baselines: scipy's Radau and BDF with analytic Jacobians, one
`solve_ivp` call per trajectory, and LSODA from numbalsoda called from a Numba loop over
the batch (right-hand sides as Numba cfuncs written from the numpy problems of
tests/integrators/stiff_references.py)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from scipy.integrate import solve_ivp

from tests.integrators import stiff_references as refs


def scipy_runs(problem: str, method: str, y0: np.ndarray, parameters: np.ndarray,
               times: np.ndarray, rtol: float, atol: float) -> dict[str, Any]:
    """`method` ("Radau" or "BDF") on each row of y0/parameters: wall time, the solutions
    at `times` (runs, saves, n) and scipy's counters."""
    spec = refs.PROBLEMS[problem]
    out = np.empty((len(y0), len(times), y0.shape[1]))
    counts = {"nfev": [], "njev": [], "nlu": [], "success": []}
    started = time.perf_counter()
    for r in range(len(y0)):
        sol = solve_ivp(spec.rhs, (0.0, float(times[-1])), y0[r], method=method, rtol=rtol,
                        atol=atol, jac=spec.jac, args=tuple(parameters[r]), t_eval=times)
        out[r] = sol.y.T if sol.success else np.nan
        for key in ("nfev", "njev", "nlu"):
            counts[key].append(int(getattr(sol, key)))
        counts["success"].append(bool(sol.success))
    return {"seconds": time.perf_counter() - started, "y": out, **counts}


# --- LSODA ------------------------------------------------------------------------


def _cfuncs() -> dict[str, Any]:
    """Numba cfuncs rhs(t, u, du, p) with numbalsoda's signature, per problem."""
    from numba import cfunc, types

    signature = types.void(types.double, types.CPointer(types.double),
                           types.CPointer(types.double), types.CPointer(types.double))
    hires_linear, hires_source = refs.HIRES_LINEAR.copy(), refs.HIRES_SOURCE.copy()
    hires_reaction = refs.HIRES_REACTION.copy()
    reactants = np.array([list(r) + [-1] * (2 - len(r)) for r, _ in refs.POLLUTION_REACTIONS])
    stoichiometry = refs.POLLUTION_STOICHIOMETRY.copy()

    @cfunc(signature)
    def robertson(t, u, du, p):
        du[0] = -p[0] * u[0] + p[2] * u[1] * u[2]
        du[1] = p[0] * u[0] - p[2] * u[1] * u[2] - p[1] * u[1] * u[1]
        du[2] = p[1] * u[1] * u[1]

    @cfunc(signature)
    def van_der_pol(t, u, du, p):
        du[0] = u[1]
        du[1] = p[0] * (1.0 - u[0] * u[0]) * u[1] - u[0]

    @cfunc(signature)
    def hires(t, u, du, p):
        reaction = 280.0 * u[5] * u[7]
        for i in range(8):
            total = hires_source[i] + hires_reaction[i] * reaction
            for j in range(8):
                total += hires_linear[i, j] * u[j]
            du[i] = total

    @cfunc(signature)
    def oregonator(t, u, du, p):
        s, q, w = p[0], p[1], p[2]
        du[0] = s * (u[1] - u[0] * u[1] + u[0] - q * u[0] * u[0])
        du[1] = (-u[1] - u[0] * u[1] + u[2]) / s
        du[2] = w * (u[0] - u[2])

    @cfunc(signature)
    def pollution(t, u, du, p):
        rates = np.empty(25)
        for j in range(25):
            second = u[reactants[j, 1]] if reactants[j, 1] >= 0 else 1.0
            rates[j] = p[j] * u[reactants[j, 0]] * second
        for i in range(20):
            total = 0.0
            for j in range(25):
                total += stoichiometry[i, j] * rates[j]
            du[i] = total

    return {"robertson": robertson, "van_der_pol": van_der_pol, "hires": hires,
            "oregonator": oregonator, "pollution": pollution}


def _rhs_matches_numpy(problem: str, rhs: Any) -> bool:
    """The cfunc against the numpy rhs at the default start, perturbed away from zeros."""
    import ctypes

    spec = refs.PROBLEMS[problem]
    y = np.asarray(spec.y0) + 0.01
    p = np.asarray(spec.parameters, dtype=float) if spec.parameters else np.zeros(1)
    du = np.empty_like(y)
    pointer = ctypes.POINTER(ctypes.c_double)
    rhs.ctypes(0.0, y.ctypes.data_as(pointer), du.ctypes.data_as(pointer),
               p.ctypes.data_as(pointer))
    expected = spec.rhs(0.0, y, *spec.parameters)
    return bool(np.allclose(du, expected, rtol=1e-12, atol=1e-12 * np.abs(expected).max()))


class Lsoda:
    """numbalsoda's LSODA over a batch from one njit loop, or why it is unavailable."""

    def __init__(self) -> None:
        try:
            import numbalsoda
            from numba import njit
        except ImportError as error:
            self.unavailable = (f"numbalsoda not importable ({error}); its sdist builds "
                                "with CMake and needs a Fortran compiler (gfortran)")
            return
        self.unavailable = None
        self.version = getattr(numbalsoda, "__version__", None)
        self.rhs = _cfuncs()
        lsoda = numbalsoda.lsoda

        @njit
        def batch(funcptr, y0, parameters, times, rtol, atol, out, ok):
            for r in range(y0.shape[0]):
                usol, success = lsoda(funcptr, y0[r], times, data=parameters[r], rtol=rtol,
                                      atol=atol, mxstep=500_000)
                out[r] = usol
                ok[r] = success

        self.batch = batch

    def run(self, problem: str, y0: np.ndarray, parameters: np.ndarray,
            times: np.ndarray, rtol: float, atol: float) -> dict[str, Any]:
        """Wall time (first call compiles: call twice), solutions and success per run."""
        rhs = self.rhs[problem]
        ts = np.concatenate([[0.0], times]) if times[0] > 0 else times.copy()
        p = parameters if parameters.shape[1] else np.zeros((len(y0), 1))
        out = np.empty((len(y0), len(ts), y0.shape[1]))
        ok = np.zeros(len(y0), dtype=np.bool_)
        started = time.perf_counter()
        self.batch(rhs.address, np.ascontiguousarray(y0), np.ascontiguousarray(p), ts,
                   rtol, atol, out, ok)
        seconds = time.perf_counter() - started
        return {"seconds": seconds, "y": out[:, len(ts) - len(times):], "ok": ok,
                "rhs_matches_numpy": _rhs_matches_numpy(problem, rhs)}
