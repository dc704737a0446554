"""The interface between traced steps and an ODE system.

An ODE system used in a trace provides `name`, `n_states`, `n_parameters`,
`n_driver_coefficients` (length of the driver-coefficient buffer shared by
all runs, 0 without drivers), `functions` (the names it can evaluate, "rhs"
first), `abstract(fn, avals)` (output avals) and `evaluate(fn, *arrays)`
(numpy outputs). Each evaluation is one `system` equation whose reads
(inputs) and writes (outputs) are explicit. Inside a step, `f(t, y)` is the
right-hand side and `f.<fn>(...)` the system's other functions
(`f.jvp(t, y, v)`, ...); the per-run parameters `p` (and the driver
coefficients `d`, where the system has drivers) are appended to every call's
operands.
"""

from __future__ import annotations

from typing import Any, Protocol

from cubie_trace.core.ops import apply


class SystemLike(Protocol):
    name: str
    n_states: int
    n_parameters: int
    n_driver_coefficients: int
    functions: tuple[str, ...]

    def abstract(self, fn: str, avals: list[Any]) -> list[Any]: ...

    def evaluate(self, fn: str, *args: Any) -> list[Any]: ...


class SystemCalls:
    """What a step sees as `f`: the system's functions bound to this run's parameters."""

    def __init__(self, system: SystemLike, *context: Any) -> None:
        self.system = system
        self.context = context

    @property
    def n(self) -> int:
        return self.system.n_states

    def __call__(self, t: Any, y: Any) -> Any:
        return self.call("rhs", t, y)

    def call(self, fn: str, *args: Any) -> Any:
        """Evaluate system function `fn` on `args` (p and d are appended)."""
        if fn not in self.system.functions:
            raise AttributeError(f"system {self.system.name!r} has no function {fn!r}; "
                                 f"it has {self.system.functions}")
        return apply("system", *args, *self.context, system=self.system, fn=fn)

    def __getattr__(self, fn: str) -> Any:
        if fn.startswith("_") or fn not in self.system.functions:
            raise AttributeError(fn)
        return lambda *args: self.call(fn, *args)
