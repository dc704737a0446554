"""Single traced steps against hand computations: one step of every ERK tableau
equals the Butcher sum evaluated with numpy from the tableau, and FSAL state is f
at the new point.
"""

from __future__ import annotations

import numpy as np
import pytest

import cubie_trace as ct
from cubie_trace.integrators.butcher import ButcherTableau
from cubie_trace.integrators.erk import erk_step
from cubie_trace.integrators.tableaus import ERK_TABLEAUS
from tests.integrators.problems import EXACT_EQUATIONS, EXACT_P, exact_rhs, exact_solution


@pytest.fixture(scope="module")
def system() -> ct.ODESystem:
    return ct.ODESystem.from_equations(EXACT_EQUATIONS, states={"x": 1.0, "v": 0.0},
                                       parameters=dict(zip("abc", EXACT_P)), name="exact")


def test_problem_is_exact() -> None:
    """The shared test problem: (cos t, sin t) solves EXACT_EQUATIONS."""
    for t in np.linspace(0.0, 4.0, 9):
        np.testing.assert_allclose(exact_rhs(t, exact_solution(t)), [-np.sin(t), np.cos(t)],
                                   rtol=0, atol=1e-15)


def butcher_step(tab: ButcherTableau, t: float, dt: float,
                 y: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """(y_new, error estimate, stage derivatives) by the textbook formulas."""
    a, b, c = np.array(tab.a), np.array(tab.b), np.array(tab.c)
    k = np.zeros((tab.stages, y.size))
    for i in range(tab.stages):
        k[i] = exact_rhs(t + c[i] * dt, y + dt * (a[i, :i] @ k[:i]))
    err = None if tab.b_error is None else dt * (np.array(tab.error_weights) @ k)
    return y + dt * (b @ k), err, k


@pytest.mark.parametrize("name", list(ERK_TABLEAUS))
def test_one_step_matches_the_butcher_sum(name: str, system: ct.ODESystem) -> None:
    tab = ERK_TABLEAUS[name]
    program = ct.trace(erk_step(tab), system=system)
    t, dt = 0.3, 0.17
    y = np.array([0.9, 0.2])  # off the exact solution: a generic point
    y_new, err, k = butcher_step(tab, t, dt, y)
    state = {"fsal_k": exact_rhs(t, y)} if tab.fsal else {}
    out = ct.interpret(program, t, dt, y, state, np.array(EXACT_P))
    got_y, got_err, got_state, status = out
    assert int(status) == int(ct.OK)
    np.testing.assert_allclose(got_y, y_new, rtol=1e-14, atol=1e-15)
    if err is None:
        assert got_err is None and program.output_names[1] != "error"
    else:
        # the estimate is a difference of nearly equal sums: round-off relative to the terms
        terms = dt * (np.abs(tab.error_weights) @ np.abs(k))
        np.testing.assert_allclose(got_err, err, rtol=1e-12, atol=1e-14 * terms.max())
    if tab.fsal:  # the carried derivative is f(t + dt, y_new), the next first stage
        assert program.input_names == ("t", "dt", "y", "fsal_k", "p")
        np.testing.assert_allclose(got_state["fsal_k"], k[-1], rtol=1e-14, atol=1e-15)
        np.testing.assert_allclose(got_state["fsal_k"], exact_rhs(t + dt, y_new), rtol=1e-13)
    else:
        assert got_state == {}


def test_euler_by_hand(system: ct.ODESystem) -> None:
    program = ct.trace("euler", system=system)
    y, t, dt = np.array([0.9, 0.2]), 0.3, 0.1
    got_y, err, state, status = ct.interpret(program, t, dt, y, {}, np.array(EXACT_P))
    np.testing.assert_allclose(got_y, y + dt * exact_rhs(t, y), rtol=1e-15)
    assert err is None and state == {} and int(status) == 0
