"""Forward sensitivities: the integration loop extended, by `ct.jvp`, with the derivative
of its saved states and final state with respect to chosen parameters and initial
values.

Each direction (a parameter, or a state's initial value) differentiates the traced loop
once: the loop's own arithmetic, steps, dense output and step-size control included, so
the sensitivities are those of the numerical solution the loop computes (internal
differentiation), and for an explicit Runge-Kutta method they are that method applied
to the variational equations dS/dt = J S + df/dp. The error control sees only the state
(CVODES's `errconS = False`); the sensitivities are as accurate as the steps the state
needed. Rosenbrock methods with a factored Jacobian differentiate exactly like explicit ones
(their LU solves are traced arithmetic). Iterative solves do not: a Newton or Krylov
iteration stops when the state has converged, before its tangent has, so
`check_method` refuses the methods that use one; they take the variational equations
as states instead (`cubie_trace.systems.variational`).
"""

from __future__ import annotations

from typing import Any

import attrs

from cubie_trace.core import counters, ops
from cubie_trace.core.jvp import jvp
from cubie_trace.core.program import Program
from cubie_trace.core.step import Step, resolve_state
from cubie_trace.core.system import SystemCalls
from cubie_trace.core.trace import trace
from cubie_trace.core.values import buffer, scalar


def directions(names: tuple[str, ...], state_names: tuple[str, ...],
               parameter_names: tuple[str, ...]) -> list[tuple[str, int, int]]:
    """(name, input, element) per sensitivity: input 0 is y0, 1 the parameters."""
    out = []
    for name in names:
        if name in parameter_names:
            out.append((name, 1, parameter_names.index(name)))
        elif name in state_names:
            out.append((name, 0, state_names.index(name)))
        else:
            raise ValueError(f"sensitivities: {name!r} is neither a parameter "
                             f"{list(parameter_names)} nor a state {list(state_names)}")
    if len(set(names)) != len(names):
        raise ValueError(f"sensitivities: names repeat in {list(names)}")
    return out


def check_method(step: Step, system: Any) -> None:
    """Refuse a step that solves by iteration (one that reports Newton or Krylov
    iterations): its derivative would stop converging with the state."""
    def stepped(t: Any, dt: Any, y: Any, state: dict, p: Any) -> Any:
        return step(SystemCalls(system, p), t, dt, y, state)

    found = counters.reported(stepped, scalar(), scalar(), buffer(system.n_states),
                              resolve_state(step.state, system.n_states),
                              buffer(system.n_parameters))
    iterative = [name for name in ("newton_iterations", "krylov_iterations") if name in found]
    if iterative:
        raise ValueError(f"sensitivities: method {step.name!r} solves by iteration "
                         f"({iterative[0].split('_')[0]}), which stops when the state has "
                         "converged and not its sensitivities; integrate them as states "
                         "(sensitivity_error_control=True), or use an explicit method or a "
                         "Rosenbrock method with jacobian='dense' (rodas4, rodas5p, ros3p, ...)")


def variational_spec(spec: Any, n: int, k: int) -> Any:
    """`spec` (a LoopSpec for n states) for the variational system of k directions: its
    saved states saved with their sensitivities (block by block), the summaries of the
    states alone."""
    every = tuple(range(n))
    saved = spec.saved_states
    if saved != ():
        chosen = every if saved is None else saved
        saved = tuple(block * n + i for block in range(k + 1) for i in chosen)
    summarised = every if spec.summarised is None else spec.summarised
    return attrs.evolve(spec, saved_states=saved, summarised=summarised)


def sensitivity_loop(loop: Program, chosen: list[tuple[str, int, int]]) -> Program:
    """`loop` with the output "sensitivities": per direction, the tangents of its saved
    states ("y", where it saves states) and of its final state ("y_final")."""
    def extended(*args: Any) -> dict[str, Any]:
        outputs: dict[str, Any] | None = None
        found: dict[str, Any] = {}
        for name, index, element in chosen:
            tangents: list[Any] = [None] * len(args)
            size = loop.inputs[index].aval.elements
            tangents[index] = ops.set_index(ops.zeros(size), element, 1.0)
            outs, touts = jvp(loop, args, tangents)
            outputs = outputs if outputs is not None else outs
            found[name] = {key: touts[key] for key in ("y", "y_final") if key in touts}
        assert outputs is not None
        return {**outputs, "sensitivities": found}

    program = trace(extended, *(v.aval for v in loop.inputs), name=f"{loop.name}_sensitivity")
    return program.replace(input_names=loop.input_names,
                           meta={**loop.meta, "sensitivities": [c[0] for c in chosen]})
