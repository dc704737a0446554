"""A system extended by its variational equations: the states y and, per chosen
direction (a parameter, or a state's initial value), the sensitivities
S = dy/d(direction), with dS/dt = J S + df/dp.

The new right-hand side is the system's own `rhs_tangent` (d f/dy along S, plus d f/dp
along the direction), so its Jacobian, its Newton matrices and its error estimate cover
the sensitivities like any other state: every method integrates it, and the step-size
control weighs the sensitivities too (CVODES's `errconS = True`, the simultaneous
corrector for implicit methods).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy as sp


def sensitivity_state(state: str, direction: str) -> str:
    """The name of the state holding d state / d direction."""
    return f"d_{state}__d_{direction}"


def variational_system(system: Any, chosen: list[tuple[str, int, int]]) -> Any:
    """`system` with the sensitivities of `chosen` ((name, 0 for a state or 1 for a
    parameter, index) per direction) as states after its own, direction by direction,
    starting from the identity columns of the initial values (`initial_sensitivities`)."""
    from cubie_trace.systems.ode_system import ODESystem

    if "rhs_tangent" not in system.functions:
        raise ValueError("sensitivities with error control need a system without drivers")
    if system.mass != sp.eye(system.n_states):
        raise ValueError("sensitivities with error control need an identity mass matrix")
    spec = system.definitions["rhs_tangent"]
    symbols = system.definitions.symbols
    y_dot, p_dot = symbols.operand("y_dot"), symbols.operand("p_dot")
    derivatives = dict(zip(system.state_names, system.derivatives))
    states = dict(zip(system.state_names, system.initial_values))
    for name, kind, index in chosen:
        columns = {s: sensitivity_state(s, name) for s in system.state_names}
        along = {symbols.operand("t_dot")[0]: 0,
                 **{d: sp.Symbol(columns[s]) for d, s in zip(y_dot, system.state_names)},
                 **{d: int(kind == 1 and k == index) for k, d in enumerate(p_dot)}}
        for state, expr in zip(system.state_names, spec.outputs):
            derivatives[columns[state]] = expr.xreplace(along)
            states[columns[state]] = 0.0
    return ODESystem(
        derivatives, states, dict(zip(system.parameter_names, system.default_parameters)),
        system.constants, dict(zip(system.observable_names, system.observable_expressions)),
        name=f"{system.name}_variational", units=system.units,
        descriptions=system.descriptions,
        events=dict(zip(system.event_names, system.event_expressions)))


def initial_sensitivities(y0: np.ndarray, chosen: list[tuple[str, int, int]]) -> np.ndarray:
    """The variational system's initial values for runs starting at `y0` (n_runs, n):
    S(0) is the unit column of a state's own direction and zero for a parameter's."""
    n_runs, n = y0.shape
    columns = [y0]
    for _, kind, index in chosen:
        column = np.zeros((n_runs, n))
        if kind == 0:
            column[:, index] = 1.0
        columns.append(column)
    return np.ascontiguousarray(np.concatenate(columns, axis=1))


def tolerances_per_block(options: tuple, k: int) -> tuple:
    """The loop's run-time options (`RunOptions.values`, rtol and atol per state first)
    for the variational system of k directions: each sensitivity gets its state's
    tolerances."""
    rtol, atol, *rest = options
    return (np.tile(rtol, k + 1), np.tile(atol, k + 1), *rest)


def split_outputs(outputs: dict, chosen: list[tuple[str, int, int]], n: int,
                  saved: int) -> dict:
    """The variational loop's outputs in the form the internally differentiated loop
    gives them: `y` and `y_final` of the system's states, and "sensitivities" (name ->
    `y` and `y_final` of its column), from saves of `saved` states per block."""
    out = dict(outputs)
    found: dict[str, dict[str, Any]] = {name: {} for name, _, _ in chosen}
    y_final = outputs["y_final"]
    out["y_final"] = y_final[..., :n]
    for k, (name, _, _) in enumerate(chosen):
        found[name]["y_final"] = y_final[..., n * (k + 1): n * (k + 2)]
    if "y" in outputs:
        y = outputs["y"]
        out["y"] = y[..., :saved]
        for k, (name, _, _) in enumerate(chosen):
            found[name]["y"] = y[..., saved * (k + 1): saved * (k + 2)]
    out["sensitivities"] = found
    return out
