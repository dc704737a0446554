"""Solver counters: integers a step reports to whoever traces it, without returning them.

A step (or a solver it calls) says `ct.count("newton_iterations", iters)`; the
integration loop traces the step inside `collect()` and sums what was counted
into its per-run statistics. A step that counts nothing is written as before,
and a step traced on its own (no collector) simply drops its counts. `reported`
finds the names a function counts by tracing it once, so a loop can carry one
total per name before it traces its body.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from cubie_trace.core import tracer as tr
from cubie_trace.core.primitives import TracerError
from cubie_trace.core.tree import flatten

_ACTIVE: contextvars.ContextVar[tuple[tuple[dict[str, Any], Any], ...]] = \
    contextvars.ContextVar("cubie_trace_counters", default=())


def count(name: str, value: Any) -> None:
    """Add `value` (an int32 scalar, traced or not) to the counter `name` of this step."""
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"count: the counter name must be an identifier, got {name!r}")
    stack = _ACTIVE.get()
    if not stack:
        return
    totals, builder = stack[-1]
    if isinstance(value, tr.Tracer):
        if value.builder is not builder:
            raise TracerError(
                f"count({name!r}): counters must be reported at the step's own level, not "
                "inside ct.cond / ct.while_loop / a ct.function child; return the count from "
                "there and report it after the call")
        if value.dtype != "int32" or value.shape != ():
            raise TracerError(f"count({name!r}): expected an int32 scalar, got "
                              f"{value.var.aval.short()}")
    elif not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"count({name!r}): expected an int or a traced int32 scalar, "
                        f"got {value!r}")
    totals[name] = totals[name] + value if name in totals else value


@contextmanager
def collect() -> Iterator[dict[str, Any]]:
    """Collect the counts reported while tracing in the current builder: name -> total."""
    totals: dict[str, Any] = {}
    token = _ACTIVE.set((*_ACTIVE.get(), (totals, tr.current())))
    try:
        yield totals
    finally:
        _ACTIVE.reset(token)


def reported(fn: Callable[..., Any], *args: Any) -> tuple[str, ...]:
    """The counters `fn(*args)` reports, in order of first report, from tracing it once
    on its own; `args` are Avals or nested containers of them."""
    names: list[str] = []

    def counted(*inputs: Any) -> Any:
        with collect() as totals:
            out = fn(*inputs)
        names.extend(totals)
        return out

    leaves, tree = flatten(list(args))
    tr.trace_function(counted, [tr.aval_of(a) for a in leaves], tree, "counters", root=True)
    return tuple(names)
