"""What a solve reports, and the tests every solver applies: outcomes, `Info`, the
residual criterion and division guarded against zero denominators."""

from __future__ import annotations

import enum
from typing import Any, NamedTuple

from cubie_trace.core import ops as ct
from cubie_trace.core.step import Status


class Outcome(enum.IntEnum):
    """Why a solver stopped (an int32 in programs)."""

    CONVERGED = 0
    MAX_ITERATIONS = 1  # the iteration limit came first
    BREAKDOWN = 2  # a zero (or non-finite) denominator, or a zero / tiny pivot
    DIVERGED = 3  # Newton: contraction rate theta >= 1
    LINE_SEARCH = 4  # Newton: no step length within max_backtracks reduced |F|
    LINEAR = 5  # Newton: the linear solve failed


class Info(NamedTuple):
    """A solve's report, every field a traced int32 scalar.

    `status` is `ct.OK` or the retryable step status (`ct.Status.LINEAR_FAILED` for a
    linear solve or a Newton iteration whose linear solve failed, else
    `ct.Status.NEWTON_FAILED`); `iterations` counts the solver's own iterations (Newton
    iterations for `newton`); `outcome` is an `Outcome`; `linear_iterations` counts the
    Krylov iterations (for a linear solve, its own iterations; 0 for LU).
    """

    status: Any
    iterations: Any
    outcome: Any
    linear_iterations: Any


def linear_status(outcome: Any) -> Any:
    """ct.OK for a converged linear solve, else ct.Status.LINEAR_FAILED."""
    return ct.where(outcome == int(Outcome.CONVERGED), int(Status.OK),
                    int(Status.LINEAR_FAILED))


def newton_status(outcome: Any) -> Any:
    """ct.OK for a converged Newton solve, LINEAR_FAILED when its linear solve failed,
    else NEWTON_FAILED."""
    failed = ct.where(outcome == int(Outcome.LINEAR), int(Status.LINEAR_FAILED),
                      int(Status.NEWTON_FAILED))
    return ct.where(outcome == int(Outcome.CONVERGED), int(Status.OK), failed)


def residual_small(r: Any, bb: Any, tol: Any) -> Any:
    """The scaled-norm test `|r|_2 <= tol |b|_2`, given `bb = b.b` (squares: no sqrt)."""
    return ct.dot(r, r) <= tol * tol * bb


def start(a: Any, b: Any, x0: Any, tol: Any) -> tuple[Any, Any, Any]:
    """A Krylov solve's start: `b.b`, the residual `b - A x0` and the outcome so far
    (converged already, or running until the iteration limit)."""
    bb = ct.dot(b, b)
    r = ct.hint(b - a(x0), "r")
    first = ct.where(residual_small(r, bb, tol), int(Outcome.CONVERGED),
                     int(Outcome.MAX_ITERATIONS))
    return bb, r, first


def ratio(num: Any, den: Any) -> tuple[Any, Any]:
    """`num / den` and whether it is usable: 0 and False where `den` is zero or the
    quotient is not finite, so a breakdown never spreads NaN through the iterates."""
    nonzero = den != 0.0
    q = num / ct.where(nonzero, den, 1.0)
    ok = ct.logical_and(nonzero, ct.isfinite(q))
    return ct.where(ok, q, 0.0), ok


def first(cases: list[tuple[Any, Outcome]], otherwise: Outcome) -> Any:
    """The outcome of the first `(condition, outcome)` case that holds, else `otherwise`."""
    out: Any = int(otherwise)
    for condition, outcome in reversed(cases):
        out = ct.where(condition, int(outcome), out)
    return out


def step_outcome(ok: Any, done: Any) -> Any:
    """Outcome after an iteration: breakdown unless `ok`, else converged if `done`."""
    return first([(ct.logical_not(ok), Outcome.BREAKDOWN), (done, Outcome.CONVERGED)],
                 Outcome.MAX_ITERATIONS)


def running(outcome: Any, iterations: Any, max_iters: Any) -> Any:
    """Whether an iteration continues: not yet converged or broken down, under the limit."""
    return ct.logical_and(outcome == int(Outcome.MAX_ITERATIONS), iterations < max_iters)
