"""Explicit Runge-Kutta steps driven by a Butcher tableau, written as math: each
stage derivative k_j is kept until its last use and each stage input
`y + dt * sum_j a_ij k_j` is formed when it is needed; the solution and the error
estimate are running sums into the step's outputs.

(Adding `dt * a_ij k_j` into every later stage's input as soon as k_j appears,
so that k_j dies at once, plans to no smaller layout, step or whole loop, for
any tableau of the catalogue at n = 1, 3, 16 or 64, and to larger ones for
Cash-Karp, Fehlberg 4(5) and Verner 7: it is not offered.)

Buffers are named for what they hold: the stage derivatives `k1`..`ks`, each
stage's input `stage_y` and the solution `y_new` (the error estimate is left
unnamed, as a name keeps a buffer stored: in the loop it is fused into its norm).
FSAL tableaus carry the last stage derivative (f at the new point) in the
carried state "fsal_k", so the next step starts from it.

A tableau with dense coefficients gives the step a continuous extension:
y(t + theta dt) = y + dt * sum_i b_i(theta) k_i, with each b_i a polynomial in
theta; the step then also returns the stage derivatives that polynomial weighs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cubie_trace.core import ops as ct
from cubie_trace.core.step import OK, Dense, Step
from cubie_trace.integrators.butcher import ButcherTableau
from cubie_trace.integrators.polynomial_dense import interpolant, weighed


def _axpy(acc: Any, coeff: float, dt: Any, k: Any) -> Any:
    """acc + coeff*dt*k, with acc None meaning zero."""
    term = (coeff * dt) * k
    return term if acc is None else acc + term


def _stage_function(tab: ButcherTableau,
                    returned: list[int] | None = None) -> Callable[..., Any]:
    """The step of `tab`; with `returned`, it also returns those stage derivatives."""
    s = tab.stages
    a, b, c = tab.a, tab.b, tab.c
    e = None if tab.b_error is None else [bi - bh for bi, bh in zip(b, tab.b_error)]
    last = s - 1 if tab.fsal else s  # an FSAL last stage is f(t + dt, y_new)

    def fn(f: Any, t: Any, dt: Any, y: Any, state: dict) -> Any:
        k: list[Any] = [None] * s
        increment = err = None
        for i in range(last):
            if i == 0:
                k[0] = state["fsal_k"] if tab.fsal else ct.hint(f(t, y), "k1")
            else:
                inc = None
                for j in range(i):
                    if a[i][j] != 0.0:
                        inc = _axpy(inc, a[i][j], dt, k[j])
                stage_y = y if inc is None else ct.hint(y + inc, "stage_y")
                k[i] = ct.hint(f(t + c[i] * dt, stage_y), f"k{i + 1}")
            if b[i] != 0.0:
                increment = _axpy(increment, b[i], dt, k[i])
            if e is not None and e[i] != 0.0:
                err = _axpy(err, e[i], dt, k[i])
        y_new = y if increment is None else ct.hint(y + increment, "y_new")
        state_new = state
        if tab.fsal:
            k_last = ct.hint(f(t + dt, y_new), f"k{s}")
            if e is not None and e[s - 1] != 0.0:
                err = _axpy(err, e[s - 1], dt, k_last)
            state_new = {"fsal_k": k_last}
            k[s - 1] = k_last
        if returned is not None:
            return y_new, err, state_new, OK, tuple(k[i] for i in returned)
        return y_new, err, state_new, OK

    return fn


def erk_step(tab: ButcherTableau, extension: Callable[[Callable], Dense] | None = None) -> Step:
    """The ERK step of `tab`, with the continuous extension of its dense coefficients or
    the one `extension(returning)` builds, `returning(stages)` being the step function
    that also returns those stage derivatives (0-based)."""
    init = _fsal_init if tab.fsal else None
    dense = None
    if extension is not None:
        dense = extension(lambda stages: _stage_function(tab, list(stages)))
    elif tab.dense is not None:
        dense = Dense(_stage_function(tab, weighed(tab.dense)),
                      interpolant(tab.dense, times_dt=True), tab.dense_order)
    return Step(_stage_function(tab), tab.order, tab.error_order,
                {"fsal_k": "n"} if tab.fsal else {}, tab.name, init=init,
                meta={"tableau": tab.name}, dense=dense)


def _fsal_init(f: Any, t: Any, y: Any) -> dict:
    """Initial carried state of an FSAL method: f(t0, y0)."""
    return {"fsal_k": ct.hint(f(t, y), "fsal_k")}
