"""The functions a system provides, symbolically: operands and output expressions.

Operands, in call order (`p`, and `d` for a system with drivers, are appended
by the step's `f`):

- `rhs(t, y, p[, d]) -> (n,)`
- `jvp(t, y, v, p[, d]) -> (n,)`: J v, J the Jacobian of rhs in y
- `jacobian(t, y, p[, d]) -> (n, n)`: row i is d rhs_i / d y
- `operator(t, y, v, gamma_h, p[, d]) -> (n,)`: M v - gamma_h J v
- `observables(t, y, p[, d]) -> (n_observables,)`, with observables
- `drivers(t, p, d) -> (n_drivers,)`, with drivers
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import sympy as sp


@attrs.frozen(eq=False)
class Symbols:
    """The symbols of a system and of the extra operands `v` and `gamma_h`."""

    t: sp.Symbol
    states: tuple[sp.Symbol, ...]
    parameters: tuple[sp.Symbol, ...]
    drivers: tuple[sp.Symbol, ...]
    v: tuple[sp.Symbol, ...] = attrs.field(init=False)
    gamma_h: sp.Symbol = attrs.field(init=False, factory=lambda: sp.Dummy("gamma_h", real=True))

    @v.default
    def _v(self) -> tuple[sp.Symbol, ...]:
        return tuple(sp.Dummy(f"v{i}", real=True) for i in range(len(self.states)))

    def operand(self, name: str) -> list[sp.Symbol]:
        """The symbols an operand carries (`d` carries the driver values)."""
        return {"t": [self.t], "y": list(self.states), "v": list(self.v),
                "gamma_h": [self.gamma_h], "p": list(self.parameters),
                "d": list(self.drivers)}[name]

    def code_names(self) -> dict[sp.Symbol, str]:
        """Each symbol's code in generated functions; driver k is the local `_u{k}`."""
        names = {self.t: "t", self.gamma_h: "gamma_h"}
        names.update({s: f"y[{i}]" for i, s in enumerate(self.states)})
        names.update({s: f"v[{i}]" for i, s in enumerate(self.v)})
        names.update({s: f"p[{i}]" for i, s in enumerate(self.parameters)})
        names.update({s: f"_u{i}" for i, s in enumerate(self.drivers)})
        return names


@attrs.frozen(eq=False)
class SystemFunction:
    """One function: operand names in call order, outputs (flat, row-major), shape."""

    name: str
    operands: tuple[str, ...]
    outputs: tuple[sp.Expr, ...]
    shape: tuple[int, ...]


def build_functions(symbols: Symbols, derivatives: Sequence[sp.Expr],
                    observables: Sequence[sp.Expr], mass: sp.Matrix) -> dict[str, SystemFunction]:
    """All functions of a system, "rhs" first."""
    n = len(symbols.states)
    context = ("p", "d") if symbols.drivers else ("p",)
    jac = sp.Matrix(derivatives).jacobian(list(symbols.states))
    jv = [sp.Add(*(jac[i, j] * symbols.v[j] for j in range(n) if jac[i, j] != 0))
          for i in range(n)]
    mv = mass * sp.Matrix(symbols.v)
    functions = [
        SystemFunction("rhs", ("t", "y", *context), tuple(derivatives), (n,)),
        SystemFunction("jvp", ("t", "y", "v", *context), tuple(jv), (n,)),
        SystemFunction("jacobian", ("t", "y", *context), tuple(jac), (n, n)),
        SystemFunction("operator", ("t", "y", "v", "gamma_h", *context),
                       tuple(mv[i] - symbols.gamma_h * jv[i] for i in range(n)), (n,)),
    ]
    if observables:
        functions.append(SystemFunction("observables", ("t", "y", *context),
                                        tuple(observables), (len(observables),)))
    if symbols.drivers:
        functions.append(SystemFunction("drivers", ("t", "p", "d"), symbols.drivers,
                                        (len(symbols.drivers),)))
    return {f.name: f for f in functions}
