"""Events: functions g(t, y, p) of a run whose roots the loop locates.

After every accepted step the loop evaluates each event function at the step's end
and compares its sign with the one at the step's start. A sign change in the event's
`direction` (+1: g rising through zero, -1: falling, 0: either) is an occurrence; its
time is the root of g along the step's continuous extension (the dense output that
serves saves), found by the Illinois variant of regula falsi in a child program to a
few units of roundoff in t. Each event records the time and state of its first
`max_events` occurrences and counts them all. A terminal event (`terminal=k`) ends
its run at its k-th occurrence, with status TERMINATED and the state there; an
occurrence of another event later in that same step is not recorded.

One sign change per step is seen: an event function that crosses zero twice within
one step (an even number of times) is missed, so keep `dt_max` below the shortest
interval between roots where that can happen.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import attrs

from cubie_trace.core import ops

INF = float("inf")
NAN = float("nan")
MAX_ITERATIONS = 64  # regula falsi iterations per root; Illinois converges in far fewer
ROOT_ULPS = 4.0  # a root is located to this many units of roundoff of its time
DIRECTIONS = (-1, 0, 1)


def _occurrences(terminal: Any) -> int:
    if isinstance(terminal, bool):
        return int(terminal)
    if isinstance(terminal, int) and terminal >= 0:
        return terminal
    raise ValueError(f"terminal must be False, True or a number of occurrences, "
                     f"got {terminal!r}")


@attrs.frozen
class Event:
    """An event function `fn` (expression text over the system's names, a SymPy
    expression, or `fn(t, y, p[, d])` returning one expression, as `from_function`
    takes), the `direction` of the zero crossings that count, `terminal` (False; True
    or k: the run ends at the first or k-th occurrence) and its `name` (by default the
    expression text or the function's name)."""

    fn: Any
    direction: int = 0
    terminal: int = attrs.field(default=0, converter=_occurrences)
    name: str = attrs.field()

    @name.default
    def _name(self) -> str | None:
        if isinstance(self.fn, str):
            return self.fn
        return getattr(self.fn, "__name__", None)

    def __attrs_post_init__(self) -> None:
        if self.direction not in DIRECTIONS:
            raise ValueError(f"event {self.name!r}: direction must be one of {DIRECTIONS}, "
                             f"got {self.direction!r}")
        if not isinstance(self.name, str) or not self.name or self.name == "<lambda>":
            raise ValueError(f"event {self.fn!r}: give it a name (name=...)")


def checked(events: Sequence[Any], max_events: int) -> tuple[Event, ...]:
    """`events` as Events (a bare expression or function becomes one), named uniquely."""
    if isinstance(events, (Event, str)) or callable(events):
        events = [events]
    out = tuple(e if isinstance(e, Event) else Event(e) for e in events)
    names = [e.name for e in out]
    if len(set(names)) != len(names):
        raise ValueError(f"events: names repeat in {names}")
    if not isinstance(max_events, int) or isinstance(max_events, bool) or max_events < 1:
        raise ValueError(f"max_events must be a positive int, got {max_events!r}")
    return out


def initial(f: Any, t0: Any, y0: Any, events: tuple[Event, ...], max_events: int) -> dict:
    """The events' part of the loop's carry: g at the start, and per event its record
    (times and states of the first `max_events` occurrences, NaN until then) and count."""
    records = tuple({"t": ops.hint(ops.full(max_events, NAN), f"event_t_{i}"),
                     "y": ops.hint(ops.full((max_events, f.n), NAN), f"event_y_{i}"),
                     "count": 0} for i in range(len(events)))
    return {"g": ops.hint(f.events(t0, y0), "g"), "records": records}


def locate(g: Callable[[Any], Any], g_lo: Any, g_hi: Any, tol: Any) -> Any:
    """The root in [0, 1] of `g`, which has opposite signs `g_lo` at 0 and `g_hi` at 1
    (or is zero at 1), to within `tol`: Illinois regula falsi, which halves the value
    kept at an end chosen twice running, so both ends close in superlinearly."""
    def searching(s: dict) -> Any:
        return (s["n"] < MAX_ITERATIONS) & (s["hi"] - s["lo"] > tol) & (s["g"] != 0.0)

    def refine(s: dict) -> dict:
        lo, hi, g0, g1 = s["lo"], s["hi"], s["g_lo"], s["g_hi"]
        x = lo + (hi - lo) * g0 / (g0 - g1)
        x = ops.where((x > lo) & (x < hi), x, 0.5 * (lo + hi))
        gx = g(x)
        upper = gx * g1 > 0.0  # x replaces the end whose sign it shares
        g0 = ops.where(upper, g0, gx)
        g1 = ops.where(upper, gx, g1)
        return {"lo": ops.where(upper, lo, x), "hi": ops.where(upper, x, hi),
                "g_lo": ops.where(upper & (s["side"] == 1), 0.5 * g0, g0),
                "g_hi": ops.where(ops.logical_not(upper) & (s["side"] == -1), 0.5 * g1, g1),
                "side": ops.where(upper, 1, -1), "n": s["n"] + 1, "g": gx, "x": x}

    start = {"lo": 0.0, "hi": 1.0, "g_lo": g_lo, "g_hi": g_hi, "side": 0, "n": 0,
             "g": g_hi, "x": 1.0}
    return ops.while_loop(searching, refine, start)["x"]


def crossed(event: Event, g_old: Any, g_new: Any) -> Any:
    """Whether g went from `g_old` to `g_new` through zero in the event's direction."""
    rising = (g_old < 0.0) & (g_new >= 0.0)
    falling = (g_old > 0.0) & (g_new <= 0.0)
    return {1: rising, -1: falling, 0: rising | falling}[event.direction]


def after_step(f: Any, events: tuple[Event, ...], carry: dict, ok: Any, t: Any, dt: Any,
               g_new: Any, value_at: Callable[[Any], Any], eps: float
               ) -> tuple[dict, Any, Any]:
    """The events of an accepted step from t to t + dt, along `value_at(theta)` (the
    state at t + theta dt): the carry with their occurrences recorded, whether a
    terminal event stops the run, and the time it stops (infinite if none does)."""
    tol = ROOT_ULPS * eps * (1.0 + (ops.abs(t) + ops.abs(dt)) / ops.abs(dt))
    g_old, records = carry["g"], carry["records"]
    hits = [ok & crossed(event, g_old[i], g_new[i]) for i, event in enumerate(events)]
    thetas = [ops.cond(hit, lambda i=i: _root(f, i, t, dt, value_at, g_old[i], g_new[i], tol),
                       lambda: 1.0) for i, hit in enumerate(hits)]
    times = [(theta, t + theta * dt) for theta in thetas]
    t_stop = INF
    for event, hit, (_, t_root), record in zip(events, hits, times, records):
        if event.terminal:
            stops = hit & (record["count"] + 1 >= event.terminal)
            t_stop = ops.minimum(t_stop, ops.where(stops, t_root, INF))
    stop = t_stop < INF
    recorded = []
    for hit, (theta, t_root), record in zip(hits, times, records):
        def write(r: dict, theta: Any = theta, t_root: Any = t_root) -> dict:
            k = ops.minimum(r["count"], r["t"].shape[0] - 1)
            room = r["count"] < r["t"].shape[0]
            y_root = value_at(theta)
            return {"t": r["t"].at[k].set(ops.where(room, t_root, r["t"][k])),
                    "y": r["y"].at[k].set(ops.where(room, y_root, r["y"][k])),
                    "count": r["count"] + 1}

        recorded.append(ops.cond(hit & (t_root <= t_stop), write, lambda r: r, record))
    return {"g": ops.where(ok, g_new, g_old), "records": tuple(recorded)}, stop, t_stop


def _root(f: Any, i: int, t: Any, dt: Any, value_at: Callable[[Any], Any], g_lo: Any,
          g_hi: Any, tol: Any) -> Any:
    """Where event `i` crosses zero in the step, as a fraction of dt: a child program."""
    def g(theta: Any) -> Any:
        return f.events(t + theta * dt, value_at(theta))[i]

    return ops.function(lambda g0, g1: locate(g, g0, g1, tol), name=f"event_{i}")(g_lo, g_hi)


def outputs(events: tuple[Event, ...], carry: dict) -> dict[str, dict[str, Any]]:
    """The loop's output "events": per event name, its record (`t`, `y`, `count`)."""
    return {event.name: record for event, record in zip(events, carry["records"])}
