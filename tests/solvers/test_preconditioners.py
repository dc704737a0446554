"""Preconditioning pays on a stiff diagonally dominant operator (iteration counts)."""

from __future__ import annotations

import numpy as np
import pytest

import cubie_trace as ct

N = 12


def stiff_operator() -> np.ndarray:
    rng = np.random.default_rng(11)
    d = np.logspace(0, 5, N)  # diagonal from 1 to 1e5
    off = rng.uniform(-1, 1, (N, N)) * d[:, None] / (4 * N)  # rows dominated 4:1
    np.fill_diagonal(off, 0.0)
    return off + np.diag(d)


def iterations(preconditioner: str | None, method: str = "bicgstab") -> tuple[int, float]:
    a = stiff_operator()
    b = np.random.default_rng(12).normal(size=N)

    def solve(m, diag, b):
        spec = {None: None, "jacobi": ("jacobi", diag),
                "neumann": ("neumann", 2, diag)}[preconditioner]
        x, info = ct.solvers.linear_solve(lambda v: ct.solvers.matvec(m, v), b, method=method,
                                          preconditioner=spec, tol=1e-10, max_iters=500)
        return x, info.status, info.iterations

    prog = ct.trace(solve, ct.buffer(N, rows=N), ct.buffer(N), ct.buffer(N))
    x, status, k = ct.interpret(prog, a, np.diag(a).copy(), b)
    assert status == ct.OK or preconditioner is None  # unpreconditioned may hit the limit
    want = np.linalg.solve(a, b)
    return int(k), float(np.linalg.norm(x - want) / np.linalg.norm(want))


def test_the_operator_is_stiff() -> None:
    assert np.linalg.cond(stiff_operator()) >= 1e4


@pytest.mark.parametrize("method", ["bicgstab", "gmres"])
@pytest.mark.parametrize("preconditioner", ["jacobi", "neumann"])
def test_preconditioning_halves_the_iterations(method: str, preconditioner: str) -> None:
    plain, _ = iterations(None, method)
    better, error = iterations(preconditioner, method)
    assert 2 * better <= plain, (plain, better)
    assert error <= 1e-6


def test_neumann_series_equals_its_sum() -> None:
    """Order k applies sum_{j<=k} (I - D^-1 A)^j D^-1."""
    a = stiff_operator()
    v = np.random.default_rng(3).normal(size=N)
    d = np.diag(a).copy()
    m = np.eye(N) - a / d[:, None]
    want = sum(np.linalg.matrix_power(m, j) @ (v / d) for j in range(4))

    def apply(m, diag, v):
        return ct.solvers.neumann(lambda u: ct.solvers.matvec(m, u), 3, diag)(v)

    prog = ct.trace(apply, ct.buffer(N, rows=N), ct.buffer(N), ct.buffer(N))
    np.testing.assert_allclose(ct.interpret(prog, a, d, v), want, rtol=1e-12)
