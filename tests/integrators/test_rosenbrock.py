"""Rosenbrock(-W) steps: convergence order, stiff problems against scipy Radau and the
Test Set for IVP Solvers, an index-1 DAE, the matrix-free solver and the footprint.

Every distinct (system, method) loop is compiled once per module (seconds each), so
runs are few; the longer problems are marked slow.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from scipy.integrate import solve_ivp as scipy_solve_ivp

import cubie_trace as ct
from cubie_trace.core.step import get_method
from cubie_trace.integrators.implicit_methods import IMPLICIT_METHODS
from cubie_trace.integrators.rosenbrock_step import rosenbrock_step
from cubie_trace.integrators.rosenbrock_tableaus import ROSENBROCK_TABLEAUS
from cubie_trace.systems import library
from tests.integrators.problems import REF_TOL, reference

ROSENBROCK = [name for name, m in IMPLICIT_METHODS.items() if m.family == "rosenbrock"]
STIFF = ["rodas3p", "rodas4", "rodas5p"]
CI_ORDER = ["ros3p", "rodas4", "rodas5p"]

# HIRES at t = 321.8122: Test Set for IVP Solvers (Mazzia & Magherini), reference solution
HIRES_END = 321.8122
HIRES_REF = np.array([0.7371312573325668e-3, 0.1442485726316185e-3, 0.5888729740967575e-4,
                      0.1175651343283149e-2, 0.2386356198831331e-2, 0.6238968252742796e-2,
                      0.2849998395185769e-2, 0.2850001604814231e-2])
ROBERTSON_K1 = np.array([0.04, 0.03, 0.05])

# --- independent right-hand sides and Jacobians ----------------------------------------


def forced(t: float, y: np.ndarray) -> np.ndarray:
    return np.array([-0.5 * y[0] + y[1] + np.sin(2 * t), -y[0] - 0.3 * y[1] * np.cos(t)])


def robertson_rhs(t: float, y: np.ndarray, k1: float) -> np.ndarray:
    k2, k3 = 3e7, 1e4
    return np.array([-k1 * y[0] + k3 * y[1] * y[2],
                     k1 * y[0] - k3 * y[1] * y[2] - k2 * y[1] ** 2, k2 * y[1] ** 2])


def robertson_jac(t: float, y: np.ndarray, k1: float) -> np.ndarray:
    k2, k3 = 3e7, 1e4
    return np.array([[-k1, k3 * y[2], k3 * y[1]],
                     [k1, -k3 * y[2] - 2 * k2 * y[1], -k3 * y[1]],
                     [0.0, 2 * k2 * y[1], 0.0]])


def radau(rhs: Callable, jac: Callable, t_end: float, y0: list[float],
          args: tuple = ()) -> np.ndarray:
    """scipy Radau with the analytic Jacobian at rtol 1e-13: the state at t_end."""
    sol = scipy_solve_ivp(rhs, (0.0, t_end), np.asarray(y0, float), method="Radau",
                          rtol=REF_TOL, atol=1e-20, jac=jac, args=args)
    assert sol.success, sol.message
    return sol.y[:, -1]


@pytest.fixture(scope="module")
def robertson_ref() -> Callable[[float], np.ndarray]:
    cache: dict[float, np.ndarray] = {}

    def get(t_end: float) -> np.ndarray:
        if t_end not in cache:
            cache[t_end] = np.stack([radau(robertson_rhs, robertson_jac, t_end, [1, 0, 0],
                                           (k1,)) for k1 in ROBERTSON_K1])
        return cache[t_end]

    return get


def end_state(solver: ct.Solver, t_end: float, **kwargs: Any) -> ct.Solution:
    sol = solver.solve((0.0, t_end), progress=False, **kwargs)
    assert np.all(sol.status == int(ct.Status.OK)), sol.status
    return sol


# --- construction (no compilation) -----------------------------------------------------


def test_every_rosenbrock_name_and_alias_is_registered() -> None:
    chain = library.linear_chain(3)
    for name in ROSENBROCK:
        for alias in (name, *IMPLICIT_METHODS[name].aliases):
            step = get_method(alias, chain)
            assert step.implicit and step.meta["tableau"] == name
            assert step.order == IMPLICIT_METHODS[name].tableau.order


def test_solver_choice_and_options() -> None:
    tab = ROSENBROCK_TABLEAUS["rodas4"]
    assert get_method("rodas4", library.linear_chain(16)).meta["jacobian"] == "dense"
    assert get_method("rodas4", library.linear_chain(17)).meta["jacobian"] == "matrix-free"
    small = library.linear_chain(4)
    assert rosenbrock_step(tab, small, jacobian="matrix-free").meta["jacobian"] == "matrix-free"
    with pytest.raises(ValueError, match="jacobian must be one of"):
        rosenbrock_step(tab, small, jacobian="sparse")
    with pytest.raises(ValueError, match="linear options"):
        rosenbrock_step(tab, small, linear={"restart": 4})
    with pytest.raises(ValueError, match="no newton options"):
        rosenbrock_step(tab, small, newton={"max_iters": 4})
    symbolic = ct.ODESystem.from_equations(["dx = -x"], states={"x": 1.0},
                                           parameters={"m": 2.0}, mass=["m"])
    with pytest.raises(ValueError, match="constant mass matrix"):
        rosenbrock_step(tab, symbolic)


@pytest.mark.parametrize("method,bound", [("ros3p", 114), ("rodas3p", 146)])
def test_step_footprint_within_cubie(method: str, bound: int) -> None:
    """Per-thread elements of the step on the 16-state chain (float64) against CuBIE
    0.17.0's Rosenbrock steps."""
    layout = ct.plan(ct.trace(method, system=library.linear_chain(16)))
    layout.verify()
    assert layout.total_elements <= bound


@pytest.mark.parametrize("jacobian", ["dense", "matrix-free"])
def test_singular_matrix_is_a_retryable_linear_failure(jacobian: str) -> None:
    """One RODAS4 step on dx = k x, dy = -y: exp(k dt) and exp(-dt) for k = 1; with
    k = 1/(gamma dt), W = 1 - gamma dt k is zero and the step reports LINEAR_FAILED."""
    system = ct.ODESystem.from_equations(["dx = k*x", "dy = -y"], states={"x": 1.0, "y": 1.0},
                                         parameters={"k": 1.0})
    tab, dt = ROSENBROCK_TABLEAUS["rodas4"], 0.1
    program = ct.trace(rosenbrock_step(tab, system, jacobian=jacobian), system=system)
    y_new, _, _, status = ct.interpret(program, 0.0, dt, np.ones(2), {}, np.array([1.0]))
    assert status == int(ct.Status.OK)
    np.testing.assert_allclose(y_new, np.exp([dt, -dt]), rtol=1e-6)
    *_, status = ct.interpret(program, 0.0, dt, np.ones(2), {}, np.array([1 / (tab.gamma * dt)]))
    assert status == int(ct.Status.LINEAR_FAILED)


def test_driver_time_derivative_by_difference() -> None:
    """dx = -x + u with the driver u(t) = t: f_t by a difference in t; one RODAS4 step
    from t = 0.5 matches x = t - 1 + (x0 - t0 + 1) exp(-(t - t0))."""
    samples = [0.0, 1.0, 2.0, 3.0]
    system = ct.ODESystem.from_equations(["dx = -x + u"], states={"x": 1.0},
                                         drivers={"u": (samples, samples)})
    step = rosenbrock_step(ROSENBROCK_TABLEAUS["rodas4"], system)
    assert step.meta["dfdt"] == "difference"
    program = ct.trace(step, system=system)
    t0, dt = 0.5, 0.1
    y_new, *_ = ct.interpret(program, t0, dt, np.ones(1), {}, np.zeros(0),
                             system.driver_coefficients)
    exact = t0 + dt - 1 + (2 - t0) * np.exp(-dt)
    assert abs(y_new[0] - exact) <= 1e-7


# --- convergence order -----------------------------------------------------------------


@pytest.fixture(scope="module")
def forced_system() -> ct.ODESystem:
    """A smooth non-stiff non-autonomous system: f_t enters every stage through d."""
    return ct.ODESystem.from_equations(
        ["dx = -0.5*x + y + sin(2*t)", "dy = -x - 0.3*y*cos(t)"],
        states={"x": 1.0, "y": 0.0}, name="forced")


@pytest.mark.parametrize("method", [
    m if m in CI_ORDER else pytest.param(m, marks=pytest.mark.slow) for m in ROSENBROCK])
def test_observed_order(method: str, forced_system: ct.ODESystem) -> None:
    """Fixed steps dt, dt/2, dt/4 on (0, 1): the error slope is the nominal order."""
    tab = ROSENBROCK_TABLEAUS[method]
    solver = ct.Solver(forced_system, method, dt=0.1, controller="fixed", backend="cpu")
    exact = reference(forced, (0.0, 1.0), [1.0, 0.0], np.array([1.0]))[-1]
    dts = np.array([0.1, 0.05, 0.025])
    errors = []
    for dt in dts:  # the step size is a run-time option: one compiled kernel for all three
        sol = solver.replace(dt=dt).solve((0.0, 1.0), progress=False)
        assert sol.status[0] == 0
        errors.append(np.max(np.abs(sol.y[0, -1] - exact)))
    slope = np.polyfit(np.log(dts), np.log(errors), 1)[0]
    assert abs(slope - tab.order) <= 0.3, (errors, slope)


# --- stiff problems ----------------------------------------------------------------------


@pytest.mark.parametrize("t_end", [40.0, pytest.param(1e5, marks=pytest.mark.slow)])
@pytest.mark.parametrize("method", STIFF)
def test_robertson(method: str, t_end: float,
                   robertson_ref: Callable[[float], np.ndarray]) -> None:
    """Three rate constants k1; every run succeeds and ends within 1e-3 of Radau."""
    solver = ct.Solver(library.robertson(), method, rtol=1e-6, atol=1e-10, backend="cpu")
    sol = end_state(solver, t_end, parameters={"k1": ROBERTSON_K1})
    np.testing.assert_allclose(sol.y[:, -1], robertson_ref(t_end), rtol=1e-3, atol=1e-12)


@pytest.mark.parametrize("method", [
    m if m == "rodas4" else pytest.param(m, marks=pytest.mark.slow) for m in STIFF])
def test_hires(method: str) -> None:
    """HIRES to 321.8122 at rtol 1e-8, atol 1e-12 against the Test Set's values."""
    solver = ct.Solver(library.hires(), method, rtol=1e-8, atol=1e-12, backend="cpu")
    sol = end_state(solver, HIRES_END)
    np.testing.assert_allclose(sol.y[0, -1], HIRES_REF, rtol=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("method", STIFF)
def test_van_der_pol_mu_1000(method: str) -> None:
    """Van der Pol with mu = 1000 to t = 2000 from two starts: success, and the end
    state of scipy's Radau."""
    mu = 1000.0

    def rhs(t: float, y: np.ndarray) -> np.ndarray:
        return np.array([y[1], mu * (1 - y[0] ** 2) * y[1] - y[0]])

    def jac(t: float, y: np.ndarray) -> np.ndarray:
        return np.array([[0.0, 1.0], [-2 * mu * y[0] * y[1] - 1, mu * (1 - y[0] ** 2)]])

    y0 = np.array([[2.0, 0.0], [1.5, 0.0]])
    solver = ct.Solver(library.van_der_pol(mu), method, rtol=1e-6, atol=1e-8, backend="cpu")
    sol = end_state(solver, 2000.0, y0=y0)
    expected = np.stack([radau(rhs, jac, 2000.0, list(start)) for start in y0])
    np.testing.assert_allclose(sol.y[:, -1, 0], expected[:, 0], rtol=1e-3)


# --- mass matrix and matrix-free ---------------------------------------------------------


def test_robertson_index1_dae(robertson_ref: Callable[[float], np.ndarray]) -> None:
    """Robertson with y1 + y2 + y3 = 1 as its third equation, M = diag(1, 1, 0), by
    RODAS4: the ODE form's solution to 1e-6, the constraint to rounding."""
    dae = ct.ODESystem.from_equations(
        ["dy1 = -k1*y1 + k3*y2*y3", "dy2 = k1*y1 - k3*y2*y3 - k2*y2**2",
         "dy3 = y1 + y2 + y3 - 1"],
        states={"y1": 1.0, "y2": 0.0, "y3": 0.0},
        parameters={"k1": 0.04, "k2": 3e7, "k3": 1e4}, mass=[1, 1, 0], name="robertson_dae")
    solver = ct.Solver(dae, "rodas4", rtol=1e-8, atol=1e-14, backend="cpu")
    sol = end_state(solver, 40.0)
    end = sol.y[0, -1]
    np.testing.assert_allclose(end, robertson_ref(40.0)[0], rtol=1e-6)
    assert abs(end.sum() - 1.0) <= 1e-12


def test_matrix_free_counts_krylov_iterations() -> None:
    """RODAS4 on HIRES with the matrix-free solver: Krylov iterations are counted and
    the Test Set's values are met."""
    system = library.hires()
    step = rosenbrock_step(ROSENBROCK_TABLEAUS["rodas4"], system, jacobian="matrix-free")
    solver = ct.Solver(system, step, rtol=1e-8, atol=1e-12, backend="cpu")
    sol = end_state(solver, HIRES_END)
    assert sol.stats["krylov_iterations"][0] > sol.stats["accepted"][0]
    np.testing.assert_allclose(sol.y[0, -1], HIRES_REF, rtol=1e-4)
