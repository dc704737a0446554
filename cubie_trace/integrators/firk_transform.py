"""The eigen-decomposition of a fully implicit stage matrix, for simplified Newton.

A simplified Newton iteration for an s-stage FIRK method solves with
``(dt A)^{-1} (x) I - I (x) J``. With a real ``T`` such that
``T^{-1} A^{-1} T = diag(lambda_1, ..., [[alpha, -beta], [beta, alpha]], ...)``
(Hairer & Wanner II, Sect. IV.8) that system splits into one real n x n
solve per real eigenvalue and one complex n x n solve per conjugate pair.
The blocks are ordered real eigenvalues first (ascending), then pairs by
ascending alpha, matching Hairer's RADAU5 for the 3-stage Radau IIA method.
"""

from __future__ import annotations

import attrs
import numpy as np

from cubie_trace.integrators.butcher import Floats, Matrix

_REAL_TOL = 1e-12


@attrs.frozen
class EigenTransform:
    """Real block diagonalisation of ``A^{-1}``.

    ``real`` are the real eigenvalues of ``A^{-1}``, ``pairs`` the
    ``(alpha, beta)`` (beta > 0) of each conjugate pair ``alpha +- i beta``;
    ``t`` and ``t_inv`` are the real transformation and its inverse, with
    columns for the real eigenvectors, then ``(Re v, -Im v)`` of each pair.
    """

    real: Floats
    pairs: tuple[tuple[float, float], ...]
    t: Matrix
    t_inv: Matrix

    def block_diagonal(self) -> np.ndarray:
        """The matrix ``T^{-1} A^{-1} T`` this decomposition stands for."""
        s = len(self.real) + 2 * len(self.pairs)
        out = np.zeros((s, s))
        for i, lam in enumerate(self.real):
            out[i, i] = lam
        for k, (alpha, beta) in enumerate(self.pairs):
            i = len(self.real) + 2 * k
            out[i:i + 2, i:i + 2] = [[alpha, -beta], [beta, alpha]]
        return out


def eigen_transform(a: Matrix) -> EigenTransform:
    """Decompose the inverse of the (nonsingular) stage matrix `a`.

    Each eigenvector is scaled so that its last component is 1 (for a pair:
    the complex vector, so the imaginary column ends in 0).
    """
    a_inv = np.linalg.inv(np.array(a, dtype=float))
    values, vectors = np.linalg.eig(a_inv)
    real_idx = [i for i in range(len(values)) if abs(values[i].imag) <= _REAL_TOL]
    pair_idx = [i for i in range(len(values)) if values[i].imag > _REAL_TOL]
    real_idx.sort(key=lambda i: values[i].real)
    pair_idx.sort(key=lambda i: values[i].real)
    columns = []
    for i in real_idx:
        v = vectors[:, i].real
        columns.append(v / v[-1])
    for i in pair_idx:
        v = vectors[:, i] / vectors[-1, i]
        columns += [v.real, -v.imag]
    t = np.column_stack(columns)
    return EigenTransform(
        real=tuple(float(values[i].real) for i in real_idx),
        pairs=tuple((float(values[i].real), float(values[i].imag)) for i in pair_idx),
        t=tuple(tuple(float(x) for x in row) for row in t),
        t_inv=tuple(tuple(float(x) for x in row) for row in np.linalg.inv(t)),
    )
