"""Linear operators as traced functions `A(v) -> A v`: from a matrix, or as given."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cubie_trace.core import ops as ct
from cubie_trace.core import tracer as tr

Operator = Callable[[Any], Any]


def matvec(matrix: Any, v: Any) -> Any:
    """`matrix @ v` for a traced `(n, n)` matrix: one inner product per row."""
    def row(i: Any, out: Any) -> Any:
        return out.at[i].set(ct.dot(matrix[i], v))

    n = tr.aval_of(v).shape[0]
    return ct.fori_loop(0, n, row, ct.zeros_like(v))


def as_operator(a: Any) -> Operator:
    """A traced operator from a callable `A(v)` or a traced `(n, n)` matrix."""
    if callable(a):
        return a
    shape = tr.aval_of(a).shape
    if len(shape) != 2 or shape[0] != shape[1]:
        raise ValueError(f"linear_solve: A must be a callable A(v) or a square (n, n) "
                         f"matrix, got shape {shape}")
    return lambda v: matvec(a, v)


def diagonal(matrix: Any) -> Any:
    """The diagonal of a traced `(n, n)` matrix, as a buffer."""
    n = tr.aval_of(matrix).shape[0]

    def entry(i: Any, d: Any) -> Any:
        return d.at[i].set(matrix[i][i])

    return ct.fori_loop(0, n, entry, ct.zeros(n, tr.aval_of(matrix).dtype))
