"""Butcher tableaus of Runge-Kutta methods: the class, its conventions and checks.

Conventions, shared by every step that reads a tableau:

- ``a`` is the s x s stage matrix, ``b`` the weights of the propagated solution
  and ``c`` the nodes: ``k_i = f(t + c_i dt, y + dt sum_j a_ij k_j)`` and
  ``y_new = y + dt sum_i b_i k_i``.
- ``b_error`` holds the weights of the *embedded* solution (b-hat), so the
  local error estimate is ``dt * sum_i (b_i - b_error_i) k_i``; ``error_order``
  is the order of the embedded solution.
- ``fsal``: the last stage is ``f(t + dt, y_new)`` (last row of ``a`` equals
  ``b`` and ``c[-1] == 1``), so it can be reused as the next step's first stage.
- ``dense[i]`` lists the coefficients of theta^1 .. theta^k of the polynomial
  ``b_i(theta)``, so ``y(t + theta dt) ~ y + dt sum_i b_i(theta) k_i`` with
  ``b_i(1) == b_i``; ``dense_order`` is the order of that continuous extension.

Coefficients may be given as exact rationals; they are converted to float at
construction.
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction as F

import attrs

Floats = tuple[float, ...]
Matrix = tuple[tuple[float, ...], ...]

_FSAL_TOL = 1e-14


def floats(values: Iterable[float | int | F]) -> Floats:
    """A tuple of floats from numbers (Fractions included)."""
    return tuple(float(v) for v in values)


def matrix(rows: Iterable[Iterable[float | int | F]]) -> Matrix:
    """A tuple of float tuples from nested numbers."""
    return tuple(floats(row) for row in rows)


def opt_floats(values: Iterable[float | int | F] | None) -> Floats | None:
    return None if values is None else floats(values)


def opt_matrix(rows: Iterable[Iterable[float | int | F]] | None) -> Matrix | None:
    return None if rows is None else matrix(rows)


class Weights:
    """What a tableau's weights give: `b`, the embedded `b_error` and the dense rows
    `dense[i]` (coefficients of theta, theta^2, ...) of the continuous extension."""

    name: str
    b: Floats
    b_error: Floats | None
    dense: tuple[Floats, ...] | None

    @property
    def adaptive(self) -> bool:
        """True when an embedded solution gives an error estimate."""
        return self.b_error is not None

    @property
    def error_weights(self) -> Floats | None:
        """``b - b_error``: the weights of the error estimate (on k_i, or on U_i)."""
        if self.b_error is None:
            return None
        return tuple(b - bh for b, bh in zip(self.b, self.b_error))

    def dense_weights(self, theta: float) -> Floats:
        """``b_i(theta)`` of the continuous extension."""
        if self.dense is None:
            raise ValueError(f"tableau {self.name!r} has no dense output")
        return tuple(sum(p * theta ** (k + 1) for k, p in enumerate(row))
                     for row in self.dense)


@attrs.frozen
class ButcherTableau(Weights):
    """A Runge-Kutta tableau; see the module docstring for the conventions.

    ``b_error2``/``error_order2`` hold a second embedded solution where a method
    combines two estimates (DOP853: the 3rd-order ``bhh`` weights).
    """

    name: str
    a: Matrix = attrs.field(converter=matrix)
    b: Floats = attrs.field(converter=floats)
    c: Floats = attrs.field(converter=floats)
    order: int
    b_error: Floats | None = attrs.field(default=None, converter=opt_floats)
    error_order: int | None = None
    fsal: bool = False
    dense: Matrix | None = attrs.field(default=None, converter=opt_matrix)
    dense_order: int | None = None
    b_error2: Floats | None = attrs.field(default=None, converter=opt_floats)
    error_order2: int | None = None

    def __attrs_post_init__(self) -> None:
        _validate(self)

    @property
    def stages(self) -> int:
        """Number of stages s."""
        return len(self.b)

    @property
    def is_explicit(self) -> bool:
        """True when ``a`` is strictly lower triangular."""
        return all(self.a[i][j] == 0.0 for i in range(self.stages)
                   for j in range(i, self.stages))



def _validate(tab: ButcherTableau) -> None:
    """Shape and consistency checks; raises ValueError naming the problem."""
    s = len(tab.b)
    where = f"tableau {tab.name!r}"
    if s == 0:
        raise ValueError(f"{where}: b must not be empty")
    if len(tab.a) != s or any(len(row) != s for row in tab.a):
        raise ValueError(f"{where}: a must be {s} x {s} to match b")
    if len(tab.c) != s:
        raise ValueError(f"{where}: c must have {s} entries, got {len(tab.c)}")
    if tab.order < 1:
        raise ValueError(f"{where}: order must be >= 1, got {tab.order}")
    for weights, order, label in ((tab.b_error, tab.error_order, "b_error"),
                                  (tab.b_error2, tab.error_order2, "b_error2")):
        if (weights is None) != (order is None):
            raise ValueError(f"{where}: {label} and its order must be given together")
        if weights is not None and len(weights) != s:
            raise ValueError(f"{where}: {label} must have {s} entries, got {len(weights)}")
    if (tab.dense is None) != (tab.dense_order is None):
        raise ValueError(f"{where}: dense and dense_order must be given together")
    if tab.dense is not None:
        if len(tab.dense) != s or len({len(row) for row in tab.dense}) != 1:
            raise ValueError(f"{where}: dense must have {s} rows of equal length")
    if tab.fsal:
        if not tab.is_explicit:
            raise ValueError(f"{where}: fsal requires an explicit tableau")
        if abs(tab.c[-1] - 1.0) > _FSAL_TOL or any(
                abs(x - y) > _FSAL_TOL for x, y in zip(tab.a[-1], tab.b)):
            raise ValueError(f"{where}: fsal requires c[-1] == 1 and a[-1] == b")


def lower(rows: list[list[float | int | F]]) -> list[list[float | int | F]]:
    """Pad ragged strictly-lower rows (row i has i entries) to an s x s matrix."""
    s = len(rows)
    return [list(row) + [0] * (s - len(row)) for row in rows]


def erk(name: str, rows: list[list[float | int | F]], **kwargs: object) -> ButcherTableau:
    """An explicit tableau from its ragged lower rows; checks explicitness."""
    tab = ButcherTableau(name, lower(rows), **kwargs)  # type: ignore[arg-type]
    if not tab.is_explicit:
        raise ValueError(f"tableau {name!r} must be strictly lower triangular")
    return tab
