"""`ct.trace`: turn a step or any pure function over buffers into a Program."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cubie_trace.core.check import check_program
from cubie_trace.core.primitives import TracerError
from cubie_trace.core.program import Carried, Program
from cubie_trace.core.step import Step, get_method, resolve_state
from cubie_trace.core.system import SystemCalls, SystemLike
from cubie_trace.core.tracer import aval_of, trace_function
from cubie_trace.core.tree import flatten
from cubie_trace.core.values import Aval, buffer, scalar


def trace(fn: Callable | Step | str, *args: Any, system: SystemLike | None = None,
          name: str | None = None) -> Program:
    """Trace a step (a `@ct.step` function or a method name; needs `system`) or a
    general function `fn(*args)`, where each argument is an Aval (`ct.buffer(n)`,
    `ct.scalar()`), a number or an array giving its shape and dtype, or a nested
    tuple/list/dict of those. The program is checked (`check_program`) before it is
    returned."""
    if isinstance(fn, (Step, str)):
        if args:
            raise TypeError("trace: a step takes no example arguments; pass system=")
        if system is None:
            raise TypeError("trace: tracing a step needs system=, the ODE system it integrates")
        program = trace_step(get_method(fn, system), system)
        check_program(program)
        return program
    if not callable(fn):
        raise TypeError(f"trace: expected a function, a @ct.step or a method name, got {fn!r}")
    leaves, tree = flatten(list(args))
    avals = [aval_of(x) for x in leaves]
    program, _ = trace_function(fn, avals, tree, name or getattr(fn, "__name__", "program"),
                                root=True)
    program = program.replace(input_names=tuple(f"x{i}" for i in range(len(avals))))
    check_program(program)
    return program


def trace_step(step: Step, system: SystemLike) -> Program:
    """Trace `step` for `system`. Inputs: t, dt, y, the carried state, the parameters p
    and, for a system with drivers, the driver coefficients d. Outputs: y_new, the error
    estimate (adaptive steps), the new state and the status."""
    n = system.n_states
    state_avals = resolve_state(step.state, n)
    context = [buffer(system.n_parameters)]
    if system.n_driver_coefficients:
        context.append(buffer(system.n_driver_coefficients))
    in_args = (scalar(), scalar(), buffer(n), dict(state_avals), *context)
    leaves, tree = flatten(list(in_args))

    def stepped(t: Any, dt: Any, y: Any, state: dict, *ctx: Any) -> Any:
        out = step.fn(SystemCalls(system, *ctx), t, dt, y, state)
        if not isinstance(out, tuple) or len(out) != 4:
            raise TracerError(f"step {step.name!r} must return (y_new, error_or_None, state_new, "
                              f"status), got {type(out).__name__}")
        y_new, err, state_new, status = out
        _expect(step, "y_new", y_new, Aval((n,), "float"))
        if (err is None) != (step.error_order is None):
            raise TracerError(f"step {step.name!r}: returns an error estimate exactly when it "
                              f"declares error_order (error_order={step.error_order})")
        if err is not None:
            _expect(step, "error", err, Aval((n,), "float"))
        if not isinstance(state_new, dict) or list(state_new) != list(state_avals):
            raise TracerError(f"step {step.name!r}: state_new must be a dict with keys "
                              f"{list(state_avals)}, got {state_new!r}")
        for key, aval in state_avals.items():
            _expect(step, f"state_new[{key!r}]", state_new[key], aval)
        _expect(step, "status", status, Aval((), "int32"))
        return y_new, err, state_new, status

    program, _ = trace_function(stepped, [aval_of(a) for a in leaves], tree, step.name, root=True)
    keys = list(state_avals)
    n_out_state = len(program.outputs) - len(keys) - 1
    return program.replace(
        input_names=("t", "dt", "y", *keys, *("p", "d")[: len(context)]),
        output_names=("y_new", *(("error",) if step.error_order else ()),
                      *(f"{k}_new" for k in keys), "status"),
        carried=tuple(Carried(k, program.inputs[3 + i], program.outputs[n_out_state + i])
                      for i, k in enumerate(keys)),
        meta=dict(kind="step", order=step.order, error_order=step.error_order,
                  implicit=step.implicit, system=system.name, n_states=n,
                  n_parameters=system.n_parameters, **step.meta))


def _expect(step: Step, what: str, value: Any, aval: Aval) -> None:
    got = aval_of(value)
    same_float = got.dtype == "float" == aval.dtype or aval.dtype == "float" and \
        got.dtype in ("float32", "float64")
    if got.shape != aval.shape or not (same_float or got.dtype == aval.dtype):
        raise TracerError(f"step {step.name!r}: {what} must be {aval.short()}, got {got.short()}")
