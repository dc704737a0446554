"""jvp, jacobian and operator against central finite differences of rhs."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import cubie_trace as ct
from cubie_trace.systems import library
from cubie_trace.testing import examples

SYSTEMS = {"lorenz": library.lorenz(), "robertson": library.robertson(),
           "hires": library.hires(), "chain16": library.linear_chain(16)}


def finite_difference_jacobian(system: ct.ODESystem, t: float, y: np.ndarray,
                               p: np.ndarray) -> np.ndarray:
    columns = []
    for j in range(system.n_states):
        h = 1e-6 * max(1.0, abs(y[j]))
        step = np.zeros_like(y)
        step[j] = h
        (plus,) = system.evaluate("rhs", t, y + step, p)
        (minus,) = system.evaluate("rhs", t, y - step, p)
        columns.append((plus - minus) / (2 * h))
    return np.stack(columns, axis=1)


@pytest.mark.parametrize("name", SYSTEMS)
@settings(max_examples=examples(30, 300))
@given(data=st.data())
def test_jvp_and_jacobian_match_finite_differences(name: str, data: st.DataObject) -> None:
    system = SYSTEMS[name]
    n = system.n_states
    vector = st.lists(st.floats(-10, 10), min_size=n, max_size=n).map(np.array)
    y, v = data.draw(vector, "y"), data.draw(vector, "v")
    t = data.draw(st.floats(0, 10), "t")
    p = system.default_parameters
    fd = finite_difference_jacobian(system, t, y, p)
    (jac,) = system.evaluate("jacobian", t, y, p)
    big = max(1.0, np.abs(jac).max())
    np.testing.assert_allclose(jac, fd, rtol=1e-6, atol=1e-6 * big)
    (jv,) = system.evaluate("jvp", t, y, v, p)
    np.testing.assert_allclose(jv, jac @ v, rtol=1e-9, atol=1e-12 * big)
    gamma_h = data.draw(st.floats(1e-3, 1.0), "gamma_h")
    (op,) = system.evaluate("operator", t, y, v, gamma_h, p)
    np.testing.assert_allclose(op, v - gamma_h * (jac @ v), rtol=1e-9, atol=1e-12 * big)


def test_operator_uses_the_mass_matrix() -> None:
    equations = ["dx = -a*x + y", "dy = x - y**2", "dz = x + y + z"]
    states = {"x": 1.0, "y": 0.5, "z": 0.0}
    dae = ct.ODESystem.from_equations(equations, states=states, parameters={"a": 2.0},
                                      mass=[[1, 0, 0], [0, "a", 0], [0, 0, 0]])
    diagonal = ct.ODESystem.from_equations(equations, states=states, parameters={"a": 2.0},
                                           mass=[1, "a", 0])
    assert dae.mass == sp.diag(1, dae.symbols["a"], 0) == diagonal.mass
    y, v, p = np.array([0.3, -1.0, 2.0]), np.array([1.0, 2.0, 3.0]), np.array([2.5])
    (jac,) = dae.evaluate("jacobian", 0.0, y, p)
    (op,) = dae.evaluate("operator", 0.0, y, v, 0.1, p)
    np.testing.assert_allclose(op, np.diag([1.0, 2.5, 0.0]) @ v - 0.1 * jac @ v)
    assert ct.ODESystem.from_equations(equations, states=states,
                                       parameters={"a": 2.0}).mass == sp.eye(3)


TANGENT_SYSTEMS = {"lorenz": library.lorenz(), "robertson": library.robertson(),
                   "events": library.fitzhugh_nagumo().with_events(
                       {"spike": "v - 1", "slow": "w*I*exp(v)*t"})}


@pytest.mark.parametrize("name", TANGENT_SYSTEMS)
@settings(max_examples=examples(10, 100), deadline=None)
@given(data=st.data())
def test_every_tangent_matches_central_differences(name: str, data: st.DataObject) -> None:
    """`<fn>_tangent` is the derivative of fn along the tangents of all its operands and of
    p, for every function of a system (rhs, the Jacobian's forms, dfdt, operator, events)."""
    system = TANGENT_SYSTEMS[name]
    tangents = [fn for fn in system.functions if fn.endswith("_tangent")]
    assert len(tangents) == len(system.functions) // 2
    sizes = {"y": system.n_states, "v": system.n_states, "p": system.n_parameters}
    for fn in tangents:
        spec = system.definitions[fn.removesuffix("_tangent")]
        own = [o for o in spec.operands if o != "p"]

        def draw(operand: str, label: str, low: float = -2.0) -> np.ndarray | float:
            if operand in sizes:
                return np.array(data.draw(st.lists(st.floats(low, 2), min_size=sizes[operand],
                                                   max_size=sizes[operand]), label))
            return data.draw(st.floats(low, 2), label)

        # parameters away from zero: FitzHugh-Nagumo divides by tau
        point = [draw(o, f"{fn} {o}", 0.5 if o == "p" else -2.0) for o in (*own, "p")]
        direction = [draw(o, f"{fn} d{o}") for o in (*own, "p")]
        (tangent,) = system.evaluate(fn, *point[:-1], *direction[:-1], direction[-1],
                                     point[-1])
        h = 1e-6
        (plus,) = system.evaluate(spec.name, *(x + h * d for x, d in zip(point, direction)))
        (minus,) = system.evaluate(spec.name, *(x - h * d for x, d in zip(point, direction)))
        central = (plus - minus) / (2 * h)
        scale = 1.0 + np.max(np.abs(central), initial=0.0)
        np.testing.assert_allclose(tangent, central, rtol=1e-5, atol=1e-6 * scale,
                                   err_msg=f"{name}.{fn}")
