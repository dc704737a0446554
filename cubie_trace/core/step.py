"""Integrator steps: the `@ct.step` marker, carried-state declarations, status codes
and the registry of named methods.

A step's status is OK, retryable (`RETRYABLE`: the loop rejects the step and tries
again with a smaller dt) or fatal (any other code: the run ends with it).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any

import attrs

from cubie_trace.core import ops
from cubie_trace.core.values import Aval


class Status(enum.IntEnum):
    """Status codes of a step and of a run (int32 in programs)."""

    OK = 0
    MAX_STEPS = 1
    DT_UNDERFLOW = 2
    NONFINITE = 3
    NEWTON_FAILED = 4
    LINEAR_FAILED = 5


OK = Status.OK

# Outcomes after which the loop rejects the step and retries it with a smaller dt; any
# other non-OK status is fatal and ends the run.
RETRYABLE = (Status.NEWTON_FAILED, Status.LINEAR_FAILED)


def is_retryable(status: Any) -> Any:
    """Whether `status` (an int32, traced or not) asks for a retry with a smaller step."""
    return ops.logical_or(status == int(RETRYABLE[0]), status == int(RETRYABLE[1]))

StateSpec = dict[str, Any]


def resolve_state(spec: StateSpec, n: int) -> dict[str, Aval]:
    """Carried-state avals from a declaration; "n" stands for the number of states.

    Each entry is an Aval, `()` (a float scalar), an int or "n" (a buffer), or a
    tuple of ints and "n" (a stack).
    """
    out: dict[str, Aval] = {}
    for name, shape in spec.items():
        if not str(name).isidentifier():
            raise ValueError(f"state names must be identifiers, got {name!r}")
        if isinstance(shape, Aval):
            out[name] = shape
            continue
        dims = shape if isinstance(shape, tuple) else (shape,)
        resolved = tuple(n if d == "n" else d for d in dims)
        if not all(isinstance(d, int) for d in resolved):
            raise ValueError(f"state {name!r}: shape entries must be ints or 'n', got {shape!r}")
        out[name] = Aval(resolved, "float")
    return out


@attrs.frozen
class Step:
    """A step function `step(f, t, dt, y, state) -> (y_new, error_or_None, state_new, status)`
    with its order, error order and carried-state declaration."""

    fn: Callable[..., Any]
    order: int
    error_order: int | None = None
    state: StateSpec = attrs.field(factory=dict)
    name: str = ""
    implicit: bool = False
    init: Callable[..., dict] | None = None
    meta: dict[str, Any] = attrs.field(factory=dict)

    @property
    def adaptive(self) -> bool:
        return self.error_order is not None

    def __call__(self, f: Any, t: Any, dt: Any, y: Any, state: Any) -> Any:
        return self.fn(f, t, dt, y, state)

    def initial_state(self, f: Any, t: Any, y: Any) -> dict:
        """Carried state before the first step: `init(f, t0, y0)`, or zeros."""
        if self.init is not None:
            return self.init(f, t, y)
        avals = resolve_state(self.state, len(y))
        return {name: ops.zeros(aval.shape) for name, aval in avals.items()}


def step(order: int, error_order: int | None = None, state: StateSpec | None = None,
         name: str | None = None, implicit: bool = False,
         init: Callable[..., dict] | None = None) -> Callable[[Callable], Step]:
    """Mark a function as an integrator step with the given order(s) and carried state
    (`init(f, t0, y0)` gives its first value; zeros by default)."""
    if not isinstance(order, int) or order < 1:
        raise ValueError(f"order must be a positive int, got {order!r}")

    def wrap(fn: Callable) -> Step:
        return Step(fn, order, error_order, dict(state or {}), name or fn.__name__, implicit,
                    init)

    return wrap


_METHODS: dict[str, Callable[[Any], Step]] = {}
_ALIASES: dict[str, str] = {}


def register_method(name: str, factory: Callable[[Any], Step],
                    aliases: tuple[str, ...] = ()) -> None:
    """Make a step available by name; `factory(system_or_None)` builds it, so a method may
    specialise itself to the system it integrates."""
    _METHODS[name] = factory
    for alias in aliases:
        _ALIASES[alias] = name


def methods() -> list[str]:
    """Names of the registered methods."""
    return sorted(_METHODS)


def get_method(method: str | Step, system: Any = None) -> Step:
    """The step for a method name (or alias), or `method` itself if it is a Step."""
    if isinstance(method, Step):
        return method
    if not isinstance(method, str):
        raise TypeError(f"method must be a name from ct.methods() or a @ct.step function, "
                        f"got {type(method).__name__}")
    key = _ALIASES.get(method.lower(), method.lower())
    if key not in _METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {methods()}")
    return _METHODS[key](system)
