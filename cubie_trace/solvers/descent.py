"""One-dimensional projection methods: minimal residual and steepest descent.

Each iteration takes the preconditioned residual `z = P r` as the search direction and
steps `x += alpha z`, `r -= alpha A z`:

- minimal residual: `alpha = (r . Az) / (Az . Az)` minimises `|r - alpha A z|_2`;
  it converges whenever `A + A^T` is positive definite (and `P = I`).
- steepest descent: `alpha = (r . z) / (z . Az)` minimises the A-norm of the error;
  for symmetric positive definite `A` (and `P`). A non-positive `z . Az` shows `A` is
  not positive definite and is reported as a breakdown.

A zero step (`alpha = 0` with `r != 0`) would repeat forever and is a breakdown too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cubie_trace.core import ops as ct
from cubie_trace.solvers.info import ratio, residual_small, running, start, step_outcome
from cubie_trace.solvers.operators import Operator

StepLength = Callable[[Any, Any, Any], tuple[Any, Any]]


def _minimal_residual_step(r: Any, z: Any, az: Any) -> tuple[Any, Any]:
    return ratio(ct.dot(r, az), ct.dot(az, az))


def _steepest_descent_step(r: Any, z: Any, az: Any) -> tuple[Any, Any]:
    curvature = ct.dot(z, az)
    alpha, ok = ratio(ct.dot(r, z), curvature)
    return alpha, ct.logical_and(ok, curvature > 0.0)


def _projection(step_length: StepLength, a: Operator, p: Operator, b: Any, x0: Any,
                tol: Any, max_iters: Any) -> tuple[Any, Any, Any]:
    bb, r, first = start(a, b, x0, tol)

    def iterate(carry: tuple) -> tuple:
        x, r, k, _ = carry
        z = ct.hint(p(r), "z")
        az = ct.hint(a(z), "az")
        alpha, ok = step_length(r, z, az)
        ok = ct.logical_and(ok, alpha != 0.0)
        x = ct.where(ok, x + alpha * z, x)
        r = ct.where(ok, r - alpha * az, r)
        return x, r, k + 1, step_outcome(ok, residual_small(r, bb, tol))

    x, _, k, outcome = ct.while_loop(lambda c: running(c[3], c[2], max_iters), iterate,
                                     (x0, r, 0, first))
    return x, outcome, k


def minimal_residual(a: Operator, p: Operator, b: Any, x0: Any, tol: Any,
                     max_iters: Any) -> tuple[Any, Any, Any]:
    """Minimal residual iteration from `x0`: `(x, outcome, iterations)`."""
    return _projection(_minimal_residual_step, a, p, b, x0, tol, max_iters)


def steepest_descent(a: Operator, p: Operator, b: Any, x0: Any, tol: Any,
                     max_iters: Any) -> tuple[Any, Any, Any]:
    """Steepest descent from `x0` (A symmetric positive definite): `(x, outcome,
    iterations)`."""
    return _projection(_steepest_descent_step, a, p, b, x0, tol, max_iters)
