"""Linear solvers through the reference interpreter against numpy.linalg.solve."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cubie_trace as ct
from cubie_trace.solvers import Outcome
from tests.solvers.systems import relative_error, solve_program, systems

TOL = {"float64": 1e-13, "float32": 1e-6}
ACCURACY = {"float64": 1e-10, "float32": 1e-4}


@functools.cache
def program(method: str, n: int, precision: str) -> ct.Program:
    return solve_program(method, n, tol=TOL[precision], max_iters=2000)


@pytest.mark.parametrize("method", ct.solvers.METHODS)
@settings(max_examples=50)
@given(data=st.data())
def test_matches_numpy_float64(method: str, data: st.DataObject) -> None:
    a, b = data.draw(systems(method))
    x, status, iterations, outcome = ct.interpret(program(method, len(b), "float64"), a, b)
    assert status == ct.OK and outcome == Outcome.CONVERGED
    assert relative_error(x, np.linalg.solve(a, b)) <= 1e-10
    assert (iterations == 0) if method == "lu" else (0 < iterations <= 2000)


@pytest.mark.parametrize("method", ct.solvers.METHODS)
@settings(max_examples=20)
@given(data=st.data())
def test_matches_numpy_float32(method: str, data: st.DataObject) -> None:
    a, b = data.draw(systems(method, sizes=(1, 3, 8)))
    x, status, _, _ = ct.interpret(program(method, len(b), "float32"), a, b,
                                   precision="float32")
    assert x.dtype == np.float32 and status == ct.OK
    assert relative_error(x, np.linalg.solve(a, b)) <= 1e-4


@pytest.mark.parametrize("method", ["minimal_residual", "bicgstab", "gmres"])
def test_warm_start_at_the_solution_takes_no_iteration(method: str) -> None:
    rng = np.random.default_rng(3)
    a = rng.normal(size=(5, 5)) + 8 * np.eye(5)
    b = rng.normal(size=5)

    def solve(m, b, x0):
        x, info = ct.solvers.linear_solve(lambda v: ct.solvers.matvec(m, v), b,
                                          method=method, x0=x0, tol=1e-8)
        return x, info.iterations

    prog = ct.trace(solve, ct.buffer(5, rows=5), ct.buffer(5), ct.buffer(5))
    x, iterations = ct.interpret(prog, a, b, np.linalg.solve(a, b))
    assert iterations == 0
    np.testing.assert_allclose(x, np.linalg.solve(a, b), rtol=1e-14)


def _singular(n: int) -> np.ndarray:
    rng = np.random.default_rng(n)
    a = rng.normal(size=(n, n)) + n * np.eye(n)
    a[-1] = a[0] + a[1]  # rank n - 1
    return a


def _indefinite(n: int) -> np.ndarray:
    q, _ = np.linalg.qr(np.random.default_rng(n).normal(size=(n, n)))
    return (q * np.concatenate([np.ones(n - 1), [-1.0]])) @ q.T


@pytest.mark.parametrize("method", ct.solvers.METHODS)
@pytest.mark.parametrize("kind", ["singular", "indefinite", "zero"])
def test_failure_is_reported_and_finite(method: str, kind: str) -> None:
    n, limit = 6, 60
    if kind == "indefinite" and method not in ("steepest_descent", "minimal_residual"):
        pytest.skip("indefinite systems are fine for BiCGSTAB, GMRES and LU")
    a = {"singular": _singular, "indefinite": _indefinite,
         "zero": lambda n: np.zeros((n, n))}[kind](n)
    b = np.random.default_rng(7).normal(size=n)
    if kind == "indefinite":  # equal parts of eigenvalues -1 and 1: r . A r = 0
        vectors = np.linalg.eigh(a)[1]
        b = vectors[:, 0] + vectors[:, -1]
    x, status, iterations, outcome = ct.interpret(
        solve_program(method, n, tol=1e-12, max_iters=limit), a, b)
    assert status == ct.Status.LINEAR_FAILED
    assert outcome in (Outcome.BREAKDOWN, Outcome.MAX_ITERATIONS)
    assert iterations <= limit
    assert np.all(np.isfinite(x))


def test_methods_are_named_in_errors() -> None:
    with pytest.raises(ValueError, match="method must be one of"):
        solve_program("cg", 3)
    with pytest.raises(ValueError, match="preconditioner must be"):
        solve_program("bicgstab", 3, preconditioner="ilu")
