"""Restarted GMRES(m), right-preconditioned, with Givens rotations.

A cycle builds an orthonormal Krylov basis `V` (an `(m+1, n)` stack) of `A P` by
modified Gram-Schmidt, reducing the Hessenberg matrix to triangular form column by
column with Givens rotations; the rotated right-hand side `g` then gives the residual
norm of the least-squares solution at no cost, so a cycle stops early once it meets the
tolerance. The triangular system is solved by back substitution and `x += P (V^T y)`;
the next cycle starts from the true residual. The Hessenberg matrix is stored by
columns, `h[j]` holding column j (length m+1). `m` is fixed at trace time and
`max_iters` bounds the Arnoldi steps of all cycles together. A zero diagonal in the
triangular factor (a singular least-squares problem) is a breakdown.
"""

from __future__ import annotations

from typing import Any

from cubie_trace.core import ops as ct
from cubie_trace.core import tracer as tr
from cubie_trace.solvers.info import ratio, residual_small, running, start, step_outcome
from cubie_trace.solvers.operators import Operator


def _rotate(h: Any, c: Any, s: Any, i: Any) -> Any:
    """Apply the rotation (c, s) to entries i and i+1 of the column `h`."""
    hi, hj = h[i], h[i + 1]
    return h.at[i].set(c * hi + s * hj).at[i + 1].set(c * hj - s * hi)


def _arnoldi(a: Operator, p: Operator, basis: Any, j: Any) -> tuple[Any, Any]:
    """Column j of the Hessenberg matrix and the basis with vector j+1 added."""
    m1 = tr.aval_of(basis).shape[0]
    w = ct.hint(a(p(basis[j])), "w")

    def project(i: Any, carry: tuple) -> tuple:
        w, h = carry
        hij = ct.dot(w, basis[i])
        return w - hij * basis[i], h.at[i].set(hij)

    w, h = ct.fori_loop(0, j + 1, project, (w, ct.zeros(m1)))
    norm = ct.sqrt(ct.dot(w, w))
    inv, _ = ratio(1.0, norm)
    return h.at[j + 1].set(norm), basis.at[j + 1].set(w * inv)


def _cycle(a: Operator, p: Operator, x: Any, r: Any, bb: Any, tol: Any, m: int,
           budget: Any) -> tuple[Any, Any, Any]:
    """One GMRES cycle of at most `min(m, budget)` steps from `x` with residual `r`:
    `(x_new, steps, ok)`."""
    n = tr.aval_of(r).shape[0]
    beta = ct.sqrt(ct.dot(r, r))
    inv, _ = ratio(1.0, beta)
    basis = ct.hint(ct.zeros((m + 1, n)).at[0].set(r * inv), "V")
    g = ct.hint(ct.zeros(m + 1).at[0].set(beta), "g")
    hess = ct.hint(ct.zeros((m, m + 1)), "H")
    cs, sn = ct.hint(ct.zeros(m), "cs"), ct.hint(ct.zeros(m), "sn")
    limit = ct.minimum(budget, m)

    def step(carry: tuple) -> tuple:
        j, basis, hess, cs, sn, g, _ = carry
        h, basis = _arnoldi(a, p, basis, j)
        h = ct.fori_loop(0, j, lambda i, h: _rotate(h, cs[i], sn[i], i), h)
        hj, hk = h[j], h[j + 1]
        d = ct.sqrt(hj * hj + hk * hk)
        c, ok_c = ratio(hj, d)
        s, _ = ratio(hk, d)
        h = h.at[j].set(d).at[j + 1].set(0.0)
        gj = g[j]
        g = g.at[j].set(c * gj).at[j + 1].set(-s * gj)
        small = g[j + 1] * g[j + 1] <= tol * tol * bb
        return (j + 1, basis, hess.at[j].set(h), cs.at[j].set(c), sn.at[j].set(s), g,
                ct.logical_or(small, ct.logical_not(ok_c)))

    steps, basis, hess, _, _, g, _ = ct.while_loop(
        lambda c: ct.logical_and(c[0] < limit, ct.logical_not(c[6])), step,
        (0, basis, hess, cs, sn, g, False))

    def back(k: Any, carry: tuple) -> tuple:
        y, ok = carry
        i = steps - 1 - k
        tail = ct.fori_loop(i + 1, steps, lambda col, acc: acc + hess[col][i] * y[col], 0.0)
        yi, ok_i = ratio(g[i] - tail, hess[i][i])
        return y.at[i].set(yi), ct.logical_and(ok, ok_i)

    y, ok = ct.fori_loop(0, steps, back, (ct.zeros(m), True))
    u = ct.fori_loop(0, steps, lambda i, u: u + y[i] * basis[i], ct.zeros(n))
    return ct.where(ok, x + p(u), x), steps, ok


def gmres(a: Operator, p: Operator, b: Any, x0: Any, tol: Any, max_iters: Any,
          restart: int) -> tuple[Any, Any, Any]:
    """GMRES(`restart`) from `x0`: `(x, outcome, iterations)`."""
    if not isinstance(restart, int) or isinstance(restart, bool) or restart < 1:
        raise ValueError(f"gmres: restart must be an int >= 1, got {restart!r}")
    bb, r, first = start(a, b, x0, tol)

    def cycle(carry: tuple) -> tuple:
        x, r, k, _ = carry
        x, steps, ok = _cycle(a, p, x, r, bb, tol, restart, max_iters - k)
        r = ct.hint(b - a(x), "r")
        return x, r, k + steps, step_outcome(ok, residual_small(r, bb, tol))

    x, _, k, outcome = ct.while_loop(lambda c: running(c[3], c[2], max_iters), cycle,
                                     (x0, r, 0, first))
    return x, outcome, k
