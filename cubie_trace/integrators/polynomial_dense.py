"""Continuous extensions whose weights are polynomials in theta over a step's stages.

`dense[i]` lists the coefficients of theta^1..theta^m in stage i's weight b_i(theta);
the solution inside the step is y + scale * sum_i b_i(theta) v_i, with v_i a stage
derivative and scale dt (Runge-Kutta) or a stage increment and scale 1 (Rosenbrock).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from cubie_trace.core import ops


def weighed(dense: Sequence[Sequence[float]]) -> list[int]:
    """The stages with a non-zero weight polynomial."""
    return [i for i, row in enumerate(dense) if any(c != 0.0 for c in row)]


def interpolant(dense: Sequence[Sequence[float]], times_dt: bool) -> Callable[..., Any]:
    """`interpolate(v, y, y_new, dt, theta)` for the weighed stages' `v` (in order)."""
    rows = [dense[i] for i in weighed(dense)]

    def interpolate(v: tuple, y: Any, y_new: Any, dt: Any, theta: Any) -> Any:
        increment = None
        for row, v_i in zip(rows, v):
            weight = 0.0
            for coeff in reversed(row):  # Horner in theta: sum_j row[j] theta^(j+1)
                weight = (weight + coeff) * theta
            term = ((dt * weight) if times_dt else weight) * v_i
            increment = term if increment is None else increment + term
        return ops.hint(y + increment, "y_dense")

    return interpolate
