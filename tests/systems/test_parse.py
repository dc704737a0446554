"""Model text and Python functions to SymPy."""

from __future__ import annotations

import math

import numpy as np
import sympy as sp

import cubie_trace as ct
from cubie_trace.systems.parse import make_symbol


def test_keyword_and_builtin_names_are_ordinary_symbols() -> None:
    system = ct.ODESystem.from_equations(
        ["dS = -beta*S*I/N", "dI = beta*S*I/N - gamma*I - lambda*I", "dE = pi*E"],
        states={"S": 990.0, "I": 10.0, "E": 1.0},
        parameters={"beta": 0.3, "gamma": 0.1, "lambda": 0.01, "N": 1000.0, "pi": 2.0})
    S, inf, E, beta, gamma, lam, N, pi = (make_symbol(n) for n in
                                           ["S", "I", "E", "beta", "gamma", "lambda", "N", "pi"])
    assert system.derivatives == (-beta * S * inf / N,
                                  beta * S * inf / N - gamma * inf - lam * inf, pi * E)
    (rhs,) = system.evaluate("rhs", 0.0, system.initial_values, system.default_parameters)
    np.testing.assert_allclose(rhs, [-0.3 * 990 * 10 / 1000, 0.3 * 9.9 - 1.0 - 0.1, 2.0])


def test_auxiliaries_comments_time_and_functions() -> None:
    system = ct.ODESystem.from_equations(
        """
        # a chain of auxiliaries, inlined in order
        a = x*y      # product
        b = a + exp(-t)

        dx = -b + sqrt(abs(y)) + max(x, 0.5)
        dy = a^2 - where(x > y, x, y) + sin(pi*t)   # undeclared pi is the number
        """,
        states={"x": 1.0, "y": 2.0})
    x, y, t = make_symbol("x"), make_symbol("y"), make_symbol("t")
    assert system.derivatives[0] == -(x * y + sp.exp(-t)) + sp.sqrt(sp.Abs(y)) + sp.Max(x, 0.5)
    (rhs,) = system.evaluate("rhs", 0.25, np.array([1.0, 2.0]), np.zeros(0))
    expected = [-(2 + math.exp(-0.25)) + math.sqrt(2) + 1.0,
                4 - 2 + math.sin(math.pi * 0.25)]
    np.testing.assert_allclose(rhs, expected)
    assert system.n_parameters == 0 and system.parameter_names == ()


def test_constants_are_compiled_in_as_numbers() -> None:
    system = ct.ODESystem.from_equations(["dx = -k*x + c"], states={"x": 1.0},
                                         parameters={"k": 2.0}, constants={"c": 0.25})
    assert system.derivatives == (-make_symbol("k") * make_symbol("x") + sp.Float(0.25),)
    assert system.constants == {"c": 0.25} and system.parameter_names == ("k",)
    assert "FLOAT(0.25)" in system.emit("rhs", "f")


def test_observables_as_list_or_dict_may_chain() -> None:
    common = {"states": {"x": 3.0, "y": 4.0}}
    listed = ct.ODESystem.from_equations(["dx = y", "dy = -x"], observables=[
        "r2 = x**2 + y**2", "r = sqrt(r2)"], **common)
    mapped = ct.ODESystem.from_equations(["dx = y", "dy = -x"], observables={
        "r2": "x**2 + y**2", "r": "sqrt(r2)"}, **common)
    assert listed.observable_names == mapped.observable_names == ("r2", "r")
    assert listed.observable_expressions == mapped.observable_expressions
    (obs,) = listed.evaluate("observables", 0.0, listed.initial_values, np.zeros(0))
    np.testing.assert_allclose(obs, [25.0, 5.0])
    own = ("rhs", "jvp", "jacobian", "jacobian_diagonal", "jacobian_nonzeros", "dfdt",
           "operator", "observables")
    assert listed.functions == (*own, *(f"{fn}_tangent" for fn in own))


def test_observables_may_use_auxiliaries() -> None:
    system = ct.ODESystem.from_equations(["a = 2*x", "dx = -a"], states={"x": 1.0},
                                         observables=["twice = a"])
    assert system.observable_expressions == (2 * make_symbol("x"),)


def test_from_function_attribute_key_and_index_access() -> None:
    def f(t, y, p):
        return [-p["lambda"] * y[0] + p.E * t, p.gamma * y.a - y.b]

    system = ct.ODESystem.from_function(f, states={"a": 1.0, "b": 0.0},
                                        parameters={"lambda": 0.5, "E": 2.0, "gamma": 3.0})
    same = ct.ODESystem.from_equations(["da = -lambda*a + E*t", "db = gamma*a - b"],
                                       states={"a": 1.0, "b": 0.0},
                                       parameters={"lambda": 0.5, "E": 2.0, "gamma": 3.0})
    assert system.derivatives == same.derivatives


def test_from_function_reads_drivers_through_p() -> None:
    drivers = {"u": ([0.0, 1.0], [0.0, 2.0])}
    system = ct.ODESystem.from_function(lambda t, y, p: [p.u - y.x], states={"x": 0.0},
                                        drivers=drivers)
    assert system.functions[-1] == "drivers" and system.driver_names == ("u",)
    (rhs,) = system.evaluate("rhs", 0.5, np.array([0.25]), np.zeros(0),
                             system.driver_coefficients)
    np.testing.assert_allclose(rhs, [0.75])


def test_protocol_attributes() -> None:
    system = ct.ODESystem.from_equations(["dx = -k*x", "dy = x"], states={"x": 2.0, "y": 0.0},
                                         parameters={"k": 0.5}, name="decay")
    assert (system.name, system.n_states, system.n_parameters) == ("decay", 2, 1)
    assert system.n_driver_coefficients == 0 and system.driver_coefficients.shape == (0,)
    assert system.state_names == ("x", "y") and system.observable_names == ()
    np.testing.assert_array_equal(system.initial_values, [2.0, 0.0])
    np.testing.assert_array_equal(system.default_parameters, [0.5])
    assert system.abstract("jacobian", [ct.scalar(), ct.buffer(2), ct.buffer(1)]) == [
        ct.Aval((2, 2), "float")]
    assert system.abstract("operator", [ct.scalar(), ct.buffer(2), ct.buffer(2), ct.scalar(),
                                        ct.buffer(1)]) == [ct.buffer(2)]
