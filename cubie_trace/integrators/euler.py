"""Explicit Euler: y_new = y + dt * f(t, y)."""

from __future__ import annotations

from typing import Any

from cubie_trace.core.step import OK, step


@step(order=1, name="euler")
def euler(f: Any, t: Any, dt: Any, y: Any, state: dict) -> Any:
    """One explicit Euler step (no error estimate)."""
    return y + dt * f(t, y), None, state, OK
