"""A backward-Euler step solving y_new - y - dt f(t + dt, y_new) = 0 with Newton-Krylov on
the 16-state chain: it plans, verifies, reuses dead storage and names solver buffers."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import scipy.linalg

import cubie_trace as ct
from cubie_trace.systems.library import linear_chain

CHAIN = linear_chain(16)
BUDGET = 83  # float64 elements per thread: step scratch plus all solver scratch


def backward_euler(linear: str, jacobi: bool) -> ct.Step:
    @ct.step(order=1, implicit=True, name=f"be_{linear}")
    def step(f: Any, t: Any, dt: Any, y: Any, state: dict) -> Any:
        t1 = t + dt
        spec = None
        if jacobi:  # diag(I - dt J) at y, probed with unit vectors (f has no diagonal)
            def entry(i: Any, d: Any) -> Any:
                e = ct.zeros_like(y).at[i].set(1.0)
                return d.at[i].set(1.0 - dt * f.jvp(t1, y, e)[i])

            spec = ("jacobi", ct.hint(ct.fori_loop(0, len(y), entry, ct.zeros_like(y)),
                                      "diag"))
        x, info = ct.solvers.newton(lambda x: x - y - dt * f(t1, x), y,
                                    lambda x, v: v - dt * f.jvp(t1, x, v), linear=linear,
                                    preconditioner=spec, tol=1e-10, linear_tol=1e-12)
        return x, None, state, info.status

    return step


CONFIGURATIONS = [("bicgstab", True), ("minimal_residual", True), ("minimal_residual", False)]


@pytest.mark.parametrize("linear,jacobi", CONFIGURATIONS)
def test_step_solves_the_implicit_equation(linear: str, jacobi: bool) -> None:
    program = ct.trace(backward_euler(linear, jacobi), system=CHAIN)
    y, dt = np.linspace(1.0, 0.0, 16), 0.1
    y_new, _, _, status = ct.interpret(program, 0.0, dt, y, {}, np.array([1.0]))
    jac = -np.eye(16) + np.eye(16, k=-1)
    assert status == ct.OK
    np.testing.assert_allclose(y_new, scipy.linalg.solve(np.eye(16) - dt * jac, y),
                               rtol=1e-9, atol=1e-12)


def split_variables(program: ct.Program) -> tuple[set, set]:
    """(solver, step): variables inside the Newton child, and the step's others."""
    (call,) = [e for e in program.eqns if e.primitive.name == "call"
               and e.params["program"].name == "newton"]
    solver = set(call.params["program"].variables())
    return solver, set(program.variables()) - solver - set(call.outputs)


def reused(layout: ct.Layout) -> list[tuple[str, str]]:
    """(solver buffer, dead step buffer) pairs given overlapping local storage."""
    solver, step = split_variables(layout.program)
    local = [(v, p) for v, p in layout.placements.items() if p.location == "local"]
    return [(p.name, q.name) for v, p in local if v in solver for w, q in local
            if w in step and p.group != q.group
            and p.offset < q.offset + q.size and q.offset < p.offset + p.size]


@pytest.mark.parametrize("linear,jacobi", CONFIGURATIONS)
def test_layout_plans_verifies_and_reuses_step_storage(linear: str, jacobi: bool) -> None:
    program = ct.trace(backward_euler(linear, jacobi), system=CHAIN)
    layout = ct.plan(program)
    layout.verify()
    table = layout.table()
    hints = {"residual", "delta", "x_trial", "r"} | ({"p", "v", "s", "r_hat"} if linear ==
                                                    "bicgstab" else {"az"}) \
        | ({"diag", "z"} if jacobi else set())
    shown = {line.split()[0] for line in table.splitlines()[2:] if line.strip()}
    local = {name: name.rsplit("/", 1)[-1] for name in shown}  # scoped names: newton/delta
    assert hints <= set(local.values()), hints - set(local.values())
    if jacobi:  # the diagonal's probe vectors are dead step buffers the solvers reuse
        assert reused(layout)
    assert layout.total_elements == sum(layout.lower_bound.values())


@pytest.mark.parametrize("jacobi", [True, False])
def test_newton_minimal_residual_fits_the_budget(jacobi: bool) -> None:
    layout = ct.plan(ct.trace(backward_euler("minimal_residual", jacobi), system=CHAIN))
    assert layout.total_elements <= BUDGET
