"""`ct.solvers.linear_solve`: one entry point for every linear solver, inside any step.

Methods ("minimal_residual", "steepest_descent", "bicgstab", "gmres", "lu") and
preconditioners (see `cubie_trace.solvers.preconditioners`) are chosen at trace time.
Each Krylov solve is a child program (`ct.function`) named for its method, so its
buffers are planned by the layout like any other and its hint names (r, p, v, s, ...)
show in the layout table.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from cubie_trace.core import ops as ct
from cubie_trace.core import tracer as tr
from cubie_trace.core.counters import count
from cubie_trace.solvers.bicgstab import bicgstab
from cubie_trace.solvers.descent import minimal_residual, steepest_descent
from cubie_trace.solvers.gmres import gmres
from cubie_trace.solvers.info import Info, Outcome, linear_status
from cubie_trace.solvers.operators import Operator, as_operator
from cubie_trace.solvers.preconditioners import resolve
from cubie_trace.solvers.sparse_lu import SparseLU

KRYLOV: dict[str, Callable[..., tuple[Any, Any, Any]]] = {
    "minimal_residual": minimal_residual,
    "steepest_descent": steepest_descent,
    "bicgstab": bicgstab,
    "gmres": gmres,
}
METHODS = (*KRYLOV, "lu")


def krylov(method: str, a: Operator, b: Any, x0: Any = None, preconditioner: Any = None,
           tol: Any = 1e-10, max_iters: Any = None, restart: int = 8) -> tuple[Any, Any, Any]:
    """Run a Krylov method as a child program: `(x, outcome, iterations)`, no counting."""
    if method not in KRYLOV:
        raise ValueError(f"linear_solve: method must be one of {METHODS}, got {method!r}")
    n = tr.aval_of(b).shape[0]
    p = resolve(preconditioner, a)
    limit = 2 * n + 10 if max_iters is None else max_iters
    solver = KRYLOV[method]
    extra = {"restart": min(restart, n)} if method == "gmres" else {}

    def body(b: Any, *start: Any) -> tuple[Any, Any, Any]:
        # without a warm start the zeros are made inside, where they can share storage
        return solver(a, p, b, start[0] if start else ct.zeros_like(b), tol, limit, **extra)

    child = ct.function(body, name=method)  # one per call: it closes over A and P
    return child(b) if x0 is None else child(b, x0)


def linear_solve(a: Any, b: Any, method: str = "bicgstab", preconditioner: Any = None,
                 tol: Any = 1e-10, max_iters: Any = None, x0: Any = None, restart: int = 8,
                 report: bool = True) -> tuple[Any, Info]:
    """Solve `A x = b`; returns `(x, info)` (see `Info`).

    `a`: a traced operator `A(v) -> A v`, or a traced `(n, n)` matrix; for "lu" a matrix
    (dense pattern) or `(values, pattern)` with `values` the nonzeros of the static bool
    `pattern` in row-major order. `method`: "minimal_residual", "steepest_descent" (A
    symmetric positive definite), "bicgstab", "gmres" (restarted every `restart` steps,
    at most n) or "lu" (`SparseLU`, no iterations). `preconditioner` (Krylov methods,
    applied on the right): None, "identity", `("jacobi", diag)`, `("neumann", k)`,
    `("neumann", k, diag)` or a callable `P(v)`. Convergence: `|b - A x|_2 <= tol |b|_2`.
    `max_iters` (default 2n + 10) bounds the iterations (GMRES: Arnoldi steps); `x0` is
    the warm start (default zeros). Tolerance and limit may be traced scalars.
    With `report`, the Krylov iterations are added to the step's `krylov_iterations`
    counter (`ct.count`); pass `report=False` when calling from inside a loop body,
    branch or child function, where counting is not allowed, and count
    `info.iterations` at the step's level yourself.
    """
    if method == "lu":
        x, outcome = _lu(a, b)
        return x, Info(linear_status(outcome), np.int32(0), outcome, np.int32(0))
    x, outcome, iterations = krylov(method, as_operator(a), b, x0, preconditioner, tol,
                                    max_iters, restart)
    if report:
        count("krylov_iterations", iterations)
    return x, Info(linear_status(outcome), iterations, outcome, iterations)


def _lu(a: Any, b: Any) -> tuple[Any, Any]:
    if isinstance(a, tuple) and len(a) == 2:
        values, pattern = a
    elif callable(a):
        raise ValueError("linear_solve: method 'lu' needs a matrix or (values, pattern), "
                         "not an operator")
    else:
        values, pattern = a, np.ones(tr.aval_of(a).shape, dtype=bool)
    lu = SparseLU(pattern)
    factors, status = lu.factor(values)
    outcome = ct.where(status == 0, int(Outcome.CONVERGED), int(Outcome.BREAKDOWN))
    return lu.solve(factors, b), outcome
