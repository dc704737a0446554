"""The DIRK family (DIRK, SDIRK, ESDIRK and the single-stage methods) against
independent references.

- Observed order of the traced step at fixed steps (`ct.interpret`) on the smooth
  non-autonomous problem of test_accuracy, and the order of the error estimate:
  three methods by default, every one slow.
- Robertson to t = 40 (and 1e5, slow), HIRES to 321.8122 and Van der Pol mu = 1000
  (slow) with Kvaerno 5 and the L-stable SDIRK 4 against scipy's Radau at rtol 1e-13
  with the analytic Jacobian, and HIRES against the Test Set's published values;
  backward Euler on Robertson to t = 40.
- Newton failures retry with a smaller step; matrix-free Krylov agrees with the LU path.
- Robertson as an index-1 DAE (M = diag(1, 1, 0)) against its ODE form; explicit
  methods refuse a mass matrix; options are validated.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy.integrate import solve_ivp as scipy_solve

import cubie_trace as ct
from cubie_trace.core.step import get_method
from cubie_trace.integrators.implicit_methods import IMPLICIT_METHODS
from cubie_trace.integrators.loop import LoopSpec, RunOptions, build_loop, loop_inputs
from cubie_trace.systems.library import hires, linear_chain, robertson, van_der_pol
from tests.integrators.problems import EXACT_P, exact_solution
from tests.integrators.test_accuracy import check_error_estimate, exact_system, grid_error

DIRK = sorted(name for name, m in IMPLICIT_METHODS.items() if m.family == "dirk")
CI_ORDER = ["backwards_euler", "l_stable_sdirk_4", "kvaerno5"]
TIGHT = {"tol": 1e-13, "max_iters": 20}  # Newton far below the truncation errors
K = (0.04, 3e7, 1e4)

# Published reference at t = 321.8122 (Test Set for IVP Solvers, Mazzia and Magherini)
HIRES_END = 321.8122
HIRES_REF = np.array([0.7371312573325668e-3, 0.1442485726316185e-3, 0.5888729740967575e-4,
                      0.1175651343283149e-2, 0.2386356198831331e-2, 0.6238968252742796e-2,
                      0.2849998395185769e-2, 0.2850001604814231e-2])


# --- references --------------------------------------------------------------------

def robertson_rhs(t: float, y: np.ndarray) -> np.ndarray:
    k1, k2, k3 = K
    return np.array([-k1 * y[0] + k3 * y[1] * y[2],
                     k1 * y[0] - k3 * y[1] * y[2] - k2 * y[1] ** 2, k2 * y[1] ** 2])


def robertson_jac(t: float, y: np.ndarray) -> np.ndarray:
    k1, k2, k3 = K
    return np.array([[-k1, k3 * y[2], k3 * y[1]],
                     [k1, -k3 * y[2] - 2 * k2 * y[1], -k3 * y[1]],
                     [0.0, 2 * k2 * y[1], 0.0]])


def hires_rhs(t: float, y: np.ndarray) -> np.ndarray:
    r = 280 * y[5] * y[7]
    return np.array([-1.71 * y[0] + 0.43 * y[1] + 8.32 * y[2] + 0.0007,
                     1.71 * y[0] - 8.75 * y[1], -10.03 * y[2] + 0.43 * y[3] + 0.035 * y[4],
                     8.32 * y[1] + 1.71 * y[2] - 1.12 * y[3],
                     -1.745 * y[4] + 0.43 * y[5] + 0.43 * y[6],
                     -r + 0.69 * y[3] + 1.71 * y[4] - 0.43 * y[5] + 0.69 * y[6],
                     r - 1.81 * y[6], -r + 1.81 * y[6]])


def hires_jac(t: float, y: np.ndarray) -> np.ndarray:
    j = np.zeros((8, 8))
    j[0, :3] = -1.71, 0.43, 8.32
    j[1, :2] = 1.71, -8.75
    j[2, 2:5] = -10.03, 0.43, 0.035
    j[3, 1:4] = 8.32, 1.71, -1.12
    j[4, 4:7] = -1.745, 0.43, 0.43
    j[5, 3:8] = 0.69, 1.71, -0.43 - 280 * y[7], 0.69, -280 * y[5]
    j[6, 5:8] = 280 * y[7], -1.81, 280 * y[5]
    j[7, 5:8] = -280 * y[7], 1.81, -280 * y[5]
    return j


def vdp_rhs(mu: float) -> Any:
    return lambda t, y: np.array([y[1], mu * (1 - y[0] ** 2) * y[1] - y[0]])


def vdp_jac(mu: float) -> Any:
    return lambda t, y: np.array([[0.0, 1.0], [-2 * mu * y[0] * y[1] - 1, mu * (1 - y[0] ** 2)]])


def radau(rhs: Any, jac: Any, y0: np.ndarray, t_end: float) -> np.ndarray:
    out = scipy_solve(rhs, (0.0, t_end), y0, method="Radau", jac=jac, rtol=1e-13,
                      atol=1e-16)
    assert out.success
    return out.y[:, -1]


def robertson_dae() -> ct.ODESystem:
    """Robertson in index-1 form: conservation replaces the third equation."""
    return ct.ODESystem.from_equations(
        ["dy1 = -k1*y1 + k3*y2*y3", "dy2 = k1*y1 - k3*y2*y3 - k2*y2**2",
         "dy3 = y1 + y2 + y3 - 1"],
        states={"y1": 1.0, "y2": 0.0, "y3": 0.0},
        parameters={"k1": K[0], "k2": K[1], "k3": K[2]}, mass=[1, 1, 0], name="robertson_dae")


def solve(system: ct.ODESystem, method: str, t_end: float, rtol: float, atol: float,
          **options: Any) -> ct.Solution:
    sol = ct.solve_ivp(system, (0.0, t_end), method=method, save_at=[t_end], rtol=rtol,
                       atol=atol, progress=False, **options)
    assert int(sol.status[0]) == int(ct.OK), f"{method}: status {sol.status}"
    return sol


def relative(got: np.ndarray, want: np.ndarray) -> float:
    return float(np.max(np.abs(got - want) / np.abs(want)))


# --- order ---------------------------------------------------------------------------

def observed_orders(method: str) -> list[float]:
    """Orders over successive halvings of fixed steps; an adaptive method's estimate
    is checked to shrink at the rate its controller assumes."""
    step = get_method(method, exact_system(), newton=TIGHT)
    if step.adaptive:
        check_error_estimate(step)
    program = ct.trace(step, system=exact_system())
    ladder = [0.4, 0.2, 0.1] if step.order >= 4 else [0.1, 0.05, 0.025]
    errors = [grid_error(program, dt) for dt in ladder]
    return [float(np.log2(errors[i] / errors[i + 1])) for i in range(len(errors) - 1)]


@pytest.mark.parametrize("method", CI_ORDER)
def test_order(method: str) -> None:
    """Fixed steps converge at the nominal order (finest halving within 0.3)."""
    orders = observed_orders(method)
    assert abs(orders[-1] - get_method(method, exact_system()).order) < 0.3, orders


@pytest.mark.slow
@pytest.mark.parametrize("method", [m for m in DIRK if m not in CI_ORDER])
def test_order_every_method(method: str) -> None:
    orders = observed_orders(method)
    assert abs(orders[-1] - get_method(method, exact_system()).order) < 0.3, orders


def test_matrix_free_agrees_with_lu() -> None:
    """One Kvaerno 5 step by Newton-Krylov (BiCGStab) equals the LU one to the Newton
    tolerance, and a large system defaults to matrix-free."""
    sysx = exact_system()
    y0, p = exact_solution(0.0), np.array(EXACT_P)
    outs = [ct.interpret(ct.trace(get_method("kvaerno5", sysx, newton=TIGHT, jacobian=j),
                                  system=sysx), 0.0, 0.2, y0, {}, p)
            for j in ("dense", "matrix-free")]
    assert all(int(out[3]) == int(ct.OK) for out in outs)
    np.testing.assert_allclose(outs[1][0], outs[0][0], rtol=0, atol=1e-11)
    assert get_method("kvaerno5", linear_chain(20)).meta["newton_matrix"] == "matrix-free"
    assert get_method("kvaerno5", linear_chain(16)).meta["newton_matrix"] == "dense"


# --- stiff problems ------------------------------------------------------------------

@pytest.fixture(scope="module")
def robertson_40() -> np.ndarray:
    return radau(robertson_rhs, robertson_jac, np.array([1.0, 0.0, 0.0]), 40.0)


@pytest.mark.parametrize("method", ["kvaerno5",
                                    pytest.param("l_stable_sdirk_4", marks=pytest.mark.slow)])
def test_robertson(method: str, robertson_40: np.ndarray) -> None:
    sol = solve(robertson(), method, 40.0, 1e-6, 1e-10)
    assert relative(sol.y[0, -1], robertson_40) < 1e-3
    assert int(sol.stats["newton_iterations"][0]) > 0
    assert "krylov_iterations" in sol.stats


def test_backward_euler_robertson(robertson_40: np.ndarray) -> None:
    """First order: the error at rtol 1e-6 is within a few hundred times the tolerance."""
    sol = solve(robertson(), "backwards_euler", 40.0, 1e-6, 1e-10)
    assert relative(sol.y[0, -1], robertson_40) < 1e-2


@pytest.mark.slow
@pytest.mark.parametrize("method", ["kvaerno5", "l_stable_sdirk_4"])
def test_robertson_long(method: str) -> None:
    want = radau(robertson_rhs, robertson_jac, np.array([1.0, 0.0, 0.0]), 1e5)
    sol = solve(robertson(), method, 1e5, 1e-6, 1e-10)
    assert relative(sol.y[0, -1], want) < 1e-3


@pytest.mark.slow
@pytest.mark.parametrize("method", ["kvaerno5", "l_stable_sdirk_4"])
def test_hires(method: str) -> None:
    want = radau(hires_rhs, hires_jac, hires().initial_values, HIRES_END)
    assert relative(want, HIRES_REF) < 1e-6  # scipy agrees with the published values
    sol = solve(hires(), method, HIRES_END, 1e-8, 1e-12)
    assert relative(sol.y[0, -1], HIRES_REF) < 1e-4


@pytest.mark.slow
@pytest.mark.parametrize("method", ["kvaerno5", "l_stable_sdirk_4"])
def test_van_der_pol_stiff(method: str) -> None:
    mu = 1000.0
    want = radau(vdp_rhs(mu), vdp_jac(mu), np.array([2.0, 0.0]), 2000.0)
    sol = solve(van_der_pol(mu), method, 2000.0, 1e-6, 1e-8)
    assert relative(sol.y[0, -1], want) < 1e-3


TOLS = RunOptions(rtol=1e-6, atol=1e-10)


def test_newton_failures_retry() -> None:
    """With two Newton iterations allowed, Kvaerno 5 on Robertson fails some stage
    solves; the loop retries them with smaller steps and the run stays accurate
    (through the interpreter, to t = 1)."""
    system = robertson()
    ref = radau(robertson_rhs, robertson_jac, np.array([1.0, 0.0, 0.0]), 1.0)
    step = get_method("kvaerno5", system, newton={"max_iters": 2})
    program = build_loop(system, LoopSpec(step, ct.Controller("pi"), 1))
    out = ct.interpret(program, *loop_inputs(system, system.initial_values,
                                             system.default_parameters, 0.0, [1.0], TOLS))
    assert int(out["status"]) == int(ct.OK)
    assert int(out["rejected"]) > 0
    assert relative(out["y"][-1], ref) < 1e-3
    assert int(out["counters"]["newton_iterations"]) > 0


def test_krylov_iterations_counted() -> None:
    """A matrix-free run reports its Krylov iterations (interpreted, to t = 0.1)."""
    system = robertson()
    step = get_method("l_stable_sdirk_4", system, jacobian="matrix-free")
    program = build_loop(system, LoopSpec(step, ct.Controller("pi"), 1))
    out = ct.interpret(program, *loop_inputs(system, system.initial_values,
                                             system.default_parameters, 0.0, [0.1], TOLS))
    ref = radau(robertson_rhs, robertson_jac, np.array([1.0, 0.0, 0.0]), 0.1)
    assert int(out["status"]) == int(ct.OK)
    assert relative(out["y"][-1], ref) < 1e-3
    assert int(out["counters"]["krylov_iterations"]) > 0
    assert int(out["counters"]["newton_iterations"]) > 0


# --- mass matrices -------------------------------------------------------------------

def test_dae_matches_ode() -> None:
    """Kvaerno 5 (stiffly accurate) on Robertson as an index-1 DAE agrees with the
    ODE form's reference to 1e-6."""
    sol = solve(robertson_dae(), "kvaerno5", 40.0, 1e-8, 1e-12)
    want = radau(robertson_rhs, robertson_jac, np.array([1.0, 0.0, 0.0]), 40.0)
    np.testing.assert_allclose(sol.y[0, -1], want, rtol=1e-6, atol=1e-12)
    assert abs(sol.y[0, -1].sum() - 1.0) < 1e-12


def test_explicit_methods_refuse_mass() -> None:
    with pytest.raises(ValueError, match="tsit5.*explicit.*kvaerno5"):
        ct.Solver(robertson_dae(), "tsit5")


def test_singular_mass_needs_stiffly_accurate() -> None:
    with pytest.raises(ValueError, match="crank_nicolson.*stiffly accurate"):
        get_method("crank_nicolson", robertson_dae())


# --- registration and options --------------------------------------------------------

def test_every_dirk_method_registered() -> None:
    system = robertson()
    for name in DIRK:
        for alias in (name, *IMPLICIT_METHODS[name].aliases):
            assert get_method(alias, system).implicit, alias
    assert set(DIRK) <= set(ct.methods())


@pytest.mark.parametrize("options, message", [
    ({"newton": {"tolerance": 1e-8}}, "tolerance"),
    ({"linear": {"solver": "gmres"}}, "solver"),
    ({"jacobian": "sparse"}, "sparse"),
    ({"jacobian": "dense", "linear": {"method": "gmres"}}, "gmres"),
    ({"newton": {"max_iters": 0}}, "max_iters"),
])
def test_options_validated(options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ct.Solver(robertson(), "kvaerno5", **options)


def test_explicit_methods_take_no_options() -> None:
    with pytest.raises(ValueError, match="rk4.*newton"):
        ct.Solver(robertson(), "rk4", dt=0.1, newton={"max_iters": 3})
