"""The integration loop, traced: one Program for a whole run.

Inputs: `y0` (n), `p` (parameters), `d` (driver coefficients, if any), `t0`,
`t_end`, `dt0` (ignored when the loop picks its first step itself) and `ts`,
the save times (t_end last). The loop takes steps,
lands exactly on each save time, accepts or rejects by the controller,
records states (and observables) at every save time, accumulates summaries,
counts accepted and rejected steps and stops with a status code.

A step whose status is retryable (`cubie_trace.core.step.RETRYABLE`) is
rejected and tried again with `controller.retry_factor` times its dt; one
with any other non-OK status ends its run with that status. The step is traced
inside `counters.collect()`: what it reports with `ct.count` is summed per run
over accepted and rejected steps, always including `SOLVER_COUNTERS`.

Outputs: a dict with `y` (n_saves, n), `observables` (n_saves, n_obs) if the
system has any, `summaries` (n_windows, n_stats, n_vars) if requested,
`status`, `accepted`, `rejected` and `counters` (name -> int32 total).
"""

from __future__ import annotations

from typing import Any

import attrs

from cubie_trace.core import counters, ops
from cubie_trace.core.program import Program
from cubie_trace.core.step import Status, Step, is_retryable, resolve_state
from cubie_trace.core.system import SystemCalls, SystemLike
from cubie_trace.core.trace import trace
from cubie_trace.core.values import buffer, scalar
from cubie_trace.integrators.controllers import Controller
from cubie_trace.integrators.summaries import Summaries

LANDING = 1e-9  # a step within this relative distance of a save time lands on it
INF = float("inf")
SOLVER_COUNTERS = ("newton_iterations", "krylov_iterations")  # every loop carries these
RESERVED = ("accepted", "rejected")


@attrs.frozen
class LoopSpec:
    """What is compiled into the loop."""

    step: Step
    controller: Controller
    n_saves: int
    rtol: float = 1e-6
    atol: float = 1e-6
    max_steps: int = 100_000
    summaries: Summaries | None = None
    auto_dt: bool = False


def initial_step(f: Any, t0: Any, y0: Any, order: int, rtol: float, atol: float,
                 span: Any) -> Any:
    """Starting step size from two evaluations of f (Hairer, Norsett and Wanner, II.4)."""
    f0 = f(t0, y0)
    scale = atol + rtol * ops.abs(y0)
    d0, d1 = ops.rms_norm(y0, scale), ops.rms_norm(f0, scale)
    h0 = ops.where((d0 < 1e-5) | (d1 < 1e-5), 1e-6, 0.01 * d0 / ops.maximum(d1, 1e-300))
    h0 = ops.minimum(h0, span)
    f1 = f(t0 + h0, y0 + h0 * f0)
    d2 = ops.rms_norm(f1 - f0, scale) / h0
    largest = ops.maximum(d1, d2)
    h1 = ops.where(largest <= 1e-15, ops.maximum(1e-6, h0 * 1e-3),
                   (0.01 / ops.maximum(largest, 1e-300)) ** (1.0 / (order + 1)))
    return ops.minimum(ops.minimum(100.0 * h0, h1), span)


def build_loop(system: SystemLike, spec: LoopSpec) -> Program:
    """Trace the integration loop of `spec` for `system`."""
    step, ctrl = spec.step, spec.controller
    n, n_saves = system.n_states, spec.n_saves
    has_obs = "observables" in system.functions
    k_exp = min(step.order, step.error_order or step.order) + 1
    if ctrl.adaptive and step.error_order is None:
        raise ValueError(f"method {step.name!r} has no error estimate; use a fixed step "
                         "(controller='fixed' with dt)")
    context = [buffer(system.n_parameters)]
    if system.n_driver_coefficients:
        context.append(buffer(system.n_driver_coefficients))
    names = counter_names(step, system, context)

    def integrate(y0: Any, *args: Any) -> Any:
        *ctx, t0, t_end, dt0, ts = args
        f = SystemCalls(system, *ctx)
        if spec.auto_dt:
            dt0 = initial_step(f, t0, y0, step.order, spec.rtol, spec.atol, t_end - t0)

        def save(c: dict) -> dict:
            def pending(s: dict) -> Any:
                i = ops.minimum(s["isave"], n_saves - 1)
                return (s["isave"] < n_saves) & (ts[i] <= s["t"])

            def record(s: dict) -> dict:
                s = dict(s)
                s["ys"] = s["ys"].at[s["isave"]].set(s["y"])
                if has_obs:
                    s["obs"] = s["obs"].at[s["isave"]].set(f.observables(s["t"], s["y"]))
                if spec.summaries is not None:
                    s["summ"] = spec.summaries.update(s["summ"], s["y"], s["isave"])
                s["isave"] = s["isave"] + 1
                return s

            keys = ["isave", "t", "y", "ys", *(["obs"] if has_obs else []),
                    *(["summ"] if spec.summaries is not None else [])]
            out = ops.while_loop(pending, record, {key: c[key] for key in keys})
            return {**c, **out}

        carry: dict[str, Any] = {
            "t": t0, "dt": dt0, "y": y0, "state": step.initial_state(f, t0, y0),
            "ys": ops.zeros((n_saves, n)), "isave": 0, "accepted": 0, "rejected": 0,
            "status": int(Status.OK), "history": ctrl.initial_history(dt0),
            "counters": dict.fromkeys(names, 0)}
        if not ctrl.adaptive:
            carry["goal"] = INF
        if has_obs:
            carry["obs"] = ops.zeros((n_saves, len(system.observable_names)))
        if spec.summaries is not None:
            carry["summ"] = spec.summaries.initial(n)
        carry = save(carry)

        def running(c: dict) -> Any:
            return (c["status"] == int(Status.OK)) & (c["isave"] < n_saves)

        def advance(c: dict) -> dict:
            c = dict(c)
            t, dt, y = c["t"], c["dt"], c["y"]
            target = ts[ops.minimum(c["isave"], n_saves - 1)]
            if not ctrl.adaptive:
                target = ops.minimum(target, c["goal"])
            remaining = target - t
            hit = dt * (1.0 + LANDING) >= remaining
            dt_try = ops.where(hit, remaining, dt)
            with counters.collect() as counted:
                y_new, err, state_new, step_status = step(f, t, dt_try, y, c["state"])
            retry = is_retryable(step_status)
            failed = step_status != int(Status.OK)
            finite = ops.isfinite(ops.sum(y_new))
            if ctrl.adaptive:
                scale = spec.atol + spec.rtol * ops.maximum(ops.abs(y), ops.abs(y_new))
                norm = ops.rms_norm(err, scale)
                accept, dt_next, history = ctrl.propose(norm, dt_try, c["history"], k_exp)
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
            c["t"] = ops.where(ok, ops.where(hit, target, t + dt_try), t)
            c["y"] = ops.where(ok, y_new, y)
            c["state"] = {key: ops.where(ok, state_new[key], value)
                          for key, value in c["state"].items()}
            c["dt"] = dt_next
            c["accepted"] = c["accepted"] + ops.astype(ok, "int32")
            c["rejected"] = c["rejected"] + 1 - ops.astype(ok, "int32")
            c["counters"] = _add_counts(c["counters"], counted, step.name)
            c["status"] = _run_status(ctrl, spec.max_steps, step_status, retry, failed, finite,
                                      dt_next, c["accepted"] + c["rejected"])
            c = save(c)
            # A step that reached the last save time completes the run (only an accepted
            # step can): a limit hit on that very step (max_steps, dt_min) is no failure.
            c["status"] = ops.where(c["isave"] >= n_saves, int(Status.OK), c["status"])
            return c

        c = ops.while_loop(running, advance, carry)
        out = {"y": c["ys"], "status": c["status"], "accepted": c["accepted"],
               "rejected": c["rejected"], "counters": c["counters"]}
        if has_obs:
            out["observables"] = c["obs"]
        if spec.summaries is not None:
            out["summaries"] = spec.summaries.finish(c["summ"])
        return out

    program = trace(integrate, buffer(n), *context, scalar(), scalar(), scalar(),
                    buffer(n_saves), name=f"loop_{step.name}")
    program.input_names = ("y0", *("p", "d")[: len(context)], "t0", "t_end", "dt0", "ts")
    program.meta.update(kind="loop", method=step.name, n_saves=n_saves, n_states=n)
    return program


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
    return {name: total + counted.get(name, 0) for name, total in totals.items()}


def _run_status(ctrl: Controller, max_steps: int, step_status: Any, retry: Any, failed: Any,
                finite: Any, dt_next: Any, steps: Any) -> Any:
    """The run's status after a step: a fatal step status; else the step size falling
    below dt_min or max_steps reached, reported as the step's own status when a retryable
    failure led there; else a fixed step's non-finite state; else OK."""
    ok = int(Status.OK)
    status = ops.where(ops.logical_and(failed, ops.logical_not(retry)), step_status, ok)
    if not ctrl.adaptive:
        status = ops.where(ops.logical_or(finite, failed), status, int(Status.NONFINITE))
    under = dt_next < ctrl.dt_min
    if not ctrl.adaptive:  # a fixed step shrinks only to retry
        under = ops.logical_and(under, retry)
    limited = ops.where(retry, step_status, int(Status.DT_UNDERFLOW))
    status = ops.where(ops.logical_and(status == ok, under), limited, status)
    limited = ops.where(retry, step_status, int(Status.MAX_STEPS))
    return ops.where(ops.logical_and(status == ok, steps >= max_steps), limited, status)
