"""Checks of what users pass to `Solver` and `Solver.solve`, with messages that say
what to give instead."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def positive(name: str, value: Any) -> float:
    """`value` as a positive finite float."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a positive number, got {value!r}") from None
    if not (np.isfinite(number) and number > 0):
        raise ValueError(f"{name} must be positive and finite, got {value!r}")
    return number


def lane_count(lanes: Any) -> int | None:
    """`lanes` checked: None (chosen for the machine) or a positive int."""
    if lanes is None:
        return None
    if isinstance(lanes, bool) or not isinstance(lanes, (int, np.integer)) or lanes < 1:
        raise ValueError(f"lanes must be None or a positive int, got {lanes!r}")
    return int(lanes)


def tolerance(name: str, value: Any, n: int) -> Any:
    """A scalar tolerance as a float, one per state as a tuple."""
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a positive number or one per state ({n}), "
                        f"got {value!r}") from None
    if arr.ndim > 1 or (arr.ndim == 1 and arr.size != n):
        raise ValueError(f"{name} must be a positive number or one per state ({n}), "
                         f"got {value!r}")
    if not (np.all(np.isfinite(arr)) and np.all(arr > 0)):
        raise ValueError(f"{name} must be positive and finite, got {value!r}")
    return float(arr) if arr.ndim == 0 else tuple(float(v) for v in arr)


def indices(role: str, given: Sequence[str], known: Sequence[str]) -> tuple[int, ...]:
    """Positions of the `given` names among the `known` ones (saved states, observables)."""
    unknown = [name for name in given if name not in known]
    if unknown:
        raise ValueError(f"save: unknown {role} {unknown}")
    return tuple(list(known).index(name) for name in given)


def runs_backward(t_span: Any) -> bool:
    """Whether `t_span` runs backward (t_end < t0); malformed spans are left to
    `save_times` to refuse."""
    try:
        t0, t_end = (float(v) for v in t_span)
    except (TypeError, ValueError):
        return False
    return t_end < t0


def refuse(unknown: dict[str, Any]) -> None:
    """Raise for keywords `solve` does not take, saying where each belongs."""
    hints = {"args": "pass parameter values as parameters= (a dict by name or an array)",
             "method": "choose the method when making the Solver",
             "rtol": "set tolerances on the Solver (solver.replace(rtol=...))",
             "atol": "set tolerances on the Solver (solver.replace(atol=...))",
             "dense_output": "save times are served by dense output: give save_every or "
                             "save_at"}
    name = sorted(unknown)[0]
    raise TypeError(f"solve() got an unexpected keyword {name!r}"
                    + (f": {hints[name]}" if name in hints else ""))
