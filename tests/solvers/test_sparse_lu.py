"""The static-pattern sparse LU: storage, ordering and solutions against numpy."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import cubie_trace as ct
from cubie_trace.solvers import SparseLU


def chain_pattern(n: int) -> np.ndarray:
    return np.eye(n, dtype=bool) | np.eye(n, k=-1, dtype=bool)


def factor_and_solve(lu: SparseLU, values: np.ndarray, rhs: np.ndarray) -> tuple:
    def run(values, b1, b2):
        factors, status = lu.factor(values)
        return lu.solve(factors, b1), lu.solve(factors, b2), status, factors

    prog = ct.trace(run, ct.buffer(len(values)), ct.buffer(lu.n), ct.buffer(lu.n))
    return ct.interpret(prog, values, *rhs)


def test_chain_stores_its_31_nonzeros_without_fill() -> None:
    lu = SparseLU(chain_pattern(16))
    assert lu.nnz == 31 and lu.symbolic.fill == 0
    prog = ct.trace(lambda v: lu.factor(v), ct.buffer(31))
    assert prog.outputs[0].shape == (31,)


def test_dense_8_stores_64() -> None:
    lu = SparseLU(np.ones((8, 8), dtype=bool))
    assert lu.nnz == 64 and lu.symbolic.fill == 0


def test_arrow_pattern_is_ordered_to_avoid_fill() -> None:
    arrow = np.eye(6, dtype=bool)
    arrow[0, :] = arrow[:, 0] = True  # eliminating node 0 first would fill everything
    lu = SparseLU(arrow)
    assert lu.symbolic.fill == 0 and lu.nnz == 16 and lu.symbolic.perm[0] != 0


@st.composite
def sparse_systems(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = draw(st.integers(1, 12), label="n")
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1), label="seed"))
    density = draw(st.sampled_from([0.0, 0.15, 0.4, 1.0]), label="density")
    pattern = (rng.uniform(size=(n, n)) < density) | np.eye(n, dtype=bool)
    a = np.where(pattern, rng.normal(size=(n, n)), 0.0)
    a += np.diag(np.sign(rng.normal(size=n)) * (np.abs(a).sum(axis=1) + 1.0))
    return pattern, a, rng.normal(size=(2, n))


@settings(max_examples=50)
@given(sparse_systems())
def test_matches_numpy_on_random_patterns(system: tuple) -> None:
    pattern, a, rhs = system
    lu = SparseLU(pattern)
    x1, x2, status, factors = factor_and_solve(lu, a[pattern], rhs)
    assert status == ct.OK and factors.shape == (lu.nnz,)
    for x, b in zip((x1, x2), rhs):
        want = np.linalg.solve(a, b)
        assert np.linalg.norm(x - want) <= 1e-12 * np.linalg.norm(want)


def test_a_zero_pivot_fails_with_finite_factors() -> None:
    pattern = np.ones((3, 3), dtype=bool)
    a = np.array([[0.0, 1.0, 2.0], [1.0, 0.0, 3.0], [2.0, 3.0, 0.0]])  # zero diagonal
    x1, _, status, factors = factor_and_solve(SparseLU(pattern), a[pattern], np.ones((2, 3)))
    assert status == ct.Status.LINEAR_FAILED
    assert np.all(np.isfinite(factors)) and np.all(np.isfinite(x1))


def test_linear_solve_accepts_a_matrix_or_values_and_pattern() -> None:
    rng = np.random.default_rng(5)
    pattern = chain_pattern(5)
    a = np.where(pattern, rng.normal(size=(5, 5)), 0.0) + 4 * np.eye(5)
    b = rng.normal(size=5)

    def both(m, values, b):
        x1, info1 = ct.solvers.linear_solve(m, b, method="lu")
        x2, info2 = ct.solvers.linear_solve((values, pattern), b, method="lu")
        return x1, x2, info1.status, info2.status

    prog = ct.trace(both, ct.buffer(5, rows=5), ct.buffer(9), ct.buffer(5))
    x1, x2, s1, s2 = ct.interpret(prog, a, a[pattern], b)
    want = np.linalg.solve(a, b)
    assert s1 == s2 == ct.OK
    np.testing.assert_allclose(x1, want, rtol=1e-12)
    np.testing.assert_allclose(x2, want, rtol=1e-12)
