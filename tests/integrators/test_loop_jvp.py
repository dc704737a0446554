"""`ct.jvp` through a whole traced integration loop (system calls differentiated by the
system's `rhs_tangent`): the derivative of Lorenz's final state with respect to rho and
to the initial state, against central differences of the same loop and against scipy
integrating the variational equations."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy.integrate import solve_ivp

import cubie_trace as ct
from cubie_trace.core.tree import flatten
from cubie_trace.integrators.loop import loop_inputs
from cubie_trace.systems.library import lorenz

P = np.array([10.0, 28.0, 8.0 / 3.0])
Y0 = np.array([1.0, 0.0, 0.0])
T_END = 0.5


def final_state(outputs: Any) -> np.ndarray:
    """The loop's final state: its first buffer output of three elements."""
    leaves, _ = flatten(outputs, none_is_leaf=True)
    return next(np.asarray(v) for v in leaves if v is not None and np.shape(v) == (3,))


def variational_reference(direction_p: np.ndarray, direction_y: np.ndarray) -> np.ndarray:
    """dy(T)/d(p, y0) along the given directions: y' = f, s' = J s + df/dp dp."""
    def rhs(t: float, u: np.ndarray) -> list[float]:
        (x, y, z), s = u[:3], u[3:]
        sigma, rho, beta = P
        jac = np.array([[-sigma, sigma, 0.0], [rho - z, -1.0, -x], [y, x, -beta]])
        dfdp = np.array([[y - x, 0.0, 0.0], [0.0, x, 0.0], [0.0, 0.0, -z]])
        return [sigma * (y - x), x * (rho - z) - y, x * y - beta * z,
                *(jac @ s + dfdp @ direction_p)]

    sol = solve_ivp(rhs, (0.0, T_END), [*Y0, *direction_y], method="DOP853", rtol=1e-13,
                    atol=1e-13)
    return sol.y[3:, -1]


@pytest.mark.parametrize("method, options", [
    pytest.param("rk4", {"dt": 1e-3}, marks=pytest.mark.slow),
    ("tsit5", {"rtol": 1e-10, "atol": 1e-10})])
def test_final_state_sensitivity(method: str, options: dict) -> None:
    solver = ct.Solver(lorenz(), method, backend="cpu", save=None, **options)
    program = solver.compiled(1)[0]
    args = loop_inputs(solver.system, Y0, P, 0.0, [T_END], solver.options)
    for dp, dy in ((np.array([0.0, 1.0, 0.0]), np.zeros(3)),
                   (np.array([1.0, 0.0, -0.5]), np.array([0.0, 1.0, 0.0]))):
        tangents = [None] * len(args)
        tangents[0], tangents[1] = dy, dp
        _, tout = ct.jvp(program, tuple(args), tuple(tangents))
        got = final_state(tout)
        h = 1e-6 * 28.0

        def at(step: float, dp: np.ndarray = dp, dy: np.ndarray = dy) -> np.ndarray:
            moved = list(args)
            moved[0], moved[1] = Y0 + step * dy, P + step * dp
            return final_state(ct.interpret(program, *moved))

        fd = (at(h) - at(-h)) / (2 * h)
        np.testing.assert_allclose(got, fd, rtol=1e-6)
        np.testing.assert_allclose(got, variational_reference(dp, dy), rtol=1e-6)
