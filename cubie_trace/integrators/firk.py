"""Fully implicit Runge-Kutta steps (Gauss-Legendre, Radau IIA) by transformed
simplified Newton, after Hairer's RADAU5 (Hairer & Wanner II, Sect. IV.8).

The stage increments ``z_i = Y_i - y`` of an s-stage method solve

    M z_i = dt sum_j a_ij f(t + c_j dt, y + z_j),    i.e.  (A^{-1}/dt (x) M) Z = F(Z).

With ``T^{-1} A^{-1} T = Lambda`` block diagonal (`FIRK_TRANSFORMS`) and
``W = (T^{-1} (x) I) Z`` the simplified Newton iteration, with J frozen at
(t, y), decouples: one real n x n system ``(lambda/dt M - J) dw = g - lambda/dt M w``
per real eigenvalue and one real 2n x 2n form of the complex system
``((alpha + i beta)/dt M - J)`` per conjugate pair, each factored once per step
with `SparseLU` on the union of the Jacobian's pattern, the mass matrix's and
the diagonal. Here ``g = (T^{-1} (x) I) F(T W)``. The iteration starts from
Z = 0, measures ``|dW|`` in the weighted RMS norm of `newton` options ``atol``
and ``rtol`` (the step does not see the loop's tolerances) and converges once
``theta / (1 - theta) |dW| <= 1`` with the contraction rate theta; theta >= 1,
a non-finite iterate or ``max_iters`` iterations give ``NEWTON_FAILED``, a bad
pivot ``LINEAR_FAILED`` (both retried by the loop with a smaller step).

The new value is ``y + sum_i d_i z_i`` with ``d = b^T A^{-1}`` (``y + z_s`` for
the stiffly accurate Radau IIA), so no further f evaluation is needed and a
singular M (an index-1 DAE) is allowed. Radau IIA 5 carries RADAU5's embedded
estimate (`RADAU5_ERROR`), ``err = (M/(gamma0 dt) - J)^{-1} (f(t, y) + M sum_i
e_i z_i / (gamma0 dt))``, refined on every step by one more solve with f at
``y + err`` (RADAU5 refines after rejections only; refining always keeps the
estimate bounded for stiff components at no more than one f and one
substitution). The other tableaus have no literature estimate of this kind and
are fixed-step methods.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cubie_trace.core import ops as ct
from cubie_trace.core.counters import count
from cubie_trace.core.step import OK, Status, Step
from cubie_trace.integrators.butcher import ButcherTableau
from cubie_trace.integrators.firk_tableaus import FIRK_TRANSFORMS, RADAU5_ERROR
from cubie_trace.solvers.info import ratio
from cubie_trace.solvers.sparse_lu import SparseLU

NEWTON_DEFAULTS = {"max_iters": 7, "atol": 1e-12, "rtol": 1e-8}
ERROR_ESTIMATES = {"radau_iia_5": RADAU5_ERROR}


def numeric_mass(system: Any) -> np.ndarray:
    """The system's mass matrix as floats (identity for a plain ODE)."""
    mass = getattr(system, "mass", None)
    n = system.n_states
    if mass is None:
        return np.eye(n)
    if getattr(mass, "free_symbols", None):
        raise ValueError("FIRK steps need a constant mass matrix; this one depends on "
                         f"{sorted(map(str, mass.free_symbols))}")
    return np.array(mass.tolist(), dtype=float).reshape(n, n)


class StageMatrices:
    """The real and complex Newton matrices of one step, as sparse LU factors.

    Built from the Jacobian's nonzeros ``jn`` (on ``jacobian_pattern``) and the
    constant mass matrix; the complex matrix ``(alpha + i beta)/dt M - J`` is
    the real ``[[alpha/dt M - J, -beta/dt M], [beta/dt M, alpha/dt M - J]]``.
    """

    def __init__(self, jacobian_pattern: np.ndarray, mass: np.ndarray) -> None:
        n = len(mass)
        self.n, self.mass = n, mass
        self.jacobian_slot = {tuple(ij): k for k, ij in enumerate(np.argwhere(jacobian_pattern))}
        m_pat = mass != 0.0
        self.pattern = jacobian_pattern | m_pat | np.eye(n, dtype=bool)
        self.real_lu = SparseLU(self.pattern)
        self.complex_lu = SparseLU(np.block([[self.pattern, m_pat], [m_pat, self.pattern]]))

    def _entry(self, jn: Any, i: int, j: int, g: Any) -> Any:
        """``g M_ij - J_ij``."""
        value: Any = 0.0
        if self.mass[i, j] != 0.0:
            value = g * self.mass[i, j]
        if (i, j) in self.jacobian_slot:
            value = value - jn[self.jacobian_slot[(i, j)]]
        return value

    def real(self, jn: Any, g: Any) -> tuple[Any, Any]:
        """Factors of ``g M - J`` and their status."""
        entries = [self._entry(jn, i, j, g) for i, j in np.argwhere(self.pattern)]
        return self.real_lu.factor(vector(entries))

    def complex(self, jn: Any, alpha: Any, beta: Any) -> tuple[Any, Any]:
        """Factors of the real form of ``(alpha + i beta) M - J`` and their status."""
        n, entries = self.n, []
        for i, j in np.argwhere(self.complex_lu.pattern):
            row, col = i % n, j % n
            if (i < n) == (j < n):
                entries.append(self._entry(jn, row, col, alpha))
            else:
                sign = -1.0 if i < n else 1.0
                entries.append((sign * self.mass[row, col]) * beta)
        return self.complex_lu.factor(vector(entries))

    def times_mass(self, v: Any) -> Any:
        """``M v``."""
        return mass_times(self.mass, v)


def mass_times(mass: np.ndarray, v: Any) -> Any:
    """``M v`` for the constant mass matrix `mass`."""
    if np.array_equal(mass, np.eye(len(mass))):
        return v
    rows = []
    for i in range(len(mass)):
        acc: Any = 0.0
        for j in np.flatnonzero(mass[i]):
            acc = acc + mass[i, j] * v[int(j)]
        rows.append(acc)
    return vector(rows)


def vector(entries: list[Any]) -> Any:
    out = ct.zeros(len(entries))
    for k, value in enumerate(entries):
        out = out.at[k].set(value)
    return out


def _join(a: Any, b: Any) -> Any:
    """The real 2n-vector ``(a, b)`` of the complex vector ``a + i b``."""
    return vector([a[i] for i in range(len(a))] + [b[i] for i in range(len(b))])


def combine(weights: Any, vectors: list[Any]) -> Any:
    """``sum_j weights_j vectors_j`` over the nonzero weights (None when all are zero)."""
    acc = None
    for w, v in zip(weights, vectors):
        if w != 0.0:
            term = w * v
            acc = term if acc is None else acc + term
    return acc


def output_weights(tab: ButcherTableau) -> np.ndarray:
    """``d = b^T A^{-1}``, so that ``y_new = y + sum_i d_i z_i`` (exactly the last unit
    vector for a stiffly accurate tableau)."""
    if tab.c[-1] == 1.0 and tab.a[-1] == tab.b:
        return np.eye(tab.stages)[-1]
    return np.array(tab.b) @ np.linalg.inv(np.array(tab.a))


def newton_options(name: str, newton: dict | None) -> dict:
    """`NEWTON_DEFAULTS` updated with the user's `newton` options (known keys only)."""
    options = {**NEWTON_DEFAULTS, **(newton or {})}
    unknown = set(options) - set(NEWTON_DEFAULTS)
    if unknown:
        raise ValueError(f"{name}: unknown newton options {sorted(unknown)}; "
                         f"known: {sorted(NEWTON_DEFAULTS)}")
    return options


def firk_step(tab: ButcherTableau, system: Any, newton: dict | None = None) -> Step:
    """The transformed simplified-Newton step of the FIRK tableau `tab` for `system`."""
    options = newton_options(tab.name, newton)
    transform = FIRK_TRANSFORMS[tab.name]
    s, n = tab.stages, system.n_states
    mats = StageMatrices(np.asarray(system.jacobian_pattern, dtype=bool), numeric_mass(system))
    t_mat, t_inv = np.array(transform.t), np.array(transform.t_inv)
    weights = output_weights(tab)
    n_real = len(transform.real)
    estimate = ERROR_ESTIMATES.get(tab.name)
    atol, rtol, max_iters = options["atol"], options["rtol"], options["max_iters"]

    def fn(f: Any, t: Any, dt: Any, y: Any, state: dict) -> Any:
        jn = f.jacobian_nonzeros(t, y)
        inv_dt = 1.0 / dt
        factors, lu_ok = [], int(OK)
        for lam in transform.real:
            lu, st = mats.real(jn, lam * inv_dt)
            factors.append(lu)
            lu_ok = ct.maximum(lu_ok, st)
        for alpha, beta in transform.pairs:
            lu, st = mats.complex(jn, alpha * inv_dt, beta * inv_dt)
            factors.append(lu)
            lu_ok = ct.maximum(lu_ok, st)
        scale = atol + rtol * ct.abs(y)

        def stages(w: list[Any]) -> list[Any]:
            return [combine(t_mat[i], w) for i in range(s)]

        def iterate(carry: tuple) -> tuple:
            w, previous, k, _ = carry
            z = stages(w)
            fz = [f(t + tab.c[i] * dt, y if z[i] is None else y + z[i]) for i in range(s)]
            g = [combine(t_inv[i], fz) for i in range(s)]
            mw = [mats.times_mass(v) for v in w]
            dw: list[Any] = []
            for r, lam in enumerate(transform.real):
                dw.append(mats.real_lu.solve(factors[r], g[r] - (lam * inv_dt) * mw[r]))
            for p, (alpha, beta) in enumerate(transform.pairs):
                a, b = n_real + 2 * p, n_real + 2 * p + 1
                ra = g[a] - (alpha * inv_dt) * mw[a] + (beta * inv_dt) * mw[b]
                rb = g[b] - (beta * inv_dt) * mw[a] - (alpha * inv_dt) * mw[b]
                x = mats.complex_lu.solve(factors[n_real + p], _join(ra, rb))
                dw += [x[:n], x[n:]]
            size = ct.sqrt(sum(ct.rms_norm(d, scale) ** 2 for d in dw) / s)
            theta, has_rate = ratio(size, previous)
            contracting = ct.logical_and(has_rate, theta < 1.0)
            converged = ct.where(k == 0, size <= 1.0, ct.logical_and(
                contracting, theta / ct.where(contracting, 1.0 - theta, 1.0) * size <= 1.0))
            diverged = ct.logical_or(ct.logical_not(ct.isfinite(size)),
                                     ct.logical_and(k > 0, ct.logical_not(contracting)))
            outcome = ct.where(converged, 1, ct.where(diverged, 2, 0))
            return [ct.hint(wi + di, "w") for wi, di in zip(w, dw)], size, k + 1, outcome

        w0 = [ct.zeros(n) for _ in range(s)]
        w, _, iterations, outcome = ct.while_loop(
            lambda c: ct.logical_and(c[3] == 0, c[2] < max_iters), iterate,
            (w0, 0.0, 0, ct.where(lu_ok == int(OK), 0, 2)))
        count("newton_iterations", iterations)
        status = ct.where(outcome == 1, int(OK), int(Status.NEWTON_FAILED))
        status = ct.where(lu_ok == int(OK), status, int(Status.LINEAR_FAILED))
        z = stages(w)
        y_new = y + combine(weights, z)
        err = None
        if estimate is not None:
            mz = inv_dt * mats.times_mass(combine([e / estimate.gamma0 for e in estimate.e], z))
            err = mats.real_lu.solve(factors[0], f(t, y) + mz)
            err = mats.real_lu.solve(factors[0], f(t, y + err) + mz)
        return y_new, err, state, status

    return Step(fn, tab.order, 3 if estimate is not None else None, {}, tab.name,
                implicit=True, meta={"tableau": tab.name, "solver": "transformed newton"})
