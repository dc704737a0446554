"""cubie-trace: batch ODE integration from traced integrator steps with planned memory."""

from cubie_trace import solvers
from cubie_trace.core.check import IRError, check_program
from cubie_trace.core.counters import count
from cubie_trace.core.interpreter import interpret
from cubie_trace.core.jvp import jvp
from cubie_trace.core.ops import (
    abs,
    astype,
    cond,
    cos,
    dot,
    exp,
    floor,
    fori_loop,
    full,
    function,
    hint,
    isfinite,
    log,
    logical_and,
    logical_not,
    logical_or,
    max,
    max_abs,
    maximum,
    min,
    minimum,
    rms_norm,
    sin,
    sqrt,
    stack,
    sum,
    tan,
    tanh,
    tap,
    where,
    while_loop,
    zeros,
    zeros_like,
)
from cubie_trace.core.primitives import TracerError
from cubie_trace.core.program import Program
from cubie_trace.core.step import OK, Status, Step, methods, step
from cubie_trace.core.trace import trace
from cubie_trace.core.values import Aval, buffer, scalar
from cubie_trace.integrators import Controller  # importing it registers the methods
from cubie_trace.integrators.events import Event
from cubie_trace.layout import Layout, plan
from cubie_trace.solution import Solution
from cubie_trace.systems import ODESystem

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    # The batch API loads on first use, so importing the back end (which imports
    # cubie_trace.core) does not load the front end's Solver and its dependencies.
    if name in ("Solver", "solve_ivp"):
        from cubie_trace import solve

        return getattr(solve, name)
    raise AttributeError(f"module 'cubie_trace' has no attribute {name!r}")


__all__ = [
    "abs", "astype", "Aval", "buffer", "check_program", "cond", "Controller", "cos", "count",
    "dot", "Event", "exp", "floor",
    "fori_loop", "full", "function", "hint", "interpret", "IRError", "isfinite", "jvp", "Layout",
    "log",
    "logical_and", "logical_not", "logical_or", "max", "max_abs", "maximum", "methods", "min",
    "minimum", "ODESystem", "OK", "plan", "Program", "rms_norm", "scalar", "sin", "Solution",
    "solve_ivp", "Solver", "sqrt", "stack", "Status", "Step", "step", "sum", "tan", "tanh", "tap",
    "trace", "TracerError", "where", "while_loop", "zeros", "zeros_like",
    "solvers",
]
