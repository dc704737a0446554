"""The integration loop, traced: one Program for a whole run.

Inputs (`LOOP_INPUTS`): `y0` (n), `p` (parameters), `d` (driver coefficients, if
any), `t0`, `ts` (the save times; the run ends at the last) and the run-time
options of `RunOptions`: `rtol` and `atol` (n each), `first_step` (0: chosen from
two evaluations of f), `dt_min`, `dt_max` and `max_steps`. Nothing of these is
compiled in, so one compiled loop serves every tolerance and span.

The loop takes steps, accepts or rejects them by the controller, records states
(and observables) at every save time, accumulates summaries, counts accepted and
rejected steps and stops with a status code. With `save_mode="dense"` a save time
inside a step is served by the step's continuous extension (its own, or a cubic
Hermite from the step's end points), so saves do not shorten steps; with "land"
each save time ends a step. Time is summed with compensation (Kahan), and a step
that ends within `LANDING` of the remaining distance, or within `ULPS` roundoff of
the target's magnitude in the loop's precision, lands on the target: fixed steps
of dt to t_end take ceil(t_end / dt) steps in float32 as in float64.

A step whose status is retryable (`cubie_trace.core.step.RETRYABLE`) is
rejected and tried again with `controller.retry_factor` times its dt; one
with any other non-OK status ends its run with that status, and so does a
non-finite state or error estimate (NONFINITE). The step is traced inside
`counters.collect()`: what it reports with `ct.count` is summed per run over
accepted and rejected steps, always including `SOLVER_COUNTERS`.

With events (`cubie_trace.integrators.events`) every accepted step is searched for
their zero crossings along the same continuous extension, and a terminal event
ends the run where it occurs.

Outputs: a dict with `y` (n_saves, n_saved), `observables` (n_saves, n_obs_saved)
if any are saved, `summaries` (statistic -> (n_windows, n_summarised)) if
requested, `events` (name -> `t` (max_events,), `y` (max_events, n), `count`) with
events, `t_final` and `y_final` (where the run stopped), `status`, `accepted`,
`rejected` and `counters` (name -> int32 total). Saves a run never reached are NaN.
"""

from __future__ import annotations

import functools
from typing import Any

import attrs
import numpy as np

from cubie_trace.core import counters, ops
from cubie_trace.core.program import Program
from cubie_trace.core.step import Status, Step, is_retryable, resolve_state
from cubie_trace.core.system import SystemCalls, SystemLike
from cubie_trace.core.trace import trace
from cubie_trace.core.values import buffer, epsilon, scalar
from cubie_trace.integrators import events as event_search
from cubie_trace.integrators.controllers import Controller
from cubie_trace.integrators.events import Event
from cubie_trace.integrators.hermite import hermite_extension
from cubie_trace.integrators.summaries import Summaries

LANDING = 1e-9  # a step within this relative distance of a save time lands on it...
ULPS = 4.0  # ... or within this many units of roundoff of the save time's magnitude
INF = float("inf")
NAN = float("nan")
SOLVER_COUNTERS = ("newton_iterations", "krylov_iterations")  # every loop carries these
RESERVED = ("accepted", "rejected")
SAVE_MODES = ("dense", "land")
OPTION_INPUTS = ("rtol", "atol", "first_step", "dt_min", "dt_max", "max_steps")


@attrs.frozen
class RunOptions:
    """What the compiled loop takes at run time: tolerances (a scalar or one per
    state), the first step (0: automatic), the step-size limits and the step budget."""

    rtol: Any = 1e-6
    atol: Any = 1e-6
    first_step: float = 0.0
    dt_min: float = 1e-12
    dt_max: float = INF
    max_steps: int = 100_000

    def values(self, n: int) -> tuple[Any, ...]:
        """The option inputs of a loop for `n` states, in `OPTION_INPUTS` order."""
        def per_state(name: str, value: Any) -> np.ndarray:
            arr = np.broadcast_to(np.asarray(value, dtype=float), (n,))
            return np.ascontiguousarray(arr)

        return (per_state("rtol", self.rtol), per_state("atol", self.atol),
                float(self.first_step), float(self.dt_min), float(self.dt_max),
                float(self.max_steps))


@attrs.frozen
class LoopSpec:
    """What is compiled into the loop: the step, the controller, the number of saves,
    the summaries, how saves are served, which states and observables are saved
    (indices; None: all; (): none, and no such output), which states summarised, the
    precision it is lowered for (its roundoff sets the landing tolerance), the events
    (of a system whose `events` function evaluates them, in order) and how many
    occurrences of each are recorded."""

    step: Step
    controller: Controller
    n_saves: int
    summaries: Summaries | None = None
    save_mode: str = "dense"
    saved_states: tuple[int, ...] | None = None
    saved_observables: tuple[int, ...] | None = None
    summarised: tuple[int, ...] | None = None
    precision: str = "float64"
    events: tuple[Event, ...] = ()
    max_events: int = 16

    def __attrs_post_init__(self) -> None:
        if self.save_mode not in SAVE_MODES:
            raise ValueError(f"save_mode must be one of {SAVE_MODES}, got {self.save_mode!r}")


def loop_inputs(system: SystemLike, y0: Any, p: Any, t0: float, ts: Any,
                options: RunOptions = RunOptions(), d: Any = None) -> list[Any]:
    """The loop's inputs in order, for evaluating it on one run."""
    context = [p] if not system.n_driver_coefficients else [p, d]
    return [y0, *context, t0, np.asarray(ts, dtype=float), *options.values(system.n_states)]


def initial_step(f: Any, t0: Any, y0: Any, order: int, rtol: Any, atol: Any,
                 span: Any) -> Any:
    """Starting step size from two evaluations of f (Hairer, Norsett and Wanner, II.4)."""
    f0 = ops.hint(f(t0, y0), "f0")
    scale = ops.hint(atol + rtol * ops.abs(y0), "scale")
    d0, d1 = ops.rms_norm(y0, scale), ops.rms_norm(f0, scale)
    h0 = ops.where((d0 < 1e-5) | (d1 < 1e-5), 1e-6, 0.01 * d0 / ops.maximum(d1, 1e-300))
    h0 = ops.minimum(h0, span)
    f1 = ops.hint(f(t0 + h0, ops.hint(y0 + h0 * f0, "y_euler")), "f1")
    d2 = ops.rms_norm(ops.hint(f1 - f0, "f_change"), scale) / h0
    largest = ops.maximum(d1, d2)
    h1 = ops.where(largest <= 1e-15, ops.maximum(1e-6, h0 * 1e-3),
                   ops.exp(ops.log(0.01 / ops.maximum(largest, 1e-300)) / (order + 1)))
    return ops.minimum(ops.minimum(100.0 * h0, h1), span)


def _pick(x: Any, indices: tuple[int, ...] | None) -> Any:
    """The entries `indices` of `x` as a buffer (all of `x` for None)."""
    if indices is None:
        return x
    picked = ops.zeros(len(indices))
    for j, i in enumerate(indices):
        picked = picked.at[j].set(x[i])
    return picked


def build_loop(system: SystemLike, spec: LoopSpec) -> Program:
    """Trace the integration loop of `spec` for `system`."""
    step, ctrl = spec.step, spec.controller
    n, n_saves = system.n_states, spec.n_saves
    n_obs = len(tuple(getattr(system, "observable_names", ()))
                if spec.saved_observables is None else spec.saved_observables)
    n_obs = n_obs if "observables" in system.functions else 0
    n_saved = n if spec.saved_states is None else len(spec.saved_states)
    n_summarised = n if spec.summarised is None else len(spec.summarised)
    events = spec.events
    # one save, at the end, lands anyway
    dense = spec.save_mode == "dense" and n_saves > 1
    extension = (step.dense or hermite_extension(step)) if dense or events else None
    k_exp = min(step.order, step.error_order or step.order) + 1
    if ctrl.adaptive and step.error_order is None:
        raise ValueError(f"method {step.name!r} has no error estimate; use a fixed step "
                         "(controller='fixed' with dt)")
    context = [buffer(system.n_parameters)]
    if system.n_driver_coefficients:
        context.append(buffer(system.n_driver_coefficients))
    names = counter_names(step, system, context)
    eps = epsilon(spec.precision)
    landing, slack = max(LANDING, ULPS * eps), ULPS * eps

    def integrate(y0: Any, *args: Any) -> Any:
        *ctx, t0, ts, rtol, atol, first_step, dt_min, dt_max, max_steps = args
        f = SystemCalls(system, *ctx)
        t_last = ts[n_saves - 1]
        if ctrl.adaptive:
            dt0 = ops.where(first_step > 0.0, first_step,
                            initial_step(f, t0, y0, step.order, rtol, atol, t_last - t0))
        else:
            dt0 = first_step

        def next_save(isave: Any) -> Any:
            """The save time after `isave` saves (infinite after the last): carried, so a
            step reads the save times only when it saves."""
            return ops.where(isave < n_saves, ts[ops.minimum(isave, n_saves - 1)], INF)

        def save(c: dict, t_stop: Any, value_at: Any) -> dict:
            """Record every save time up to `t_stop`, the state there from `value_at`."""
            def pending(s: dict) -> Any:
                return s["t_next"] <= t_stop

            def record(s: dict) -> dict:
                s = dict(s)
                t_save = s["t_next"]
                y_save = value_at(t_save)
                if n_saved:
                    s["ys"] = s["ys"].at[s["isave"]].set(_pick(y_save, spec.saved_states))
                if n_obs:
                    s["obs"] = s["obs"].at[s["isave"]].set(
                        _pick(f.observables(t_save, y_save), spec.saved_observables))
                if spec.summaries is not None:
                    s["summ"] = spec.summaries.update(s["summ"], _pick(y_save, spec.summarised),
                                                      s["isave"], t_save)
                s["isave"] = s["isave"] + 1
                s["t_next"] = next_save(s["isave"])
                return s

            keys = ["isave", "t_next", *(["ys"] if n_saved else []), *(["obs"] if n_obs else []),
                    *(["summ"] if spec.summaries is not None else [])]
            out = ops.while_loop(pending, record, {key: c[key] for key in keys})
            return {**c, **out}

        carry: dict[str, Any] = {
            "t": t0, "dt": dt0, "y": y0, "state": step.initial_state(f, t0, y0),
            "t_error": 0.0, "isave": 0, "t_next": ts[0], "accepted": 0, "rejected": 0,
            "status": int(Status.OK),
            "history": ctrl.initial_history(dt0), "counters": dict.fromkeys(names, 0)}
        if n_saved:
            carry["ys"] = ops.hint(ops.full((n_saves, n_saved), NAN), "ys")
        if not ctrl.adaptive:
            carry["goal"] = INF
        if n_obs:
            carry["obs"] = ops.hint(ops.full((n_saves, n_obs), NAN), "observables")
        if spec.summaries is not None:
            carry["summ"] = spec.summaries.initial(n_summarised)
        if events:
            carry["events"] = event_search.initial(f, t0, y0, events, spec.max_events)
        carry = save(carry, t0, lambda _: y0)

        def running(c: dict) -> Any:
            return (c["status"] == int(Status.OK)) & (c["isave"] < n_saves)

        def advance(c: dict) -> dict:
            c = dict(c)
            t, dt, y = c["t"], c["dt"], ops.hint(c["y"], "y")
            target = t_last if dense else c["t_next"]
            if not ctrl.adaptive:
                target = ops.minimum(target, c["goal"])
            # t is summed with compensation (Kahan): t_error is what its rounding lost
            remaining = (target - t) - c["t_error"]
            hit = dt * (1.0 + landing) + slack * ops.abs(target) >= remaining
            dt_try = ops.where(hit, remaining, dt)
            with counters.collect() as counted:
                if extension is not None:
                    y_new, err, state_new, step_status, data = extension.fn(
                        f, t, dt_try, y, c["state"])
                else:
                    y_new, err, state_new, step_status = step(f, t, dt_try, y, c["state"])
            retry = is_retryable(step_status)
            failed = step_status != int(Status.OK)
            finite = ops.isfinite(ops.sum(y_new))
            if ctrl.adaptive:
                scale = atol + rtol * ops.maximum(ops.abs(y), ops.abs(y_new))
                norm = ops.rms_norm(err, scale)
                finite = finite & ops.isfinite(norm)
                accept, dt_next, history = ctrl.propose(norm, dt_try, c["history"], k_exp,
                                                        dt_max)
                dt_next = ops.where(accept & hit, ops.maximum(dt_next, dt), dt_next)
                c["history"] = tuple(ops.where(retry, old, new)
                                     for old, new in zip(c["history"], history))
            else:
                # sub-steps after a retry run to the end of the step that failed (or to a
                # save time); landing there restores the nominal step dt0
                accept, dt_next = True, ops.where(hit, dt0, dt)
                c["goal"] = ops.where(retry, ops.where(c["goal"] < INF, c["goal"], t + dt_try),
                                      ops.where(hit, INF, c["goal"]))
            dt_next = ops.where(retry, ctrl.retry(dt_try), dt_next)
            ok = ops.logical_and(accept & finite, ops.logical_not(failed))
            increment = dt_try + c["t_error"]
            summed = t + increment
            t_new = ops.where(hit, target, summed)
            c["t_error"] = ops.where(ok, ops.where(hit, 0.0, increment - (summed - t)),
                                     c["t_error"])
            c["t"] = ops.where(ok, t_new, t)
            c["y"] = ops.where(ok, y_new, y)
            c["state"] = {key: ops.where(ok, state_new[key], value)
                          for key, value in c["state"].items()}
            c["dt"] = dt_next
            c["accepted"] = c["accepted"] + ops.astype(ok, "int32")
            c["rejected"] = c["rejected"] + 1 - ops.astype(ok, "int32")
            c["counters"] = _add_counts(c["counters"], counted, step.name)
            c["status"] = _run_status(ctrl, max_steps, dt_min, step_status, retry, failed,
                                      finite, dt_next, c["accepted"] + c["rejected"])
            if extension is not None:
                coeffs = data
                if events:
                    g_new = ops.hint(f.events(t_new, y_new), "g_new")
                    found = [event_search.crossed(e, c["events"]["g"][i], g_new[i])
                             for i, e in enumerate(events)]
                    hit = ok & functools.reduce(ops.logical_or, found)
                else:
                    hit = False
                if extension.prepare is not None:  # only for a step that holds saves
                    inside = ok & (c["t_next"] <= t_new) if dense else False
                    zero = ops.zeros(n)
                    coeffs = ops.cond(
                        ops.logical_or(inside, hit),
                        lambda: extension.prepare(f, t, dt_try, y, y_new, data),
                        lambda: (zero,) * extension.n_prepared)

                def value_at(theta: Any) -> Any:
                    return extension.interpolate(coeffs, y, y_new, dt_try, theta)

                if events:
                    c["events"], stop, t_stop = event_search.after_step(
                        f, events, c["events"], ok, t, dt_try, g_new, value_at, eps)
                    c["t"] = ops.where(stop, t_stop, c["t"])
                    c["y"] = ops.cond(stop, lambda: value_at((t_stop - t) / dt_try),
                                      lambda: c["y"])
            if dense:
                c = save(c, c["t"], lambda t_save: value_at((t_save - t) / dt_try))
            else:
                c = save(c, c["t"], lambda _: c["y"])
            # A step that reached the last save time completes the run (only an accepted
            # step can): a limit hit on that very step (max_steps, dt_min) is no failure.
            c["status"] = ops.where(c["isave"] >= n_saves, int(Status.OK), c["status"])
            if events:
                c["status"] = ops.where(stop, int(Status.TERMINATED), c["status"])
            return c

        c = ops.while_loop(running, advance, carry)
        out = {"t_final": c["t"], "y_final": c["y"], "status": c["status"],
               "accepted": c["accepted"], "rejected": c["rejected"],
               "counters": c["counters"]}
        if n_saved:
            out["y"] = c["ys"]
        if n_obs:
            out["observables"] = c["obs"]
        if spec.summaries is not None:
            out["summaries"] = spec.summaries.finish(c["summ"])
        if events:
            out["events"] = event_search.outputs(events, c["events"])
        return out

    program = trace(integrate, buffer(n), *context, scalar(), buffer(n_saves), buffer(n),
                    buffer(n), scalar(), scalar(), scalar(), scalar(), name=f"loop_{step.name}")
    return program.replace(
        input_names=("y0", *("p", "d")[: len(context)], "t0", "ts", *OPTION_INPUTS),
        meta={**program.meta, "kind": "loop", "method": step.name, "n_saves": n_saves,
              "n_states": n})


def counter_names(step: Step, system: SystemLike, context: list[Any]) -> tuple[str, ...]:
    """The loop's counters: the solver counters, then the others `step` reports."""
    def stepped(t: Any, dt: Any, y: Any, state: dict, *ctx: Any) -> Any:
        return step(SystemCalls(system, *ctx), t, dt, y, state)

    found = counters.reported(stepped, scalar(), scalar(), buffer(system.n_states),
                              resolve_state(step.state, system.n_states), *context)
    clash = [name for name in found if name in RESERVED]
    if clash:
        raise ValueError(f"step {step.name!r}: counter names {clash} are taken by the "
                         f"loop's own statistics {RESERVED}")
    return (*SOLVER_COUNTERS, *(name for name in found if name not in SOLVER_COUNTERS))


def _add_counts(totals: dict[str, Any], counted: dict[str, Any], step_name: str) -> dict:
    unknown = set(counted) - set(totals)
    if unknown:
        raise ValueError(f"step {step_name!r} reported counters {sorted(unknown)} only in "
                         "some traces; report every counter on every trace (count 0)")
    # a counter the step left at a literal 0 stays the carried value (no add to carry)
    return {name: total if isinstance(counted.get(name, 0), int) and counted.get(name, 0) == 0
            else total + counted[name] for name, total in totals.items()}


def _run_status(ctrl: Controller, max_steps: Any, dt_min: Any, step_status: Any, retry: Any,
                failed: Any, finite: Any, dt_next: Any, steps: Any) -> Any:
    """The run's status after a step: a fatal step status; else a non-finite state or
    error estimate; else the step size falling below dt_min or max_steps reached,
    reported as the step's own status when a retryable failure led there; else OK."""
    ok = int(Status.OK)
    status = ops.where(ops.logical_and(failed, ops.logical_not(retry)), step_status, ok)
    status = ops.where(ops.logical_or(finite, failed), status, int(Status.NONFINITE))
    under = dt_next < dt_min
    if not ctrl.adaptive:  # a fixed step shrinks only to retry
        under = ops.logical_and(under, retry)
    limited = ops.where(retry, step_status, int(Status.DT_UNDERFLOW))
    status = ops.where(ops.logical_and(status == ok, under), limited, status)
    limited = ops.where(retry, step_status, int(Status.MAX_STEPS))
    return ops.where(ops.logical_and(status == ok, steps >= max_steps), limited, status)
