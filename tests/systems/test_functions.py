"""dfdt, jacobian_diagonal, jacobian_nonzeros and the structural pattern against closed
forms and numpy finite differences, and the laziness of every derived function."""

from __future__ import annotations

import numpy as np
import pytest

import cubie_trace as ct
from cubie_trace.systems import library
from tests.systems.models import driven

SYSTEMS = {"lorenz": library.lorenz(), "robertson": library.robertson(),
           "hires": library.hires(), "chain16": library.linear_chain(16)}


def central_jacobian(system: ct.ODESystem, t: float, y: np.ndarray,
                     p: np.ndarray) -> np.ndarray:
    columns = []
    for j in range(system.n_states):
        h = 1e-6 * max(1.0, abs(y[j]))
        step = np.zeros_like(y)
        step[j] = h
        plus = system.evaluate("rhs", t, y + step, p)[0]
        minus = system.evaluate("rhs", t, y - step, p)[0]
        columns.append((plus - minus) / (2 * h))
    return np.stack(columns, axis=1)


@pytest.mark.parametrize("name", SYSTEMS)
def test_diagonal_and_nonzeros_match_finite_differences(name: str) -> None:
    system = SYSTEMS[name]
    rng = np.random.default_rng(3)
    p = system.default_parameters
    for _ in range(3):
        t, y = float(rng.uniform(0, 5)), rng.normal(size=system.n_states)
        fd = central_jacobian(system, t, y, p)
        scale = max(1.0, np.abs(fd).max())
        (dense,) = system.evaluate("jacobian", t, y, p)
        np.testing.assert_allclose(dense, fd, rtol=1e-6, atol=1e-6 * scale)
        (diagonal,) = system.evaluate("jacobian_diagonal", t, y, p)
        np.testing.assert_allclose(diagonal, np.diag(fd), rtol=1e-6, atol=1e-6 * scale)
        (nonzeros,) = system.evaluate("jacobian_nonzeros", t, y, p)
        pattern = system.jacobian_pattern
        np.testing.assert_array_equal(nonzeros, dense[pattern])  # row-major order
        # at a generic point every structural nonzero is nonzero, and nothing else is
        np.testing.assert_array_equal(pattern, fd != 0)


def test_chain_pattern() -> None:
    pattern = library.linear_chain(16).jacobian_pattern
    assert pattern.dtype == bool and pattern.shape == (16, 16) and pattern.sum() == 31
    np.testing.assert_array_equal(pattern, np.eye(16, dtype=bool) | np.eye(16, k=-1, dtype=bool))


def test_dfdt_closed_form_and_finite_differences() -> None:
    """dx = a*sin(t)*x + t**2*y, dy = exp(-t)*y - x: d/dt = (a cos(t) x + 2 t y, -exp(-t) y)."""
    system = ct.ODESystem.from_equations(["dx = a*sin(t)*x + t**2*y", "dy = exp(-t)*y - x"],
                                         states={"x": 1.0, "y": 2.0}, parameters={"a": 1.5})
    p = np.array([0.7])
    for t in (0.0, 0.4, 2.5):
        y = np.array([0.3, -1.2])
        (dfdt,) = system.evaluate("dfdt", t, y, p)
        np.testing.assert_allclose(dfdt, [0.7 * np.cos(t) * y[0] + 2 * t * y[1],
                                          -np.exp(-t) * y[1]], rtol=1e-14)
        h = 1e-5
        fd = (system.evaluate("rhs", t + h, y, p)[0] - system.evaluate("rhs", t - h, y, p)[0])
        np.testing.assert_allclose(dfdt, fd / (2 * h), rtol=1e-8, atol=1e-10)
    autonomous = SYSTEMS["lorenz"]
    assert not autonomous.evaluate("dfdt", 1.0, np.ones(3), autonomous.default_parameters)[0].any()


def test_driven_systems_have_no_dfdt() -> None:
    """The interpolants give no time derivative of a driver, so dfdt is not offered."""
    system = driven()
    assert "dfdt" not in system.functions and "jacobian_nonzeros" in system.functions
    with pytest.raises(ValueError, match="dfdt"):
        system.abstract("dfdt", [ct.scalar(), ct.buffer(2), ct.buffer(2), ct.buffer(1)])


def test_functions_are_built_when_first_used() -> None:
    chain = library.linear_chain(8)
    assert chain.built == ()
    ct.plan(ct.trace("tsit5", system=chain))
    assert chain.built == ("rhs",)
    chain.evaluate("jvp", 0.0, np.ones(8), np.ones(8), chain.default_parameters)
    assert chain.built == ("rhs", "jacobian_pattern", "jvp")
    assert chain.abstract("jacobian_nonzeros", [ct.scalar(), ct.buffer(8), ct.buffer(1)]) == [
        ct.Aval((15,), "float")]
    assert chain.built == ("rhs", "jacobian_pattern", "jvp", "jacobian_nonzeros")


@pytest.mark.slow
def test_explicit_solver_on_a_large_chain_builds_only_rhs() -> None:
    """Tracing, planning and lowering tsit5's loop for 1,000 states derives no Jacobian."""
    chain = library.linear_chain(1000)
    ct.Solver(chain, "tsit5", backend="cpu").compiled(1)
    assert chain.built == ("rhs",)


def test_a_step_reaches_every_function_through_f() -> None:
    """A traced step calls f.dfdt, f.jacobian_diagonal and f.jacobian_nonzeros; the
    interpreter's values equal numpy's evaluation of the same functions."""
    system = ct.ODESystem.from_equations(["dx = a*sin(t)*x + t**2*y", "dy = exp(-t)*y - x*y"],
                                         states={"x": 1.0, "y": 2.0}, parameters={"a": 1.5})

    def uses(f, t, dt, y, state):  # noqa: ANN001, ANN202
        y_new = y + dt * (f.dfdt(t, y) + f.jacobian_diagonal(t, y))
        return y_new + ct.sum(f.jacobian_nonzeros(t, y)), None, state, ct.OK

    program = ct.trace(ct.Step(uses, 1), system=system)
    t, dt, y, p = 0.4, 0.1, np.array([0.3, -1.2]), np.array([0.7])
    (dfdt,), (diagonal,), (nonzeros,) = (system.evaluate(fn, t, y, p) for fn in
                                         ("dfdt", "jacobian_diagonal", "jacobian_nonzeros"))
    assert nonzeros.shape == (4,)
    got = ct.interpret(program, t, dt, y, {}, p)[0]
    np.testing.assert_allclose(got, y + dt * (dfdt + diagonal) + nonzeros.sum(), rtol=1e-14)


def test_compiled_solve_with_the_jacobian_diagonal() -> None:
    """Linearly implicit Euler with the Jacobian's diagonal, y + dt f / (1 - dt J_ii), is
    implicit Euler on dx = -k x: (1 + k dt)^-N after N steps."""
    decay = ct.ODESystem.from_equations(["dx = -k*x"], states={"x": 1.0},
                                        parameters={"k": 1.0})

    @ct.step(order=1, name="diagonal_euler")
    def diagonal_euler(f, t, dt, y, state):  # noqa: ANN001, ANN202
        return y + dt * f(t, y) / (1.0 - dt * f.jacobian_diagonal(t, y)), None, state, ct.OK

    sol = ct.solve_ivp(decay, (0.0, 1.0), parameters={"k": [0.5, 3.0]},
                       method=diagonal_euler, dt=0.1, backend="cpu", progress=False)
    np.testing.assert_allclose(sol.y[:, -1, 0], (1 + 0.1 * np.array([0.5, 3.0])) ** -10.0,
                               rtol=1e-13)
    assert decay.built == ("rhs", "jacobian_pattern", "jacobian_diagonal")
