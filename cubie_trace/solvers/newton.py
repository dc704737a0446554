"""`ct.solvers.newton`: damped Newton-Krylov for `F(x) = 0`, matrix-free.

Iteration k solves `J(x_k) dx = -F(x_k)` (as `J delta = F`, `dx = -delta`) with a
Krylov method on the operator `v -> jvp(x_k, v)` (or `jvp(x_0, v)` with
`freeze_jacobian`: simplified Newton), then backtracks: the step `x + lam dx` is
taken with the first `lam = 1, damping, damping^2, ...` (at most `max_backtracks`
reductions) giving sufficient decrease
`|F(x + lam dx)| <= (1 - 1e-4 lam) |F(x)|`. The update is measured in the weighted RMS
norm `|u| = rms(u / (atol + rtol |x|))`, and convergence follows Hairer and Wanner's
simplified Newton (Solving ODEs II, IV.8): with the contraction rate
`theta = |dx_k| / |dx_{k-1}|` the iteration is accepted once
`theta / (1 - theta) |dx_k| <= 1` (the first iteration, with no rate yet, once
`|dx_0| <= 1`) and stops as diverging when `theta >= 1`. Every failure (linear solve,
line search, divergence, a non-finite iterate, `max_iters` reached) is reported in
`Info` with a retryable status, the iterate left at its last good value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cubie_trace.core import ops as ct
from cubie_trace.core.counters import count
from cubie_trace.solvers.info import Info, Outcome, first, newton_status, ratio
from cubie_trace.solvers.linear import KRYLOV, krylov

SUFFICIENT_DECREASE = 1e-4


def newton(f: Callable[[Any], Any], x0: Any, jvp: Callable[[Any, Any], Any],
           linear: str = "bicgstab", preconditioner: Any = None, tol: float = 1e-10,
           max_iters: Any = 8, damping: float = 0.5, max_backtracks: int = 4,
           atol: Any = None, rtol: Any = None, freeze_jacobian: bool = False,
           linear_tol: Any = None, linear_max_iters: Any = None, restart: int = 8,
           report: bool = True) -> tuple[Any, Info]:
    """Solve `f(x) = 0` from `x0` given `jvp(x, v) = f'(x) v`; returns `(x, info)`.

    `linear`: the Krylov method for the Newton systems ("bicgstab", "gmres",
    "minimal_residual", "steepest_descent"), with `preconditioner` (a spelling of
    `linear_solve`, applied to the operator `v -> jvp(x, v)`), relative residual
    tolerance `linear_tol` (default `tol`), `linear_max_iters` and GMRES `restart`.
    `tol`: default for `atol` and `rtol` of the update norm (see the module docstring).
    `max_iters`: Newton iterations; `damping` in (0, 1): the backtracking factor;
    `max_backtracks`: step reductions per iteration (0: always the full step).
    `freeze_jacobian`: evaluate every jvp at `x0` (simplified Newton). With `report`,
    adds the Newton and Krylov iterations to the step's `newton_iterations` and
    `krylov_iterations` counters (pass False inside loop bodies, branches or children,
    where `ct.count` is not allowed). `info.iterations` counts Newton iterations and
    `info.linear_iterations` the Krylov iterations of all of them.
    """
    if linear not in KRYLOV:
        raise ValueError(f"newton: linear must be one of {tuple(KRYLOV)}, got {linear!r}")
    if not 0.0 < damping < 1.0:
        raise ValueError(f"newton: damping must be in (0, 1), got {damping!r}")
    if not isinstance(max_backtracks, int) or max_backtracks < 0:
        raise ValueError(f"newton: max_backtracks must be an int >= 0, got {max_backtracks!r}")
    atol = tol if atol is None else atol
    rtol = tol if rtol is None else rtol
    linear_tol = tol if linear_tol is None else linear_tol

    def solve(x0: Any) -> tuple[Any, Any, Any, Any]:
        def attempt(x: Any, dx: Any, lam: Any) -> tuple[Any, Any, Any]:
            x_trial = ct.hint(x - lam * dx, "x_trial")
            r_trial = ct.hint(f(x_trial), "r_trial")
            return x_trial, r_trial, ct.sqrt(ct.dot(r_trial, r_trial))

        def iterate(carry: tuple) -> tuple:
            x, previous, k, krylov_total, _ = carry
            # F(x) is evaluated afresh rather than carried from the line search: one
            # more evaluation per iteration, one buffer fewer across the linear solve
            r = ct.hint(f(x), "residual")
            f_norm = ct.sqrt(ct.dot(r, r))
            at = x0 if freeze_jacobian else x
            dx, linear_outcome, its = krylov(
                linear, lambda v: jvp(at, v), r, None, preconditioner, linear_tol,
                linear_max_iters, restart)
            dx = ct.hint(dx, "delta")  # the Newton update is -delta
            solved = linear_outcome == int(Outcome.CONVERGED)

            def insufficient(c: tuple) -> Any:
                return c[3] > (1.0 - SUFFICIENT_DECREASE * c[0]) * f_norm

            def backtrack(c: tuple) -> tuple:
                lam = c[0] * damping
                return (lam, *attempt(x, dx, lam), c[4] + 1)

            lam, x_new, r_new, f_new, _ = ct.while_loop(
                lambda c: ct.logical_and(c[4] < max_backtracks, insufficient(c)), backtrack,
                (1.0, *attempt(x, dx, 1.0), 0))
            decreased = True if max_backtracks == 0 else ct.logical_not(
                insufficient((lam, x_new, r_new, f_new)))
            size = ct.rms_norm(lam * dx, atol + rtol * ct.abs(x_new))
            theta, has_rate = ratio(size, previous)
            contracting = ct.logical_and(has_rate, theta < 1.0)
            estimate = theta / ct.where(contracting, 1.0 - theta, 1.0) * size
            converged = ct.where(k == 0, size <= 1.0,
                                 ct.logical_and(contracting, estimate <= 1.0))
            finite = ct.isfinite(size) & ct.isfinite(f_new)
            outcome = first([(ct.logical_not(solved), Outcome.LINEAR),
                             (ct.logical_not(finite), Outcome.DIVERGED),
                             (converged, Outcome.CONVERGED),
                             (ct.logical_not(decreased), Outcome.LINE_SEARCH),
                             (ct.logical_and(k > 0, ct.logical_not(contracting)),
                              Outcome.DIVERGED)], Outcome.MAX_ITERATIONS)
            take = ct.logical_and(solved, finite)
            return (ct.hint(ct.where(take, x_new, x), "x"), size, k + 1, krylov_total + its,
                    outcome)

        init = (x0, 0.0, 0, 0, int(Outcome.MAX_ITERATIONS))
        x, _, k, krylov_total, outcome = ct.while_loop(
            lambda c: ct.logical_and(c[4] == int(Outcome.MAX_ITERATIONS), c[2] < max_iters),
            iterate, init)
        return x, outcome, k, krylov_total

    x, outcome, iterations, krylov_total = ct.function(solve, name="newton")(x0)
    if report:
        count("newton_iterations", iterations)
        count("krylov_iterations", krylov_total)
    return x, Info(newton_status(outcome), iterations, outcome, krylov_total)
