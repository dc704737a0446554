"""A direct LU for small sparse systems whose sparsity pattern is known at trace time.

`SparseLU(pattern)` analyses the pattern once in Python (`ordering.analyse`: a
minimum-degree order of the symmetrised pattern, the fill of LU in that order, the
static elimination schedule). `factor(values)` is a traced child that stores L (unit
diagonal implied) and U in one buffer holding only the structural nonzeros plus fill
(`nnz` elements); `solve(factors, b)` is a traced child doing the permuted forward and
back substitution, reusable for any number of right-hand sides while the matrix is
unchanged. Elimination runs on scalars, so the factors buffer is the only storage.

Pivoting policy: none beyond the static order. A pivot `u_kk` with
`|u_kk| <= pivot_tol * max(max_j |a_kj|, max_j |u_kj|)` (zero, or tiny relative to
its row of A and of U) makes the
factorisation report `ct.Status.LINEAR_FAILED`; it is then replaced by 1 so the factors
stay finite (and meaningless). Diagonally dominant matrices, and the implicit-stage
operators `I - h gamma J` for small enough `h`, never need pivoting.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cubie_trace.core import ops as ct
from cubie_trace.core import tracer as tr
from cubie_trace.solvers.info import Outcome, linear_status
from cubie_trace.solvers.ordering import Symbolic, analyse


class SparseLU:
    """LU factorisation and solves for matrices with the sparsity `pattern` (a static
    `(n, n)` bool array; all True for a dense matrix)."""

    def __init__(self, pattern: np.ndarray, pivot_tol: float = 1e-12) -> None:
        self.pattern = np.asarray(pattern)
        self.symbolic: Symbolic = analyse(self.pattern)
        self.pivot_tol = float(pivot_tol)
        self.n_values = int(np.count_nonzero(self.pattern))
        self._factor = ct.function(self._factorise, name="lu_factor")
        self._solve = ct.function(self._substitute, name="lu_solve")

    @property
    def n(self) -> int:
        return self.symbolic.n

    @property
    def nnz(self) -> int:
        """Elements of the factors buffer: structural nonzeros plus fill."""
        return self.symbolic.nnz

    def factor(self, values: Any) -> tuple[Any, Any]:
        """`(factors, status)` for the matrix with these `values`: a buffer of the
        pattern's nonzeros in row-major order, or the full `(n, n)` matrix (only its
        structural entries are read). `status` is ct.OK or LINEAR_FAILED (a bad pivot)."""
        shape = tr.aval_of(values).shape
        if shape not in ((self.n_values,), (self.n, self.n)):
            raise ValueError(f"SparseLU.factor: values must have shape ({self.n_values},) "
                             f"(the pattern's nonzeros) or ({self.n}, {self.n}), got {shape}")
        factors, outcome = self._factor(values)
        return factors, linear_status(outcome)

    def solve(self, factors: Any, b: Any) -> Any:
        """`x` with `A x = b`, from `factors` returned by `factor`."""
        if tr.aval_of(factors).shape != (self.nnz,) or tr.aval_of(b).shape != (self.n,):
            raise ValueError(f"SparseLU.solve: expected factors of shape ({self.nnz},) and b "
                             f"of shape ({self.n},)")
        return self._solve(factors, b)

    # ------------------------------------------------------------ traced bodies

    def _entries(self, values: Any) -> list[Any]:
        sym, matrix = self.symbolic, len(tr.aval_of(values).shape) == 2
        out: list[Any] = []
        for (i, j), src in zip(sym.slots, sym.source):
            if src < 0:
                out.append(0.0)
            elif matrix:
                out.append(values[sym.perm[i]][sym.perm[j]])
            else:
                out.append(values[src])
        return out

    def _factorise(self, values: Any) -> tuple[Any, Any]:
        sym = self.symbolic
        f = self._entries(values)
        slot = sym.slots
        rows = [[f[slot[k, j]] for j in (*sym.lower[k], k, *sym.upper[k])]
                for k in range(sym.n)]
        ok: Any = True
        for k in range(sym.n):
            pivot = f[slot[k, k]]
            scale = ct.abs(pivot)
            for entry in rows[k] + [f[slot[k, j]] for j in sym.upper[k]]:
                scale = ct.maximum(scale, ct.abs(entry))
            good = ct.logical_and(ct.abs(pivot) > self.pivot_tol * scale, ct.isfinite(pivot))
            ok = ct.logical_and(ok, good)
            pivot = ct.where(good, pivot, 1.0)
            f[slot[k, k]] = pivot
            for i in sym.below(k):
                lik = f[slot[i, k]] / pivot
                f[slot[i, k]] = lik
                for j in sym.upper[k]:
                    f[slot[i, j]] = f[slot[i, j]] - lik * f[slot[k, j]]
        factors = ct.zeros(sym.nnz)
        for s, value in enumerate(f):
            factors = factors.at[s].set(value)
        outcome = ct.where(ok, int(Outcome.CONVERGED), int(Outcome.BREAKDOWN))
        return ct.hint(factors, "lu"), outcome

    def _substitute(self, factors: Any, b: Any) -> Any:
        sym, slot = self.symbolic, self.symbolic.slots
        y: list[Any] = []
        for i in range(sym.n):  # L y = P^T b, L unit lower triangular
            acc = b[sym.perm[i]]
            for j in sym.lower[i]:
                acc = acc - factors[slot[i, j]] * y[j]
            y.append(acc)
        x: list[Any] = [None] * sym.n
        for i in reversed(range(sym.n)):  # U x = y
            acc = y[i]
            for j in sym.upper[i]:
                acc = acc - factors[slot[i, j]] * x[j]
            x[i] = acc / factors[slot[i, i]]
        out = ct.zeros_like(b)
        for i in range(sym.n):
            out = out.at[sym.perm[i]].set(x[i])
        return ct.hint(out, "x")
