"""Rosenbrock(-W) tableaus in the transformed form of Hairer & Wanner (IV.7.17-18).

A Rosenbrock method in its original form (HW II, eq. IV.7.4) reads, with
``k_i`` scaled by dt and ``Gamma`` lower triangular with diagonal ``gamma``,

    k_i = dt f(t + c_i dt, y + sum_j alpha_ij k_j) + d_i dt^2 f_t
          + dt J sum_{j<=i} Gamma_ij k_j,        y_new = y + sum_i beta_i k_i,

``c = alpha 1`` and ``d = Gamma 1``. Substituting ``U = Gamma k`` removes the
matrix-vector products with J; every stage becomes one linear solve with the
same matrix. This module stores that form, the one of Hairer's RODAS and of
OrdinaryDiffEq.jl's ``RodasTableau``:

    (I / (gamma dt) - J) U_i = f(t + c_i dt, y + sum_{j<i} a_ij U_j)
                               + sum_{j<i} (coupling_ij / dt) U_j + dt d_i f_t,
    y_new = y + sum_i b_i U_i,            y_hat = y + sum_i b_error_i U_i,

with ``a = alpha Gamma^{-1}``, ``coupling = diag(1/gamma) - Gamma^{-1}`` and
``b = beta Gamma^{-1}``. ``dense[i]`` lists the coefficients of theta^1..theta^k
of ``b_i(theta)`` with ``y(t + theta dt) ~ y + sum_i b_i(theta) U_i``.
In a W-method J may be any approximation; ``w_order`` is the order then kept
(None where the order needs the exact Jacobian).
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction as F

import attrs
import numpy as np

from cubie_trace.integrators.butcher import (
    Floats,
    Matrix,
    Weights,
    floats,
    matrix,
    opt_floats,
    opt_matrix,
)

Number = float | int | F


@attrs.frozen
class RosenbrockTableau(Weights):
    """A Rosenbrock(-W) method in transformed form; see the module docstring."""

    name: str
    gamma: float = attrs.field(converter=float)
    a: Matrix = attrs.field(converter=matrix)
    coupling: Matrix = attrs.field(converter=matrix)
    b: Floats = attrs.field(converter=floats)
    c: Floats = attrs.field(converter=floats)
    d: Floats = attrs.field(converter=floats)
    order: int
    b_error: Floats | None = attrs.field(default=None, converter=opt_floats)
    error_order: int | None = None
    dense: Matrix | None = attrs.field(default=None, converter=opt_matrix)
    dense_order: int | None = None
    w_order: int | None = None

    def __attrs_post_init__(self) -> None:
        _validate(self)

    @property
    def stages(self) -> int:
        """Number of stages s."""
        return len(self.b)

    def gamma_matrix(self) -> np.ndarray:
        """``Gamma`` of the original form: the inverse of ``diag(1/gamma) - coupling``."""
        inverse = np.eye(self.stages) / self.gamma - np.array(self.coupling)
        return np.tril(np.linalg.inv(inverse))

    def alpha(self) -> np.ndarray:
        """``alpha = a Gamma`` of the original form."""
        return np.tril(np.array(self.a) @ self.gamma_matrix(), -1)

    def original_weights(self, weights: Sequence[float]) -> np.ndarray:
        """Weights on the ``k_i`` of the original form for weights on the ``U_i``."""
        return np.asarray(weights) @ self.gamma_matrix()


def _validate(tab: RosenbrockTableau) -> None:
    """Shape and structure checks; raises ValueError naming the problem."""
    s = len(tab.b)
    where = f"tableau {tab.name!r}"
    if s == 0:
        raise ValueError(f"{where}: b must not be empty")
    for label, rows in (("a", tab.a), ("coupling", tab.coupling)):
        if len(rows) != s or any(len(row) != s for row in rows):
            raise ValueError(f"{where}: {label} must be {s} x {s} to match b")
        if any(rows[i][j] != 0.0 for i in range(s) for j in range(i, s)):
            raise ValueError(f"{where}: {label} must be strictly lower triangular")
    for label, vector in (("c", tab.c), ("d", tab.d)):
        if len(vector) != s:
            raise ValueError(f"{where}: {label} must have {s} entries, got {len(vector)}")
    if tab.gamma <= 0.0:
        raise ValueError(f"{where}: gamma must be positive, got {tab.gamma}")
    if tab.order < 1:
        raise ValueError(f"{where}: order must be >= 1, got {tab.order}")
    if (tab.b_error is None) != (tab.error_order is None):
        raise ValueError(f"{where}: b_error and its order must be given together")
    if tab.b_error is not None and len(tab.b_error) != s:
        raise ValueError(f"{where}: b_error must have {s} entries, got {len(tab.b_error)}")
    if (tab.dense is None) != (tab.dense_order is None):
        raise ValueError(f"{where}: dense and dense_order must be given together")
    if tab.dense is not None and (len(tab.dense) != s or len({len(r) for r in tab.dense}) != 1):
        raise ValueError(f"{where}: dense must have {s} rows of equal length")


def from_original(name: str, gamma: float, alpha: Sequence[Sequence[Number]],
                  gamma_lower: Sequence[Sequence[Number]], b: Sequence[Number],
                  **kwargs: object) -> RosenbrockTableau:
    """The transformed tableau of a method published in the original form.

    `alpha` and `gamma_lower` are the strictly lower parts of alpha and Gamma
    (Gamma's diagonal is `gamma`); `b`, and ``b_error``/``dense`` in `kwargs`,
    are weights on the original ``k_i`` and are transformed likewise.
    """
    al = np.array(alpha, dtype=float)
    big_gamma = np.array(gamma_lower, dtype=float) + gamma * np.eye(len(al))
    inv = np.linalg.inv(big_gamma)
    for key in ("b_error", "dense"):
        if kwargs.get(key) is not None:
            kwargs[key] = (np.array(kwargs[key], dtype=float).T @ inv).T.tolist()
    return RosenbrockTableau(
        name, gamma, np.tril(al @ inv, -1), np.tril(np.eye(len(al)) / gamma - inv, -1),
        np.array(b, dtype=float) @ inv, c=al.sum(axis=1), d=big_gamma.sum(axis=1),
        **kwargs)  # type: ignore[arg-type]


def dense_from_h(b: Sequence[float], h: Sequence[Sequence[float]]) -> list[list[float]]:
    """Dense weights from the rows ``h_1..h_m`` of OrdinaryDiffEq.jl's ``H`` matrix.

    There ``y(theta) = (1 - theta) y0 + theta (y1 + (1 - theta)(H_1 U + theta (H_2 U +
    theta (... H_m U))))``, i.e. ``b(theta) = theta b + sum_k (theta^k - theta^(k+1)) h_k``.
    """
    s, m = len(b), len(h)
    out = [[0.0] * (m + 1) for _ in range(s)]
    for i in range(s):
        out[i][0] = float(b[i])
        for k in range(m):
            out[i][k] += h[k][i]
            out[i][k + 1] -= h[k][i]
    return out
