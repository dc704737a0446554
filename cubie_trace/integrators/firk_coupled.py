"""Fully implicit Runge-Kutta steps by matrix-free Newton-Krylov on the coupled stages.

The s*n unknowns ``Z = (z_1, ..., z_s)``, ``z_i = Y_i - y``, solve

    R(Z)_i = M z_i - dt sum_j a_ij f(t + c_j dt, y + z_j) = 0

by `ct.solvers.newton` on the stacked vector, its Jacobian-vector products
``M v_i - dt sum_j a_ij J(t + c_j dt, y + z_j) v_j`` built from ``f.jvp`` per
stage (``freeze_jacobian``: J at Z = 0 for every iteration, simplified Newton),
each Newton system solved by a Krylov method with the Jacobi preconditioner
``M_kk - dt a_ii J_kk``. No matrix is stored. The Newton norm and the new value
are those of the transformed step (`firk.py`); Radau IIA 5's RADAU5 estimate
``(M - gamma0 dt J)^{-1} (gamma0 dt f(t, y) + M sum_i e_i z_i)``, refined once with
f at ``y + err``, is solved by the same Krylov method on ``f.operator``.
"""

from __future__ import annotations

from typing import Any

from cubie_trace.core import ops as ct
from cubie_trace.core.step import OK, Step
from cubie_trace.integrators.butcher import ButcherTableau
from cubie_trace.integrators.firk import (
    ERROR_ESTIMATES,
    combine,
    mass_times,
    newton_options,
    numeric_mass,
    output_weights,
    vector,
)
from cubie_trace.solvers import linear_solve
from cubie_trace.solvers import newton as solve_newton
from cubie_trace.solvers.linear import KRYLOV

LINEAR_DEFAULTS = {"method": "gmres", "tol": 1e-8, "max_iters": None, "restart": 8}


def stacked(parts: list[Any]) -> Any:
    """The stacked vector ``(p_1, ..., p_s)`` of equal-length buffers."""
    return vector([p[k] for p in parts for k in range(len(p))])


def blocks(x: Any, s: int) -> list[Any]:
    """The s equal blocks of a stacked vector."""
    n = len(x) // s
    return [x[i * n:(i + 1) * n] for i in range(s)]


def coupled_step(tab: ButcherTableau, system: Any, newton: dict | None = None,
                 linear: dict | None = None) -> Step:
    """The matrix-free Newton-Krylov step of the FIRK tableau `tab` for `system`."""
    options = newton_options(tab.name, newton)
    lin = {**LINEAR_DEFAULTS, **(linear or {})}
    if set(lin) - set(LINEAR_DEFAULTS) or lin["method"] not in KRYLOV:
        raise ValueError(f"{tab.name}: linear options are {sorted(LINEAR_DEFAULTS)} with "
                         f"method one of {tuple(KRYLOV)}, got {linear!r}")
    s, a, c = tab.stages, tab.a, tab.c
    mass = numeric_mass(system)
    weights = output_weights(tab)
    estimate = ERROR_ESTIMATES.get(tab.name)
    krylov = {"linear": lin["method"], "linear_tol": lin["tol"],
              "linear_max_iters": lin["max_iters"], "restart": lin["restart"]}

    def fn(f: Any, t: Any, dt: Any, y: Any, state: dict) -> Any:
        m_diag = vector([float(mass[k, k]) for k in range(len(mass))])
        j_diag = f.jacobian_diagonal(t, y)

        def residual(x: Any) -> Any:
            z = blocks(x, s)
            fz = [f(t + c[j] * dt, y + z[j]) for j in range(s)]
            return stacked([mass_times(mass, z[i]) - dt * combine(a[i], fz)
                            for i in range(s)])

        def jvp(x: Any, v: Any) -> Any:
            z, vs = blocks(x, s), blocks(v, s)
            jv = [f.jvp(t + c[j] * dt, y + z[j], vs[j]) for j in range(s)]
            return stacked([mass_times(mass, vs[i]) - dt * combine(a[i], jv)
                            for i in range(s)])

        scale = options["atol"] + options["rtol"] * ct.abs(y)
        diag = stacked([m_diag - (a[i][i] * dt) * j_diag for i in range(s)])
        x, info = solve_newton(residual, ct.zeros(s * len(mass)), jvp,
                               preconditioner=("jacobi", diag), tol=1.0,
                               max_iters=options["max_iters"], max_backtracks=0,
                               atol=stacked([scale] * s), rtol=0.0, freeze_jacobian=True,
                               **krylov)
        z = blocks(x, s)
        y_new = y + combine(weights, z)
        status, err = info.status, None
        if estimate is not None:
            g0h = estimate.gamma0 * dt
            mz = mass_times(mass, combine(estimate.e, z))
            precondition = ("jacobi", m_diag - g0h * j_diag)

            def smooth(rhs: Any) -> tuple[Any, Any]:
                return linear_solve(lambda v: f.operator(t, y, v, g0h), rhs,
                                    lin["method"], precondition, lin["tol"],
                                    lin["max_iters"], restart=lin["restart"])

            err, first = smooth(g0h * f(t, y) + mz)
            err, second = smooth(g0h * f(t, y + err) + mz)
            for found in (first.status, second.status):
                status = ct.where(status == int(OK), found, status)
        return y_new, err, state, status

    return Step(fn, tab.order, 3 if estimate is not None else None, {}, tab.name,
                implicit=True, meta={"tableau": tab.name, "solver": "newton-krylov"})
