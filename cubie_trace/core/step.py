"""Integrator steps: the `@ct.step` marker, carried-state declarations, status codes
and the registry of named methods.

A step's status is OK, retryable (`RETRYABLE`: the loop rejects the step and tries
again with a smaller dt) or fatal (any other code: the run ends with it).
"""

from __future__ import annotations

import enum
import inspect
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
    TERMINATED = 6  # a terminal event ended the run


OK = Status.OK
# How a run ends without failing: at the end of its span, or by a terminal event.
FINISHED = (Status.OK, Status.TERMINATED)

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
class Dense:
    """A step's continuous extension.

    `fn(f, t, dt, y, state)` takes the step as the step function does and also returns
    what the extension needs: `(y_new, error, state_new, status, data)`. `prepare(f, t,
    dt, y, y_new, data)`, if given, turns that data into `n_prepared` n-vectors of
    coefficients, once per step that holds save times (further evaluations of f are
    spent only there); `interpolate(coefficients, y, y_new, dt, theta)` is then the
    solution at `t + theta * dt` (0 <= theta <= 1), of order `order`.
    """

    fn: Callable[..., Any]
    interpolate: Callable[..., Any]
    order: int
    prepare: Callable[..., tuple] | None = None
    n_prepared: int = 0


@attrs.frozen
class Step:
    """A step function `step(f, t, dt, y, state) -> (y_new, error_or_None, state_new, status)`
    with its order, error order and carried-state declaration, and its continuous
    extension when it has one of its own (`dense`; the loop otherwise interpolates by
    cubic Hermite from the step's end points)."""

    fn: Callable[..., Any]
    order: int
    error_order: int | None = None
    state: StateSpec = attrs.field(factory=dict)
    name: str = ""
    implicit: bool = False
    init: Callable[..., dict] | None = None
    meta: dict[str, Any] = attrs.field(factory=dict)
    dense: Dense | None = None

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


_METHODS: dict[str, Callable[..., Step]] = {}
_ALIASES: dict[str, str] = {}

# Options a user may give an implicit method (`Solver(..., newton={...})`): the Newton
# iteration's settings, the linear solver's, and how the Newton matrix is handled.
METHOD_OPTIONS = ("newton", "linear", "jacobian")
JACOBIANS = ("dense", "matrix-free")


def register_method(name: str, factory: Callable[..., Step],
                    aliases: tuple[str, ...] = ()) -> None:
    """Make a step available by name; `factory(system_or_None, **options)` builds it, so a
    method may specialise itself to the system it integrates. An explicit method's factory
    takes the system alone; an implicit one's also takes the `METHOD_OPTIONS` it honours
    as keywords, each passed only when the user gave it."""
    _METHODS[name] = factory
    for alias in aliases:
        _ALIASES[alias] = name


def methods() -> list[str]:
    """Names of the registered methods."""
    return sorted(_METHODS)


def method_options(newton: dict | None = None, linear: dict | None = None,
                   jacobian: str | None = None) -> dict[str, Any]:
    """The method options the user gave (None: not given), checked for their types."""
    given: dict[str, Any] = {}
    for key, value in (("newton", newton), ("linear", linear)):
        if value is not None:
            if not isinstance(value, dict):
                raise TypeError(f"{key} options must be a dict, got {type(value).__name__}")
            given[key] = dict(value)
    if jacobian is not None:
        if jacobian not in JACOBIANS:
            raise ValueError(f"jacobian must be one of {JACOBIANS}, got {jacobian!r}")
        given["jacobian"] = jacobian
    return given


def get_method(method: str | Step, system: Any = None, **options: Any) -> Step:
    """The step for a method name (or alias), or `method` itself if it is a Step.

    `options` (`newton`, `linear`, `jacobian`; see `method_options`) go to the method's
    factory; a method that takes none of them (an explicit one, or a Step given as
    such) raises ValueError when given any.
    """
    unknown = sorted(set(options) - set(METHOD_OPTIONS))
    if unknown:
        raise ValueError(f"unknown method options {unknown}; the options are {METHOD_OPTIONS}")
    options = {key: value for key, value in options.items() if value is not None}
    if isinstance(method, Step):
        if options:
            raise ValueError(f"options {sorted(options)} apply to a method chosen by name, "
                             f"not to the step {method.name!r} given as such")
        return method
    if not isinstance(method, str):
        raise TypeError(f"method must be a name from ct.methods() or a @ct.step function, "
                        f"got {type(method).__name__}")
    key = _ALIASES.get(method.lower(), method.lower())
    if key not in _METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {methods()}")
    factory = _METHODS[key]
    taken = _accepted(factory)
    refused = sorted(name for name in options if name not in taken)
    if refused:
        raise ValueError(f"method {method!r} takes no option(s) {refused}"
                         + (f"; it takes {sorted(taken)}" if taken else
                            " (it is explicit: nothing to solve)"))
    return factory(system, **options)


def _accepted(factory: Callable[..., Step]) -> set[str]:
    """The method options a factory takes as keywords."""
    params = inspect.signature(factory).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return set(METHOD_OPTIONS)
    return {p.name for p in params if p.name in METHOD_OPTIONS}
