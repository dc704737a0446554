"""Diagonally implicit Runge-Kutta steps (DIRK, SDIRK, ESDIRK) over a Butcher tableau,
for `M y' = f(t, y)` with a constant mass matrix M, written as math.

With the stage derivatives `k_j = M^-1 f(t + c_j dt, Y_j)`, stage i is
`Y_i = y + z_i`, `z_i = base_i + a_ii dt k_i`, `base_i = dt sum_{j<i} a_ij k_j`, so
an implicit stage solves (see `stage_solve`)

    M (z_i - base_i) = a_ii dt f(t + c_i dt, y + z_i)

and recovers its derivative as `k_i = (z_i - base_i) / (a_ii dt)`, never inverting M
(Hairer and Wanner II, VI.1). Only an explicit stage (`a_ii = 0`) needs M^-1; there the
pseudo-inverse is used, which for a singular M (an index-1 DAE) fixes the derivative of
the algebraic components to zero: the stage equations see it only through M, and a
stiffly accurate method's solution `y + z_s` not at all, so a singular M is accepted for
stiffly accurate tableaus only.

Predictors: the first implicit stage starts from `c_i dt k_0` after an explicit first
stage (else from y), each later stage from the previous stage's increment. The Newton
matrix `M - a_ii dt J` is factored once per step at (t, y) when every implicit stage
has the same diagonal (SDIRK, ESDIRK), else (and for a single stage) once per stage at
its predictor.
Error estimate: `dt sum_i (b - b_error)_i k_i`, accumulated as the stages come; where
the solution and the embedded one are both stage values (b and b_error rows of a, as in
the Kvaerno pairs and Crank-Nicolson), their difference `z_m - z_m'`.

Single-stage methods without an embedded pair (backward Euler) estimate their error
from the explicit Euler predictor instead: with `f_0 = f(t, y)` and `y_new = y + z`,

    error = 1/2 (M - dt J)^-1 (M z - dt f_0)  ~  dt^2 / 2 y'',

the difference of the two Euler solutions halved, filtered through the Newton matrix so
that stiff components do not swamp it (Hairer and Wanner II, IV.8). The
predictor-corrector variant starts its Newton iteration from that predictor.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cubie_trace.core import ops as ct
from cubie_trace.core.step import OK, Step
from cubie_trace.integrators.butcher import ButcherTableau
from cubie_trace.integrators.mass import constant_mass, singular, stiffly_accurate, times
from cubie_trace.integrators.stage_solve import StageSolver


def _axpy(acc: Any, coeff: float, dt: Any, k: Any) -> Any:
    """acc + coeff*dt*k, with acc None meaning zero."""
    term = (coeff * dt) * k
    return term if acc is None else acc + term


def _worse(status: Any, new: Any) -> Any:
    """The first failure of the step: `status` unless it is OK."""
    return ct.where(status == int(OK), new, status)


def _row(tab: ButcherTableau, weights: Any) -> int | None:
    """The last stage whose row of `a` equals `weights`, or None."""
    if weights is None:
        return None
    rows = [i for i in range(tab.stages)
            if np.allclose(tab.a[i], weights, rtol=0.0, atol=1e-15)]
    return rows[-1] if rows else None


def dirk_step(tab: ButcherTableau, system: Any, newton: dict | None = None,
              linear: dict | None = None, jacobian: str | None = None, *,
              name: str | None = None, euler_estimate: bool = False,
              euler_predictor: bool = False) -> Step:
    """The DIRK step of `tab` for `system` (see the module docstring). `euler_estimate`
    (single-stage tableaus only): estimate the error from the explicit Euler predictor;
    `euler_predictor`: start the Newton iteration there as well."""
    name = name or tab.name
    if system is None:
        raise ValueError(f"method {name!r} is implicit: it is built for a system")
    s, a, b, c = tab.stages, tab.a, tab.b, tab.c
    if any(a[i][j] != 0.0 for i in range(s) for j in range(i + 1, s)):
        raise ValueError(f"tableau {tab.name!r} is not diagonally implicit")
    if (euler_estimate or euler_predictor) and s != 1:
        raise ValueError("the explicit Euler predictor and estimate are for one-stage "
                         f"tableaus; {tab.name!r} has {s} stages")
    mass = constant_mass(system)
    accurate = stiffly_accurate(tab)
    if singular(mass) and not accurate:
        raise ValueError(f"method {name!r} is not stiffly accurate and cannot integrate "
                         f"the singular mass matrix of system {system.name!r}")
    solver = StageSolver.build(system, mass, newton, linear, jacobian)
    pinv = None if mass is None else np.linalg.pinv(mass)
    diagonal = {a[i][i] for i in range(s) if a[i][i] != 0.0}
    # one Newton matrix for the whole step at (t, y); a single stage takes its own at
    # its predictor, a better point for the same one factorisation
    shared = len(diagonal) == 1 and s > 1
    e = None if tab.b_error is None else [bi - bh for bi, bh in zip(b, tab.b_error)]

    # a solution equal to a stage's value is that stage (y + z_m), never a sum of k's:
    # fewer buffers live, and no k of an explicit stage needed
    sol_row, est_row = _row(tab, b), _row(tab, tab.b_error)

    def fn(f: Any, t: Any, dt: Any, y: Any, state: dict) -> Any:
        status: Any = int(OK)
        factors = None
        if shared:
            factors, status = solver.factor(f, t, y, next(iter(diagonal)) * dt)
        f0 = f(t, y) if euler_estimate else None
        k: list[Any] = [None] * s
        z = z0 = y_new = z_est = increment = err = None
        for i in range(s):
            base = None
            for j in range(i):
                if a[i][j] != 0.0:
                    base = _axpy(base, a[i][j], dt, k[j])
            ti = t + c[i] * dt
            if a[i][i] == 0.0:
                z = ct.zeros_like(y) if base is None else base
                k[i] = times(pinv, f(ti, y + z))
            else:
                gamma_h = a[i][i] * dt
                if z is not None:
                    z0 = z
                elif euler_predictor:
                    z0 = dt * times(pinv, f0)
                elif i > 0 and a[0][0] == 0.0:
                    z0 = (c[i] * dt) * k[0]
                else:
                    z0 = ct.zeros_like(y)
                if not shared:
                    factors, st = solver.factor(f, ti, y + z0, gamma_h)
                    status = _worse(status, st)
                z, st = solver.solve(f, ti, y, base, z0, gamma_h, factors)
                status = _worse(status, st)
                k[i] = ct.hint((z if base is None else z - base) / gamma_h, f"k{i}")
            if i == sol_row:
                y_new = y + z
            elif sol_row is None and b[i] != 0.0:
                increment = _axpy(increment, b[i], dt, k[i])
            if i == est_row:
                z_est = z
            if e is not None and (sol_row is None or est_row is None) and e[i] != 0.0:
                err = _axpy(err, e[i], dt, k[i])
        if sol_row is None:
            y_new = y + increment
        if e is not None and sol_row is not None and est_row is not None:
            err = (y_new - y) - z_est
        elif euler_estimate:
            filtered, st = solver.apply_inverse(f, t + dt, y + z0, dt, factors,
                                                times(mass, z) - dt * f0)
            status = _worse(status, st)
            err = 0.5 * filtered
        return y_new, err, state, status

    error_order = tab.error_order if e is not None else (2 if euler_estimate else None)
    return Step(fn, tab.order, error_order, {}, name, implicit=True,
                meta={"tableau": tab.name, "newton_matrix": "dense" if solver.dense
                      else "matrix-free"})
