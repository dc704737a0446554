"""Newton-Krylov on F(x) = A x + c tanh(x) - b against a textbook dense Newton."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cubie_trace as ct
from cubie_trace.core import counters
from cubie_trace.solvers import Outcome
from tests.solvers.systems import dominant

C = 2.0


def residual(m, b):
    return lambda x: ct.solvers.matvec(m, x) + C * ct.tanh(x) - b


def jacobian_product(m):
    return lambda x, v: ct.solvers.matvec(m, v) + C * (1 - ct.tanh(x) ** 2) * v


def textbook_newton(a: np.ndarray, b: np.ndarray, x: np.ndarray, tol: float) -> tuple:
    """Dense Newton with numpy.linalg.solve, stopping when |dx_i| <= tol (1 + |x_i|)."""
    for k in range(1, 50):
        f = a @ x + C * np.tanh(x) - b
        jac = a + np.diag(C * (1 - np.tanh(x) ** 2))
        dx = np.linalg.solve(jac, -f)
        x = x + dx
        if np.sqrt(np.mean((dx / (tol + tol * np.abs(x))) ** 2)) <= 1:
            return x, k
    raise AssertionError("textbook Newton did not converge")


def newton_program(n: int, report: bool = True, **options) -> ct.Program:
    def solve(m, b, x0):
        x, info = ct.solvers.newton(residual(m, b), x0, jacobian_product(m), report=report,
                                    **options)
        return x, info.status, info.iterations, info.outcome, info.linear_iterations

    return ct.trace(solve, ct.buffer(n, rows=n), ct.buffer(n), ct.buffer(n))


@pytest.mark.parametrize("linear", ["bicgstab", "gmres"])
@settings(max_examples=25)
@given(n=st.integers(1, 12), seed=st.integers(0, 2**32 - 1))
def test_converges_like_textbook_newton(linear: str, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = dominant(rng, n)
    x_star = rng.normal(size=n)
    b = a @ x_star + C * np.tanh(x_star)
    x0 = x_star + rng.normal(scale=0.3, size=n)
    _, k_ref = textbook_newton(a, b, x0, 1e-10)
    x, status, k, outcome, krylov = ct.interpret(
        newton_program(n, linear=linear, tol=1e-10, max_iters=20, linear_tol=1e-12,
                       linear_max_iters=200), a, b, x0)
    assert status == ct.OK and outcome == Outcome.CONVERGED
    assert np.all(np.abs(x - x_star) <= 1e-10 * (1 + np.abs(x_star)))
    assert k <= k_ref + 2 and krylov >= k


def test_one_iteration_is_not_enough() -> None:
    rng = np.random.default_rng(1)
    a = dominant(rng, 4)
    b = rng.normal(size=4)
    x, status, k, outcome, _ = ct.interpret(newton_program(4, max_iters=1), a, b, np.zeros(4))
    assert status == ct.Status.NEWTON_FAILED and k == 1
    assert outcome == Outcome.MAX_ITERATIONS and np.all(np.isfinite(x))


def test_no_root_fails_without_nan() -> None:
    """x^2 + 1 = 0 has no real root: divergence or a failed line search, never NaN."""
    def solve(x0):
        x, info = ct.solvers.newton(lambda x: x * x + 1.0, x0, lambda x, v: 2.0 * x * v,
                                    max_iters=30)
        return x, info.status, info.outcome

    prog = ct.trace(solve, ct.buffer(3))
    x, status, outcome = ct.interpret(prog, np.array([0.5, -2.0, 3.0]))
    assert status == ct.Status.NEWTON_FAILED
    assert outcome in (Outcome.DIVERGED, Outcome.LINE_SEARCH)
    assert np.all(np.isfinite(x))


def test_frozen_jacobian_converges_linearly() -> None:
    rng = np.random.default_rng(2)
    a = dominant(rng, 5)
    x_star = rng.normal(size=5)
    b = a @ x_star + C * np.tanh(x_star)
    x0 = x_star + 0.05
    full = ct.interpret(newton_program(5, max_iters=30), a, b, x0)
    frozen = ct.interpret(newton_program(5, max_iters=30, freeze_jacobian=True), a, b, x0)
    assert full[1] == frozen[1] == ct.OK
    np.testing.assert_allclose(frozen[0], x_star, rtol=1e-9, atol=1e-9)
    assert frozen[2] > full[2]


def test_counters_are_reported_at_the_callers_level() -> None:
    def solve(m, b, x0):
        with counters.collect() as totals:
            _, info = ct.solvers.newton(residual(m, b), x0, jacobian_product(m))
        return totals["newton_iterations"], totals["krylov_iterations"], info.iterations, \
            info.linear_iterations

    rng = np.random.default_rng(4)
    a = dominant(rng, 4)
    prog = ct.trace(solve, ct.buffer(4, rows=4), ct.buffer(4), ct.buffer(4))
    newton_count, krylov_count, k, krylov = ct.interpret(prog, a, rng.normal(size=4),
                                                         np.zeros(4))
    assert newton_count == k >= 2 and krylov_count == krylov >= k


def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match="linear must be one of"):
        newton_program(3, linear="lu")
    with pytest.raises(ValueError, match="damping"):
        newton_program(3, damping=1.5)
