"""The cubic Hermite extension: dense output for a step without one of its own, from
the values and slopes at the step's two ends."""

from __future__ import annotations

from typing import Any

from cubie_trace.core import ops
from cubie_trace.core.step import Dense, Step


def hermite(y: Any, f0: Any, y_new: Any, f1: Any, dt: Any, theta: Any) -> Any:
    """The cubic Hermite interpolant of a step from its end values and slopes."""
    t2 = theta * theta
    t3 = t2 * theta
    return ((2.0 * t3 - 3.0 * t2 + 1.0) * y + (t3 - 2.0 * t2 + theta) * dt * f0
            + (3.0 * t2 - 2.0 * t3) * y_new + (t3 - t2) * dt * f1)


def hermite_extension(step: Step) -> Dense:
    """The cubic Hermite extension of a step without one of its own: f at both ends of
    a step that holds save times."""
    def fn(f: Any, t: Any, dt: Any, y: Any, state: dict) -> Any:
        return (*step(f, t, dt, y, state), ())

    def prepare(f: Any, t: Any, dt: Any, y: Any, y_new: Any, data: tuple) -> tuple:
        return f(t, y), f(t + dt, y_new)

    def interpolate(slopes: tuple, y: Any, y_new: Any, dt: Any, theta: Any) -> Any:
        return ops.hint(hermite(y, slopes[0], y_new, slopes[1], dt, theta), "y_dense")

    return Dense(fn, interpolate, 3, prepare=prepare, n_prepared=2)
