"""Bad input raises before anything compiles, naming the culprit."""

from __future__ import annotations

import math

import numpy as np
import pytest

import cubie_trace as ct

LORENZ = ["dx = sigma*(y - x)", "dy = x*(rho - z) - y", "dz = x*y - beta*z"]
STATES = {"x": 1.0, "y": 0.0, "z": 0.0}
PARAMETERS = {"sigma": 10.0, "rho": 28.0, "beta": 8 / 3}


def lorenz(equations=LORENZ, **kwargs) -> ct.ODESystem:
    options = {"states": STATES, "parameters": PARAMETERS, **kwargs}
    return ct.ODESystem.from_equations(equations, **options)


@pytest.mark.parametrize("line", ["dy = x*(rho - z - y", "dy = x*$rho", "dy = x +* y",
                                  "dy = 'text'", "dy x*y", "dy == x", "dy = x.real"])
def test_syntax_error_names_the_equation(line: str) -> None:
    with pytest.raises(ValueError, match="dy"):
        lorenz([LORENZ[0], line, LORENZ[2]])


def test_state_without_a_derivative() -> None:
    with pytest.raises(ValueError, match="state 'z' has no derivative"):
        lorenz(LORENZ[:2])
    with pytest.raises(ValueError, match="state 'y' has no derivative"):
        ct.ODESystem.from_function(lambda t, y, p: {"x": y.x, "z": y.z}, states=STATES)


def test_state_with_two_derivatives() -> None:
    with pytest.raises(ValueError, match="state 'x' has two derivatives"):
        lorenz([*LORENZ, "dx = -x"])


def test_undeclared_symbol() -> None:
    with pytest.raises(ValueError, match="undeclared symbol 'kappa'"):
        lorenz([LORENZ[0], LORENZ[1], "dz = x*y - kappa*z"])
    with pytest.raises(ValueError, match="undeclared symbol 'kappa'"):
        ct.ODESystem.from_function(lambda t, y, p: [-p.kappa * y.x], states={"x": 1.0})
    with pytest.raises(ValueError, match="undeclared symbol 'a'"):  # auxiliary used too early
        lorenz(["dx = a", "a = y", *LORENZ[1:]])
    with pytest.raises(ValueError, match="state 'w'"):
        ct.ODESystem.from_function(lambda t, y, p: [-y.w], states={"x": 1.0})


def test_undeclared_symbol_inferred_when_not_strict() -> None:
    with pytest.warns(UserWarning, match="undeclared symbol 'kappa'.*default 1.0"):
        system = lorenz([LORENZ[0], LORENZ[1], "dz = x*y - kappa*z"], strict=False)
    assert system.parameter_names == ("sigma", "rho", "beta", "kappa")
    assert system.default_parameters[-1] == 1.0
    with pytest.warns(UserWarning, match="'kappa'"):
        system = ct.ODESystem.from_function(lambda t, y, p: [-p.kappa * y.x],
                                            states={"x": 1.0}, strict=False)
    assert system.parameter_names == ("kappa",)


@pytest.mark.parametrize(("kwargs", "culprit"), [
    ({"parameters": {**PARAMETERS, "x": 1.0}}, "'x'.*state.*parameter"),
    ({"constants": {"rho": 1.0}}, "'rho'.*parameter.*constant"),
    ({"drivers": {"beta": ([0, 1], [0, 1])}}, "'beta'.*parameter.*driver"),
    ({"parameters": {**PARAMETERS, "t": 1.0}}, "'t'.*time"),
    ({"observables": ["sigma = x"]}, "observable 'sigma'"),
    ({"observables": ["r = x", "r = y"]}, "observable 'r'"),
])
def test_duplicate_names_across_roles(kwargs: dict, culprit: str) -> None:
    with pytest.raises(ValueError, match=culprit):
        lorenz(**kwargs)


def test_assigning_a_declared_name() -> None:
    with pytest.raises(ValueError, match="'sigma' is already declared"):
        lorenz([*LORENZ, "sigma = 2*x"])


@pytest.mark.parametrize(("kwargs", "culprit"), [
    ({"states": {**STATES, "z": math.nan}}, "state 'z'"),
    ({"parameters": {**PARAMETERS, "rho": math.inf}}, "parameter 'rho'"),
    ({"parameters": {**PARAMETERS, "rho": "many"}}, "parameter 'rho'"),
    ({"constants": {"g": -math.inf}}, "constant 'g'"),
])
def test_non_finite_defaults(kwargs: dict, culprit: str) -> None:
    with pytest.raises(ValueError, match=f"{culprit}: default must be a finite number"):
        lorenz(**kwargs)


@pytest.mark.parametrize(("spec", "message"), [
    (None, "has no samples"), ({}, "has no samples"), ({"t": [0.0, 1.0]}, "has no samples"),
    ({"t": [], "values": []}, "at least two samples"),
    ({"t": [0.0, 1.0, 1.0], "values": [1.0, 2.0, 3.0]}, "strictly increasing"),
    ({"t": [0.0, 2.0, 1.0], "values": [1.0, 2.0, 3.0]}, "strictly increasing"),
    ({"t": [0.0, 1.0], "values": [1.0, np.nan]}, "finite"),
    ({"t": [0.0, 1.0], "values": [1.0, 2.0], "kind": "quintic"}, "kind"),
    ({"times": [0.0, 1.0], "values": [1.0, 2.0]}, "unknown keys"),
])
def test_bad_driver(spec: object, message: str) -> None:
    with pytest.raises(ValueError, match=f"driver 'u'.*{message}"):
        lorenz([LORENZ[0], LORENZ[1], "dz = x*y - beta*z + u"], drivers={"u": spec})


@pytest.mark.parametrize("mass", [[[1, 0], [0, 1]], [1, 1], np.eye(4), [[1, 0, 0]] * 2])
def test_unknown_mass_matrix_shape(mass: object) -> None:
    with pytest.raises(ValueError, match=r"mass: expected an \(3, 3\) matrix"):
        lorenz(mass=mass)


def test_mass_matrix_with_an_undeclared_symbol() -> None:
    with pytest.raises(ValueError, match="undeclared symbol 'm'.*mass"):
        lorenz(mass=[1, "m", 1])


def test_wrong_result_from_function() -> None:
    with pytest.raises(ValueError, match="f must return 3 derivatives"):
        ct.ODESystem.from_function(lambda t, y, p: [y.x, y.y], states=STATES)
    with pytest.raises(ValueError, match="'w', which is not a state"):
        ct.ODESystem.from_function(lambda t, y, p: {"x": 1, "y": 1, "z": 1, "w": 1},
                                   states=STATES)


def test_no_states() -> None:
    with pytest.raises(ValueError, match="at least one state"):
        ct.ODESystem.from_equations([], states={})


def test_abstract_checks_operand_shapes() -> None:
    system = lorenz()
    with pytest.raises(ValueError, match=r"\.jvp: expected operands \(t: f\[\], y: f\[3\], "
                                         r"v: f\[3\], p: f\[3\]\), got \(f\[\], f\[3\], f\[3\]\)"):
        system.abstract("jvp", [ct.scalar(), ct.buffer(3), ct.buffer(3)])
    with pytest.raises(ValueError, match="expected operands"):
        system.abstract("rhs", [ct.scalar(), ct.buffer(3), ct.buffer(3, "int32")])
    with pytest.raises(ValueError, match="no function 'drivers'"):
        system.abstract("drivers", [ct.scalar()])


def test_a_step_with_wrong_operands_fails_while_tracing() -> None:
    @ct.step(order=1)
    def bad(f, t, dt, y, state):
        return y + dt * f.jvp(t, y), None, state, ct.OK

    with pytest.raises(ValueError, match="jvp: expected operands"):
        ct.trace(bad, system=lorenz())
