"""BiCGSTAB (van der Vorst, 1992), right-preconditioned.

Each iteration applies `A` twice: a BiCG half step along `p`, then a minimal-residual
half step along the intermediate residual `s`. When `s` already meets the tolerance the
half step is the answer. When the shadow residual `r_hat` becomes (nearly) orthogonal
to `r` the recurrence restarts with `r_hat = r`. Breakdowns (`r_hat . v = 0`,
`t . t = 0`, `omega = 0`, a non-finite ratio) stop the iteration with
`Outcome.BREAKDOWN`. A failed ratio counts as 0, so every update keeps `x` and `r`
consistent (`r = b - A x` up to rounding) and finite.
"""

from __future__ import annotations

from typing import Any

from cubie_trace.core import ops as ct
from cubie_trace.solvers.info import ratio, residual_small, running, start, step_outcome
from cubie_trace.solvers.operators import Operator

RESTART = 1e-24  # (r_hat . r)^2 below this fraction of |r_hat|^2 |r|^2 restarts r_hat


def bicgstab(a: Operator, p: Operator, b: Any, x0: Any, tol: Any,
             max_iters: Any) -> tuple[Any, Any, Any]:
    """BiCGSTAB from `x0`: `(x, outcome, iterations)`."""
    bb, r, first = start(a, b, x0, tol)

    def iterate(carry: tuple) -> tuple:
        x, r, r_hat, d, v, rho, alpha, omega, k, _ = carry
        rho_new = ct.dot(r_hat, r)
        # r_hat nearly orthogonal to r: restart the recurrence with r_hat = r
        fresh = rho_new * rho_new <= RESTART * ct.dot(r_hat, r_hat) * ct.dot(r, r)
        r_hat = ct.hint(ct.where(fresh, r, r_hat), "r_hat")
        rho_new = ct.where(fresh, ct.dot(r, r), rho_new)
        growth, ok_rho = ratio(rho_new, rho)
        turn, ok_omega = ratio(alpha, omega)
        d = ct.hint(r + ct.where(fresh, 0.0, growth * turn) * (d - omega * v), "p")
        y = ct.hint(p(d), "y")
        v = ct.hint(a(y), "v")
        alpha, ok_alpha = ratio(rho_new, ct.dot(r_hat, v))
        s = ct.hint(r - alpha * v, "s")
        half = residual_small(s, bb, tol)
        z = ct.hint(p(s), "z")
        t = ct.hint(a(z), "t")
        omega, ok_t = ratio(ct.dot(t, s), ct.dot(t, t))
        ok = ok_rho & ok_omega & ok_alpha & ct.logical_or(half, ok_t & (omega != 0.0))
        last = ct.where(half, 0.0, omega)  # the half step alone when s is small enough
        x_new = ct.hint(x + alpha * y + last * z, "x")  # one pass: no half-step buffer
        r_new = ct.hint(s - last * t, "r")
        done = ct.logical_or(half, residual_small(r_new, bb, tol))
        return (x_new, r_new, r_hat, d, v, rho_new, alpha, omega, k + 1,
                step_outcome(ok, done))

    init = (x0, r, r, ct.zeros_like(b), ct.zeros_like(b), 1.0, 1.0, 1.0, 0, first)
    x, *_, k, outcome = ct.while_loop(lambda c: running(c[9], c[8], max_iters), iterate, init)
    return x, outcome, k
