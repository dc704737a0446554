"""Systems inside traced steps, run through the reference interpreter."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from scipy.interpolate import CubicSpline

import cubie_trace as ct
from cubie_trace.systems import library
from tests.systems.models import KNOTS, SAMPLES, driven


@ct.step(order=1)
def euler(f, t, dt, y, state):
    return y + dt * f(t, y), None, state, ct.OK


@ct.step(order=1, state={"obs": 2, "u": 2, "op": "n"})
def probe(f, t, dt, y, state):
    k = f(t, y)
    new_state = {"obs": f.observables(t, y), "u": f.drivers(t), "op": f.operator(t, y, k, dt)}
    return y + dt * f.jvp(t, y, k), None, new_state, ct.OK


def by_hand(t: float, y: np.ndarray, p: np.ndarray) -> dict[str, np.ndarray]:
    """The driven system's functions, written out with numpy and scipy."""
    (x, v), (omega, c) = y, p
    u = CubicSpline(KNOTS, SAMPLES)(np.clip(t, KNOTS[0], KNOTS[-1]))
    w = np.interp(t, np.linspace(0.0, 2.0, 5), [0.0, 1.0, 0.5, 0.0, 2.0])
    force = u + w * np.sin(t)
    energy = v**2 / 2 + omega**2 * x**2 / 2
    jac = np.array([[0.0, 1.0], [-(omega**2), -c]])
    return {"rhs": np.array([v, -(omega**2) * x - c * v + force - 0.5]), "jac": jac,
            "obs": np.array([energy, 2 * energy + force]), "u": np.array([u, w])}


@pytest.mark.parametrize("t", [-1.0, 0.0, 0.4, 1.3, 2.0, 2.5])
def test_euler_step_with_drivers_matches_numpy(t: float) -> None:
    system = driven()
    prog = ct.trace(euler, system=system)
    assert prog.input_names == ("t", "dt", "y", "p", "d")
    y, p, dt = np.array([0.3, -1.2]), np.array([1.5, 0.2]), 0.01
    y_new, err, state, status = ct.interpret(prog, t, dt, y, {}, p,
                                             system.driver_coefficients)
    np.testing.assert_allclose(y_new, y + dt * by_hand(t, y, p)["rhs"], rtol=1e-13)
    assert err is None and state == {} and status == ct.OK


def test_observables_drivers_jvp_and_operator_in_a_step() -> None:
    system = driven()
    prog = ct.trace(probe, system=system)
    text = str(prog)
    for fn in ("rhs", "jvp", "observables", "drivers", "operator"):
        assert f"fn={fn}" in text
    t, dt, y, p = 0.9, 0.05, np.array([0.7, 0.4]), np.array([2.0, 0.1])
    state = {"obs": np.zeros(2), "u": np.zeros(2), "op": np.zeros(2)}
    y_new, _, new_state, _ = ct.interpret(prog, t, dt, y, state, p, system.driver_coefficients)
    hand = by_hand(t, y, p)
    k = hand["rhs"]
    np.testing.assert_allclose(y_new, y + dt * hand["jac"] @ k, rtol=1e-13)
    np.testing.assert_allclose(new_state["obs"], hand["obs"], rtol=1e-13)
    np.testing.assert_allclose(new_state["u"], hand["u"], rtol=1e-13)
    np.testing.assert_allclose(new_state["op"], k - dt * hand["jac"] @ k, rtol=1e-13)


def test_float32_interpretation_keeps_the_precision() -> None:
    system = library.lorenz()
    prog = ct.trace(euler, system=system)
    y_new, *_ = ct.interpret(prog, 0.0, 0.01, system.initial_values, {},
                             system.default_parameters, precision="float32")
    assert y_new.dtype == np.float32
    np.testing.assert_allclose(y_new, [0.9, 0.28, 0.0], rtol=1e-6)


def lorenz_function(t, y, p):
    return [p.sigma * (y.y - y.x), y.x * (p.rho - y.z) - y.y, y.x * y.y - p.beta * y.z]


def test_from_function_and_from_equations_give_the_same_program() -> None:
    equations = library.lorenz()
    function = ct.ODESystem.from_function(
        lorenz_function, states={"x": 1.0, "y": 0.0, "z": 0.0},
        parameters={"sigma": 10.0, "rho": 28.0, "beta": 8 / 3}, name="lorenz")
    assert function.derivatives == equations.derivatives
    assert str(ct.trace(euler, system=function)) == str(ct.trace(euler, system=equations))
    assert function.emit("jvp", "g") == equations.emit("jvp", "g")


def driven_function(t, y, p, d):
    force = d.u + p.w * sp.sin(t)
    return {"v": -p.omega**2 * y.x - p.c * y.v + force + p.g, "x": y.v}


def test_from_function_with_drivers_constants_and_observables() -> None:
    equations = driven()
    function = ct.ODESystem.from_function(
        driven_function, states={"x": 1.0, "v": 0.0}, parameters={"omega": 2.0, "c": 0.1},
        constants={"g": -0.5},
        drivers={"u": {"t": KNOTS, "values": SAMPLES},
                 "w": {"t": np.linspace(0.0, 2.0, 5), "values": [0.0, 1.0, 0.5, 0.0, 2.0],
                       "kind": "linear"}},
        observables={"energy": "v**2/2 + omega**2*x**2/2", "twice": "2*energy + u + w*sin(t)"},
        name="driven")
    assert function.derivatives == equations.derivatives
    assert function.observable_expressions == equations.observable_expressions
    np.testing.assert_array_equal(function.driver_coefficients, equations.driver_coefficients)
    assert str(ct.trace(probe, system=function)) == str(ct.trace(probe, system=equations))
