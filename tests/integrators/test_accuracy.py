"""Accuracy of the integrators against independent references.

- Observed convergence order of the traced step (`ct.interpret`, fixed steps) on
  a smooth nonlinear non-autonomous problem with a known solution, and the order
  of its embedded error estimate: a few methods by default, every tableau in the
  slow run.
- Adaptive solves of a Lorenz rho sweep and of Van der Pol (mu = 1) at
  rtol = atol = 1e-10 against scipy DOP853 at 1e-13 (tsit5 by default; dopri54,
  vern7 and dop853 in the slow run).
- Fixed RK4 at dt = 1e-3 on the Lorenz sweep (the benchmark protocol).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import cubie_trace as ct
from cubie_trace.core.step import Step, get_method
from cubie_trace.integrators.erk import erk_step
from cubie_trace.integrators.tableaus import ERK_TABLEAUS
from tests.integrators.problems import (
    EXACT_EQUATIONS,
    EXACT_P,
    LORENZ_EVERY,
    LORENZ_RHO,
    LORENZ_SPAN,
    VDP_EVERY,
    VDP_SAVES,
    VDP_SPAN,
    VDP_Y0,
    assert_relative,
    exact_rhs,
    exact_solution,
    lorenz_reference,
)

# --- observed order of the traced step --------------------------------------------

T_END = 4.0
GRID = 0.4  # errors are compared at multiples of GRID
LADDER = [GRID / 2 ** k for k in range(6)]  # 0.4 .. 0.0125
FLOOR = 5e-14  # errors below this are too close to round-off (~1e-15) to measure
CI_METHODS = ["euler", "heun", "rk4", "tsit5", "dop853"]


def exact_system() -> ct.ODESystem:
    """EXACT_EQUATIONS: nonlinear and non-autonomous, so every node c_i matters."""
    return ct.ODESystem.from_equations(EXACT_EQUATIONS, states={"x": 1.0, "v": 0.0},
                                       parameters=dict(zip("abc", EXACT_P)), name="exact")


def grid_error(program: ct.Program, dt: float) -> float:
    """Largest error at the multiples of GRID of fixed steps of the traced step program,
    evaluated by `ct.interpret` from the exact initial value."""
    keys = program.input_names[3:-1]  # carried state, between y and p
    assert set(keys) <= {"fsal_k"}
    y = exact_solution(0.0)
    state = {key: exact_rhs(0.0, y) for key in keys}  # FSAL: k = f(t0, y0)
    p, every = np.array(EXACT_P), int(round(GRID / dt))
    worst = 0.0
    for i in range(int(round(T_END / dt))):
        y, _, state, status = ct.interpret(program, i * dt, dt, y, state, p)
        assert int(status) == int(ct.OK)
        if (i + 1) % every == 0:
            worst = max(worst, float(np.abs(y - exact_solution((i + 1) * dt)).max()))
    return worst


def observed_order(step: Step) -> tuple[float, list[float]]:
    """log2 of the error ratio over the finest halving of dt whose errors stay above
    FLOOR (high orders reach round-off at coarse steps, 5th-order pairs with small
    principal error coefficients approach their order only at fine steps)."""
    program = ct.trace(step, system=exact_system())
    errors: list[float] = []
    for dt in LADDER:
        error = grid_error(program, dt)
        if error < FLOOR:
            break
        errors.append(error)
    assert len(errors) >= 2, f"errors {errors}: no two step sizes above round-off"
    return float(np.log2(errors[-2] / errors[-1])), errors


def check_order(step: Step) -> None:
    order, errors = observed_order(step)
    assert abs(order - step.order) < 0.3, \
        f"{step.name}: observed order {order:.2f}, nominal {step.order} (errors {errors})"


def check_error_estimate(step: Step) -> None:
    """The embedded estimate of one step from the exact solution shrinks like
    dt^(min(order, error_order) + 1), the exponent the controllers assume."""
    program = ct.trace(step, system=exact_system())
    t0, p = 0.3, np.array(EXACT_P)
    y0 = exact_solution(t0)
    state = {key: exact_rhs(t0, y0) for key in program.input_names[3:-1]}
    norms = [float(np.abs(ct.interpret(program, t0, dt, y0, state, p)[1]).max())
             for dt in (0.1, 0.05)]
    expected = min(step.order, step.error_order) + 1
    observed = np.log2(norms[0] / norms[1])
    assert abs(observed - expected) < 0.3, f"{step.name}: {observed:.2f} vs {expected}"


@pytest.mark.parametrize("method", CI_METHODS)
def test_convergence_order(method: str) -> None:
    """The registered method has its nominal order."""
    step = get_method(method, exact_system())
    check_order(step)
    if step.adaptive:
        check_error_estimate(step)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(ERK_TABLEAUS))
def test_convergence_order_every_tableau(name: str) -> None:
    step = erk_step(ERK_TABLEAUS[name])
    check_order(step)
    if step.adaptive:
        check_error_estimate(step)


# --- adaptive solves against scipy ------------------------------------------------

SLOW_ADAPTIVE = ["dopri54", "vern7", "dop853"]
ADAPTIVE = ["tsit5", *(pytest.param(m, marks=pytest.mark.slow) for m in SLOW_ADAPTIVE)]


@pytest.mark.parametrize("method", ADAPTIVE)
def test_lorenz_sweep_matches_dop853(method: str,
                                     lorenz_solver: Callable[[str], ct.Solver]) -> None:
    sol = lorenz_solver(method).solve(LORENZ_SPAN, parameters={"rho": LORENZ_RHO},
                                      save_every=LORENZ_EVERY, progress=False)
    assert np.all(sol.ok), sol.status
    np.testing.assert_allclose(sol.parameters[:, 1], LORENZ_RHO)
    assert_relative(sol.y, lorenz_reference(sol.t), 1e-7)
    # plausible counters: the chaotic rho = 28 run needs the most steps
    assert np.all(sol.stats["accepted"] >= 10) and np.all(sol.stats["accepted"] < 5000)
    assert np.all(sol.stats["rejected"] >= 0)
    assert np.all(sol.stats["rejected"] < sol.stats["accepted"] / 4)
    assert sol.stats["accepted"][-1] == sol.stats["accepted"].max()


@pytest.mark.parametrize("method", ADAPTIVE)
def test_van_der_pol_matches_dop853(method: str, vdp_solver: Callable[[str], ct.Solver],
                                    vdp_reference: np.ndarray,
                                    request: pytest.FixtureRequest) -> None:
    """Three runs from different y0 over (0, 50), about seven periods."""
    sol = request.getfixturevalue("vdp_tsit5_solution") if method == "tsit5" else \
        vdp_solver(method).solve(VDP_SPAN, y0=VDP_Y0, save_every=VDP_EVERY, progress=False)
    np.testing.assert_array_equal(sol.y0, VDP_Y0)
    assert np.all(sol.ok), sol.status
    assert sol.y.shape == (3, VDP_SAVES, 2)
    assert_relative(sol.y, vdp_reference, 1e-7)


def test_fixed_rk4_lorenz(lorenz_rk4: ct.Solver) -> None:
    """RK4, dt = 1e-3 on (0, 1): exactly 1000 accepted steps, final state to 1e-8."""
    sol = lorenz_rk4.solve(LORENZ_SPAN, parameters={"rho": LORENZ_RHO}, progress=False)
    assert np.all(sol.ok)
    np.testing.assert_array_equal(sol.t, [LORENZ_SPAN[1]])
    assert sol.y.shape == (len(LORENZ_RHO), 1, 3)
    np.testing.assert_array_equal(sol.stats["accepted"], 1000)
    np.testing.assert_array_equal(sol.stats["rejected"], 0)
    assert_relative(sol.y, lorenz_reference(sol.t), 1e-8)
