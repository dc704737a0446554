"""Random linear systems for the solver tests, and traced programs that solve them."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st

import cubie_trace as ct


def spd(rng: np.random.Generator, n: int) -> np.ndarray:
    """A symmetric positive definite matrix with condition number below about 10."""
    q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    return (q * rng.uniform(1.0, 10.0, n)) @ q.T


def dominant(rng: np.random.Generator, n: int) -> np.ndarray:
    """A nonsymmetric, strictly diagonally dominant matrix."""
    a = rng.normal(size=(n, n))
    signs = rng.choice([-1.0, 1.0], n)
    return a + np.diag(signs * (np.abs(a).sum(axis=1) + rng.uniform(0.5, 2.0, n)))


KIND = {"minimal_residual": spd, "steepest_descent": spd, "bicgstab": dominant,
        "gmres": dominant, "lu": dominant}


@st.composite
def systems(draw: st.DrawFn, method: str, sizes: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """A well-conditioned `(A, b)` of the kind `method` needs (SPD or nonsymmetric)."""
    n = draw(st.integers(1, 24) if sizes is None else st.sampled_from(sizes), label="n")
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1), label="seed"))
    return KIND[method](rng, n), rng.normal(size=n)


def solve_program(method: str, n: int, **options: Any) -> ct.Program:
    """`(M, b) -> (x, status, iterations, outcome)`: the matrix an input buffer, the
    operator a traced mat-vec (the matrix itself for "lu")."""
    def solve(m: Any, b: Any) -> Any:
        a = m if method == "lu" else (lambda v: ct.solvers.matvec(m, v))
        x, info = ct.solvers.linear_solve(a, b, method=method, **options)
        return x, info.status, info.iterations, info.outcome

    return ct.trace(solve, ct.buffer(n, rows=n), ct.buffer(n), name=f"solve_{method}")


def relative_error(x: np.ndarray, want: np.ndarray) -> float:
    return float(np.linalg.norm(x - want) / np.linalg.norm(want)) if np.any(want) else \
        float(np.linalg.norm(x))
