"""The implicit stage equation of a diagonally implicit method and its solution.

A stage with diagonal coefficient `gamma_h = a_ii dt` solves, for the increment
`z = Y - y`,

    G(z) = M (z - base) - gamma_h f(t_i, y + z) = 0,     base = dt sum_{j<i} a_ij k_j,

whose Newton matrix is `M - gamma_h J`. Two ways to solve it, chosen per method
from the `newton`, `linear` and `jacobian` options:

- "dense": simplified Newton on `SparseLU` factors of `M - gamma_h J`, assembled on
  the union of the Jacobian's structural pattern, the mass pattern and the diagonal
  (the factors may be shared by every stage of a step with one diagonal);
- "matrix-free": `ct.solvers.newton` with a Krylov method on
  `v -> f.operator(t_i, Y, v, gamma_h)`, Jacobi-preconditioned by the diagonal of
  `M - gamma_h J`.

Convergence (both) follows Hairer and Wanner (Solving ODEs II, IV.8) in the weighted
RMS norm with weights `tol (1 + |Y|)`; failures come back as retryable statuses.
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np

from cubie_trace.core import ops as ct
from cubie_trace.core.counters import count
from cubie_trace.core.step import JACOBIANS, OK
from cubie_trace.integrators.mass import times
from cubie_trace.solvers import SparseLU, linear_solve, newton
from cubie_trace.solvers.info import Outcome, first, newton_status, ratio
from cubie_trace.solvers.linear import KRYLOV

DENSE_UP_TO = 16  # states; above this the Newton matrix is left matrix-free
NEWTON_DEFAULTS = {"tol": 1e-10, "max_iters": 8}
LINEAR_DEFAULTS = {"method": None, "tol": None, "max_iters": None,
                   "preconditioner": "jacobi", "restart": 8}
PRECONDITIONERS = ("jacobi", "none")


def _merged(kind: str, given: dict | None, defaults: dict) -> dict:
    unknown = sorted(set(given or {}) - set(defaults))
    if unknown:
        raise ValueError(f"unknown {kind} options {unknown}; the {kind} options are "
                         f"{sorted(defaults)}")
    return {**defaults, **(given or {})}


@attrs.frozen(eq=False)
class StageSolver:
    """How a method's implicit stages are solved, fixed when the method is built."""

    n: int
    mass: np.ndarray | None
    dense: bool
    tol: float
    max_iters: int
    linear: dict
    pattern: np.ndarray  # the Jacobian's structural pattern (dense only)
    lu: SparseLU | None

    @classmethod
    def build(cls, system: Any, mass: np.ndarray | None, newton: dict | None = None,
              linear: dict | None = None, jacobian: str | None = None) -> StageSolver:
        """The solver for `system` from the user's options (ValueError naming any
        unknown key)."""
        n = system.n_states
        opts = _merged("newton", newton, NEWTON_DEFAULTS)
        lin = _merged("linear", linear, LINEAR_DEFAULTS)
        if jacobian is not None and jacobian not in JACOBIANS:
            raise ValueError(f"jacobian must be one of {JACOBIANS}, got {jacobian!r}")
        method = lin["method"]
        if method is not None and method not in (*KRYLOV, "lu"):
            raise ValueError(f"linear method must be one of {(*KRYLOV, 'lu')}, got {method!r}")
        if lin["preconditioner"] not in PRECONDITIONERS:
            raise ValueError(f"linear preconditioner must be one of {PRECONDITIONERS}, "
                             f"got {lin['preconditioner']!r}")
        if jacobian is None:
            dense = method == "lu" or (method is None and n <= DENSE_UP_TO)
        else:
            dense = jacobian == "dense"
        if dense and method not in (None, "lu"):
            raise ValueError(f"jacobian='dense' solves by LU; linear method {method!r} "
                             "needs jacobian='matrix-free'")
        if not dense and method == "lu":
            raise ValueError("linear method 'lu' needs jacobian='dense'")
        if not isinstance(opts["max_iters"], int) or opts["max_iters"] < 1:
            raise ValueError(f"newton max_iters must be a positive int, got "
                             f"{opts['max_iters']!r}")
        if not float(opts["tol"]) > 0.0:
            raise ValueError(f"newton tol must be positive, got {opts['tol']!r}")
        lin["method"] = "lu" if dense else (method or "bicgstab")
        pattern = np.asarray(system.jacobian_pattern, dtype=bool) if dense else \
            np.zeros((n, n), dtype=bool)
        full = pattern | np.eye(n, dtype=bool) | (mass != 0 if mass is not None else False)
        return cls(n, mass, dense, float(opts["tol"]), opts["max_iters"], lin, pattern,
                   SparseLU(full) if dense else None)

    # ------------------------------------------------------------ the Newton matrix

    def factor(self, f: Any, t: Any, y: Any, gamma_h: Any) -> tuple[Any, Any]:
        """`(factors, status)` of `M - gamma_h J(t, y)` (dense), or `(None, OK)`."""
        if not self.dense:
            return None, int(OK)
        jac = f.jacobian_nonzeros(t, y)
        index = {tuple(ij): k for k, ij in enumerate(np.argwhere(self.pattern))}
        values = ct.zeros(self.lu.n_values)
        for slot, (i, j) in enumerate(np.argwhere(self.lu.pattern)):
            m = float(i == j) if self.mass is None else float(self.mass[i, j])
            k = index.get((int(i), int(j)))
            values = values.at[slot].set(m if k is None else m - gamma_h * jac[k])
        return self.lu.factor(ct.hint(values, "newton_matrix"))

    def apply_inverse(self, f: Any, t: Any, y: Any, gamma_h: Any, factors: Any,
                      v: Any) -> tuple[Any, Any]:
        """`((M - gamma_h J(t, y))^-1 v, status)`, by the factors or by Krylov."""
        if self.dense:
            return self.lu.solve(factors, v), int(OK)
        x, info = linear_solve(lambda u: f.operator(t, y, u, gamma_h), v,
                               self.linear["method"], self._preconditioner(f, t, y, gamma_h),
                               self.linear["tol"] or self.tol, self.linear["max_iters"],
                               restart=self.linear["restart"])
        return x, info.status

    def _preconditioner(self, f: Any, t: Any, y: Any, gamma_h: Any) -> Any:
        if self.linear["preconditioner"] == "none":
            return None
        m = np.ones(self.n) if self.mass is None else np.diag(self.mass)
        jd = f.jacobian_diagonal(t, y)
        diag = ct.zeros(self.n)
        for i in range(self.n):
            d = float(m[i]) - gamma_h * jd[i]
            diag = diag.at[i].set(ct.where(d == 0.0, 1.0, d))
        return ("jacobi", diag)

    # ------------------------------------------------------------ the stage solve

    def solve(self, f: Any, t: Any, y: Any, base: Any, z0: Any, gamma_h: Any,
              factors: Any) -> tuple[Any, Any]:
        """`(z, status)` solving `M (z - base) = gamma_h f(t, y + z)` from `z0` (`base`
        None: zero), with the step's factors of the Newton matrix when dense."""
        def residual(z: Any) -> Any:
            return times(self.mass, z if base is None else z - base) - gamma_h * f(t, y + z)

        if not self.dense:
            z, info = newton(residual, z0, lambda z, v: f.operator(t, y + z, v, gamma_h),
                             linear=self.linear["method"],
                             preconditioner=self._preconditioner(f, t, y + z0, gamma_h),
                             tol=self.tol, max_iters=self.max_iters,
                             linear_tol=self.linear["tol"],
                             linear_max_iters=self.linear["max_iters"],
                             restart=self.linear["restart"])
            return z, info.status
        z, iterations, outcome = ct.function(self._simplified(residual, y, factors),
                                             name="newton")(z0)
        count("newton_iterations", iterations)
        count("krylov_iterations", 0)
        return z, newton_status(outcome)

    def _simplified(self, residual: Any, y: Any, factors: Any) -> Any:
        tol, running = self.tol, int(Outcome.MAX_ITERATIONS)

        def iterate(c: tuple) -> tuple:
            z, previous, k, _ = c
            dz = ct.hint(self.lu.solve(factors, ct.hint(residual(z), "residual")), "delta")
            z_new = z - dz
            size = ct.rms_norm(dz, tol + tol * ct.abs(y + z_new))
            theta, has_rate = ratio(size, previous)
            contracting = ct.logical_and(has_rate, theta < 1.0)
            estimate = theta / ct.where(contracting, 1.0 - theta, 1.0) * size
            converged = ct.where(k == 0, size <= 1.0,
                                 ct.logical_and(contracting, estimate <= 1.0))
            finite = ct.isfinite(size)
            outcome = first([(ct.logical_not(finite), Outcome.DIVERGED),
                             (converged, Outcome.CONVERGED),
                             (ct.logical_and(k > 0, ct.logical_not(contracting)),
                              Outcome.DIVERGED)], Outcome.MAX_ITERATIONS)
            return ct.hint(ct.where(finite, z_new, z), "z"), size, k + 1, outcome

        def run(z0: Any) -> tuple:
            z, _, k, outcome = ct.while_loop(
                lambda c: ct.logical_and(c[3] == running, c[2] < self.max_iters), iterate,
                (z0, 0.0, 0, running))
            return z, k, outcome

        return run
