"""`ODESystem`: an ODE right-hand side built from SymPy expressions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import sympy as sp

from cubie_trace.core.values import Aval


class ODESystem:
    """dy/dt = f(t, y, p) with named states and parameters."""

    def __init__(self, name: str, states: Mapping[str, float], parameters: Mapping[str, float],
                 derivatives: Mapping[str, sp.Expr]) -> None:
        self.name = name
        self.state_names = tuple(states)
        self.parameter_names = tuple(parameters)
        self.initial_values = np.array([float(v) for v in states.values()])
        self.default_parameters = np.array([float(v) for v in parameters.values()])
        self.t = sp.Symbol("t")
        self.state_symbols = [sp.Symbol(n) for n in self.state_names]
        self.parameter_symbols = [sp.Symbol(n) for n in self.parameter_names]
        self.rhs_exprs = [sp.sympify(derivatives[n]) for n in self.state_names]
        self.functions = ("rhs",)
        self.n_driver_coefficients = 0
        self._rhs = sp.lambdify((self.t, self.state_symbols, self.parameter_symbols),
                                self.rhs_exprs, "numpy")

    @property
    def n_states(self) -> int:
        return len(self.state_names)

    @property
    def n_parameters(self) -> int:
        return len(self.parameter_names)

    @classmethod
    def from_equations(cls, equations: Sequence[str] | str, states: Mapping[str, float],
                       parameters: Mapping[str, float] | None = None,
                       name: str = "system") -> ODESystem:
        """Build a system from lines like `"dx = sigma*(y - x)"`."""
        parameters = dict(parameters or {})
        lines = equations.splitlines() if isinstance(equations, str) else list(equations)
        local = {n: sp.Symbol(n) for n in [*states, *parameters, "t"]}
        derivatives: dict[str, sp.Expr] = {}
        for line in (raw.strip() for raw in lines):
            if not line:
                continue
            lhs, _, rhs = line.partition("=")
            target = lhs.strip()[1:]
            if not lhs.strip().startswith("d") or target not in states:
                raise ValueError(f"equation {line!r}: left side must be d<state>")
            derivatives[target] = sp.sympify(rhs, locals=local)
        missing = [s for s in states if s not in derivatives]
        if missing:
            raise ValueError(f"states without a derivative: {missing}")
        return cls(name, states, parameters, derivatives)

    def abstract(self, fn: str, avals: list[Aval]) -> list[Aval]:
        """Output avals of `fn` applied to `avals` (t, y, p)."""
        t, y, p = avals
        if not t.is_scalar or y.shape != (self.n_states,) or p.shape != (self.n_parameters,):
            raise ValueError(f"{self.name}.{fn}: expected (t, y[{self.n_states}], "
                             f"p[{self.n_parameters}]), got {[a.short() for a in avals]}")
        return [Aval((self.n_states,), "float")]

    def evaluate(self, fn: str, t: Any, y: Any, p: Any) -> list[np.ndarray]:
        """Numpy value of `fn` at (t, y, p)."""
        out = np.array(self._rhs(t, list(y), list(p)), dtype=np.result_type(y, float))
        return [np.broadcast_to(out, (self.n_states,)).copy()]
