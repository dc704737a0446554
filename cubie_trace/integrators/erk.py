"""Explicit Runge-Kutta steps driven by a Butcher tableau.

Two formulations of the same method, written as math:

- ``stages``: keep each stage derivative k_j until its last use and form each
  stage input `y + dt * sum_j a_ij k_j` when it is needed;
- ``accumulate``: as each k_j appears, add `dt * a_ij k_j` into the inputs of
  all later stages i, so k_j dies at once (cheap when `a` is sparse, as in
  classical RK4).

Both write the solution and the error estimate as running sums into the
step's outputs. `erk_step` traces both for a system and keeps the one whose
planned layout is smaller. FSAL tableaus carry the last stage derivative
(f at the new point) in the carried state "k", so the next step starts from it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cubie_trace.core.step import OK, Step
from cubie_trace.integrators.butcher import ButcherTableau

FORMULATIONS = ("stages", "accumulate")


def _axpy(acc: Any, coeff: float, dt: Any, k: Any) -> Any:
    """acc + coeff*dt*k, with acc None meaning zero."""
    term = (coeff * dt) * k
    return term if acc is None else acc + term


def _stage_function(tab: ButcherTableau, formulation: str) -> Callable[..., Any]:
    s = tab.stages
    a, b, c = tab.a, tab.b, tab.c
    e = None if tab.b_error is None else [bi - bh for bi, bh in zip(b, tab.b_error)]
    last = s - 1 if tab.fsal else s  # an FSAL last stage is f(t + dt, y_new)

    def fn(f: Any, t: Any, dt: Any, y: Any, state: dict) -> Any:
        k: list[Any] = [None] * s
        pending: list[Any] = [None] * s  # accumulate: dt * sum_j a_ij k_j per later stage
        increment = err = None
        for i in range(last):
            if i == 0:
                k[0] = state["k"] if tab.fsal else f(t, y)
            else:
                inc = pending[i]
                if formulation == "stages":
                    for j in range(i):
                        if a[i][j] != 0.0:
                            inc = _axpy(inc, a[i][j], dt, k[j])
                k[i] = f(t + c[i] * dt, y if inc is None else y + inc)
            if b[i] != 0.0:
                increment = _axpy(increment, b[i], dt, k[i])
            if e is not None and e[i] != 0.0:
                err = _axpy(err, e[i], dt, k[i])
            if formulation == "accumulate":
                for later in range(i + 1, last):
                    if a[later][i] != 0.0:
                        pending[later] = _axpy(pending[later], a[later][i], dt, k[i])
        y_new = y if increment is None else y + increment
        state_new = state
        if tab.fsal:
            k_last = f(t + dt, y_new)
            if e is not None and e[s - 1] != 0.0:
                err = _axpy(err, e[s - 1], dt, k_last)
            state_new = {"k": k_last}
        return y_new, err, state_new, OK

    return fn


def make_step(tab: ButcherTableau, formulation: str) -> Step:
    """The ERK step of `tab` in one formulation."""
    if formulation not in FORMULATIONS:
        raise ValueError(f"formulation must be one of {FORMULATIONS}, got {formulation!r}")
    init = _fsal_init if tab.fsal else None
    return Step(_stage_function(tab, formulation), tab.order, tab.error_order,
                {"k": "n"} if tab.fsal else {}, tab.name, init=init,
                meta={"tableau": tab.name, "formulation": formulation})


def _fsal_init(f: Any, t: Any, y: Any) -> dict:
    """Initial carried state of an FSAL method: f(t0, y0)."""
    return {"k": f(t, y)}


def erk_step(tab: ButcherTableau, system: Any = None) -> Step:
    """The ERK step of `tab`; given a system, the formulation with the smaller layout."""
    if system is None:
        return make_step(tab, "stages")
    from cubie_trace.core.trace import trace_step
    from cubie_trace.layout import plan

    def footprint(step: Step) -> int:
        return plan(trace_step(step, system)).total_elements

    return min((make_step(tab, f) for f in FORMULATIONS), key=footprint)
