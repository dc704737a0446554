"""Rosenbrock(-W) steps over a `RosenbrockTableau`: linear solves only, no Newton.

With the Jacobian J = df/dy and f_t = df/dt taken once per step at (t, y), the
constant mass matrix M (possibly singular: index-1 DAEs; Hairer & Wanner VI.4)
and the tableau's convention (`rosenbrock.py`) multiplied through by gamma dt,
every stage solves with the same matrix W = M - gamma dt J:

    W U_i = gamma dt f(t + c_i dt, y + sum_j a_ij U_j)
            + gamma M sum_j coupling_ij U_j + gamma dt^2 d_i f_t,

    y_new = y + sum_i b_i U_i,        error = sum_i (b - b_error)_i U_i.

(The scaled W stays bounded as dt -> 0, where M / (gamma dt) - J would not.)
With M = I this is the tableau's form exactly.

Linear solver, the `jacobian` option: "dense" (the default for n <= DENSE_MAX)
factors W once per step with `SparseLU` on the union of the Jacobian's pattern,
M's pattern and the diagonal, from `f.jacobian_nonzeros`, and reuses the factors
for every stage; "matrix-free" (the default above) runs a Krylov method on
`f.operator(t, y, v, gamma dt) = M v - gamma dt J v`, by default BiCGStab with
the Jacobi preconditioner built from `f.jacobian_diagonal`. A failed
factorisation or Krylov solve returns Status.LINEAR_FAILED, which the loop retries
with a smaller step.

f_t: none for an autonomous system, `f.dfdt` where the system provides it, and
for systems with drivers (whose interpolants give no time derivative) the
forward difference (f(t + delta, y) - f(t, y)) / delta, delta = sqrt(eps) *
max(|t|, dt): a first-order approximation, so such steps keep the W-order of
their tableau only up to O(delta) terms.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from cubie_trace.core import ops as ct
from cubie_trace.core.step import OK, Dense, Step
from cubie_trace.integrators.polynomial_dense import interpolant, weighed
from cubie_trace.integrators.rosenbrock import RosenbrockTableau
from cubie_trace.solvers import SparseLU, linear_solve

DENSE_MAX = 16  # the largest system factored by default; Krylov above
JACOBIANS = ("dense", "matrix-free")
KRYLOV_DEFAULTS: dict[str, Any] = {"method": "bicgstab", "preconditioner": "jacobi",
                                   "tol": 1e-10, "max_iters": None, "restart": 8}
DENSE_DEFAULTS: dict[str, Any] = {"pivot_tol": 1e-12}
FD_STEP = float(np.sqrt(np.finfo(np.float64).eps))

# b -> (x, status of this solve or None when it cannot fail)
Solve = Callable[[Any], tuple[Any, Any]]


def mass_of(system: Any) -> np.ndarray:
    """The system's mass matrix as numbers (identity where it declares none)."""
    n = system.n_states
    mass = getattr(system, "mass", None)
    if mass is None:
        return np.eye(n)
    try:
        out = np.array(mass.tolist(), dtype=float)
    except TypeError:
        raise ValueError(f"system {system.name!r}: a Rosenbrock step needs a constant mass "
                         f"matrix (numbers only), got {mass}") from None
    if out.shape != (n, n):
        raise ValueError(f"system {system.name!r}: mass matrix of shape {out.shape}, "
                         f"expected ({n}, {n})")
    return out


def _matvec(matrix: np.ndarray, v: Any) -> Any:
    """`matrix @ v` for a constant matrix, using only its nonzeros (v for the identity)."""
    n = matrix.shape[0]
    if np.array_equal(matrix, np.eye(n)):
        return v
    out = ct.zeros_like(v)
    for i in range(n):
        acc = None
        for j in np.flatnonzero(matrix[i]):
            term = float(matrix[i, j]) * v[int(j)]
            acc = term if acc is None else acc + term
        if acc is not None:
            out = out.at[i].set(acc)
    return out


class DenseSolver:
    """W = M - gamma_h J on its static pattern, factored by `SparseLU` once per step."""

    def __init__(self, system: Any, mass: np.ndarray, pivot_tol: float) -> None:
        jpattern = np.asarray(system.jacobian_pattern, dtype=bool)
        self.mass = mass
        self.pattern = jpattern | (mass != 0.0) | np.eye(system.n_states, dtype=bool)
        self.same_pattern = bool(np.array_equal(self.pattern, jpattern))
        # for each nonzero of W (row-major): its index among J's nonzeros, or -1
        jindex = -np.ones(jpattern.shape, dtype=int)
        jindex[jpattern] = np.arange(int(jpattern.sum()))
        self.entries = [(int(i), int(j), int(jindex[i, j]))
                        for i, j in np.argwhere(self.pattern)]
        self.lu = SparseLU(self.pattern, pivot_tol)

    def values(self, jac: Any, gamma_h: Any) -> Any:
        """W's nonzeros in row-major order from J's nonzeros `jac`."""
        if self.same_pattern:
            w = -gamma_h * jac
        else:
            w = ct.zeros(len(self.entries))
            for k, (_, _, src) in enumerate(self.entries):
                if src >= 0:
                    w = w.at[k].set(-gamma_h * jac[src])
        for k, (i, j, _) in enumerate(self.entries):
            if self.mass[i, j] != 0.0:
                w = w.at[k].set(w[k] + float(self.mass[i, j]))
        return ct.hint(w, "w")

    def prepare(self, f: Any, t: Any, y: Any, gamma_h: Any) -> tuple[Solve, Any]:
        factors, status = self.lu.factor(self.values(f.jacobian_nonzeros(t, y), gamma_h))
        return (lambda b: (self.lu.solve(factors, b), None)), status


class KrylovSolver:
    """W v = M v - gamma_h J v applied matrix-free (`f.operator`), solved by Krylov."""

    def __init__(self, mass: np.ndarray, options: dict[str, Any]) -> None:
        self.mass_diagonal = np.diag(mass)
        self.options = options

    def prepare(self, f: Any, t: Any, y: Any, gamma_h: Any) -> tuple[Solve, Any]:
        opts = dict(self.options)
        if opts.get("preconditioner") == "jacobi":
            diag = -gamma_h * f.jacobian_diagonal(t, y)
            for i in np.flatnonzero(self.mass_diagonal):
                diag = diag.at[int(i)].set(diag[int(i)] + float(self.mass_diagonal[i]))
            opts["preconditioner"] = ("jacobi", ct.where(diag != 0.0, diag, 1.0))

        def solve(b: Any) -> tuple[Any, Any]:
            x, info = linear_solve(lambda v: f.operator(t, y, v, gamma_h), b, **opts)
            return x, info.status

        return solve, None


def _solver(system: Any, mass: np.ndarray, jacobian: str | None,
            linear: dict[str, Any] | None) -> DenseSolver | KrylovSolver:
    if jacobian is None:
        jacobian = "dense" if system.n_states <= DENSE_MAX else "matrix-free"
    if jacobian not in JACOBIANS:
        raise ValueError(f"jacobian must be one of {JACOBIANS}, got {jacobian!r}")
    defaults = DENSE_DEFAULTS if jacobian == "dense" else KRYLOV_DEFAULTS
    unknown = set(linear or {}) - set(defaults)
    if unknown:
        raise ValueError(f"linear options for jacobian={jacobian!r} are {sorted(defaults)}, "
                         f"got {sorted(unknown)}")
    options = {**defaults, **(linear or {})}
    if jacobian == "dense":
        return DenseSolver(system, mass, float(options["pivot_tol"]))
    return KrylovSolver(mass, options)


def time_dependence(system: Any) -> str:
    """How a step gets f_t: "none" (autonomous), "dfdt" or "difference" (drivers)."""
    derivatives, symbols = getattr(system, "derivatives", None), getattr(system, "symbols", {})
    if derivatives is not None and "t" in symbols and system.n_driver_coefficients == 0:
        t = symbols["t"]
        if not any(t in e.free_symbols for e in derivatives):
            return "none"
    return "dfdt" if "dfdt" in system.functions else "difference"


def _axpy(acc: Any, coeff: float, x: Any) -> Any:
    """acc + coeff*x, with acc None meaning zero."""
    term = coeff * x
    return term if acc is None else acc + term


def _stage_function(tab: RosenbrockTableau, solver: DenseSolver | KrylovSolver,
                    mass: np.ndarray, ft_kind: str,
                    returned: list[int] | None = None) -> Callable[..., Any]:
    """The step of `tab`; with `returned`, it also returns those stages' U_i."""
    s, a, coupling, gamma = tab.stages, tab.a, tab.coupling, tab.gamma
    e = tab.error_weights
    uses_ft = ft_kind != "none" and any(di != 0.0 for di in tab.d)

    def fn(f: Any, t: Any, dt: Any, y: Any, state: dict) -> Any:
        gamma_h = gamma * dt
        solve, status = solver.prepare(f, t, y, gamma_h)
        f0 = f(t, y) if tab.c[0] == 0.0 or ft_kind == "difference" else None
        ft = None
        if uses_ft and ft_kind == "dfdt":
            ft = f.dfdt(t, y)
        elif uses_ft:
            delta = (t + FD_STEP * ct.maximum(ct.abs(t), dt)) - t
            ft = (f(t + delta, y) - f0) / delta
        if ft is not None:
            ft = ct.hint(ft, "f_t")
        u: list[Any] = [None] * s
        increment = err = None
        for i in range(s):
            arg = coupled = None
            for j in range(i):
                if a[i][j] != 0.0:
                    arg = _axpy(arg, a[i][j], u[j])
                if coupling[i][j] != 0.0:
                    coupled = _axpy(coupled, coupling[i][j], u[j])
            at = y if arg is None else y + arg
            fi = f0 if i == 0 and tab.c[0] == 0.0 else f(t + tab.c[i] * dt, at)
            rhs = gamma_h * fi
            if coupled is not None:
                rhs = rhs + gamma * _matvec(mass, coupled)
            if ft is not None and tab.d[i] != 0.0:
                rhs = rhs + (gamma * tab.d[i] * dt * dt) * ft
            u[i], stage_status = solve(rhs)
            u[i] = ct.hint(u[i], f"u{i + 1}")
            if stage_status is not None:
                status = stage_status if status is None else ct.where(
                    stage_status != int(OK), stage_status, status)
            if tab.b[i] != 0.0:
                increment = _axpy(increment, tab.b[i], u[i])
            if e is not None and e[i] != 0.0:
                err = _axpy(err, e[i], u[i])
        y_new = y if increment is None else y + increment
        status = OK if status is None else status
        if returned is not None:
            return y_new, err, state, status, tuple(u[i] for i in returned)
        return y_new, err, state, status

    return fn


def rosenbrock_step(tab: RosenbrockTableau, system: Any, jacobian: str | None = None,
                    linear: dict[str, Any] | None = None,
                    newton: dict[str, Any] | None = None) -> Step:
    """The Rosenbrock step of `tab` for `system`; `jacobian` ("dense" or "matrix-free")
    picks the linear solver and `linear` its options (dense: pivot_tol; matrix-free:
    method, preconditioner ("jacobi" or any `linear_solve` spelling), tol, max_iters,
    restart). There is no Newton iteration, so `newton` options are refused."""
    if newton is not None:
        raise ValueError(f"method {tab.name!r} solves only linear systems; it takes no "
                         f"newton options (use linear= and jacobian=)")
    if system is None:
        raise ValueError(f"method {tab.name!r} is specialised to its system; pass system=")
    mass = mass_of(system)
    solver = _solver(system, mass, jacobian, linear)
    ft_kind = time_dependence(system)
    kind = "dense" if isinstance(solver, DenseSolver) else "matrix-free"
    dense = None
    if tab.dense is not None:
        dense = Dense(_stage_function(tab, solver, mass, ft_kind, weighed(tab.dense)),
                      interpolant(tab.dense, times_dt=False),
                      tab.dense_order)  # type: ignore[arg-type]
    return Step(_stage_function(tab, solver, mass, ft_kind), tab.order, tab.error_order,
                {}, tab.name, implicit=True,
                meta={"tableau": tab.name, "jacobian": kind, "dfdt": ft_kind}, dense=dense)
