"""The functions a system provides, symbolically: operands and output expressions,
each derived (SymPy differentiation) only when first asked for.

Operands, in call order (`p`, and `d` for a system with drivers, are appended
by the step's `f`):

- `rhs(t, y, p[, d]) -> (n,)`
- `jvp(t, y, v, p[, d]) -> (n,)`: J v, J the Jacobian of rhs in y
- `jacobian(t, y, p[, d]) -> (n, n)`: row i is d rhs_i / d y
- `jacobian_diagonal(t, y, p[, d]) -> (n,)`: d rhs_i / d y_i
- `jacobian_nonzeros(t, y, p[, d]) -> (nnz,)`: the entries of J on its structural
  pattern (`Functions.pattern`: rhs_i has a nonzero derivative in y_j), row-major
- `dfdt(t, y, p) -> (n,)`: d rhs / d t, for systems without drivers (whose time
  derivatives the interpolants do not provide)
- `operator(t, y, v, gamma_h, p[, d]) -> (n,)`: M v - gamma_h J v
- `observables(t, y, p[, d]) -> (n_observables,)`, with observables
- `events(t, y, p[, d]) -> (n_events,)`: the event functions, whose roots the loop
  locates (`cubie_trace.integrators.events`), with events
- `<fn>_tangent(t, y, t_dot, v, p_dot, p) -> (size of fn,)` for rhs, observables and
  events: the directional derivative d fn/dt t_dot + d fn/dy v + d fn/dp p_dot, for
  systems without drivers (forward-mode derivatives through system calls, `ct.jvp`)
- `drivers(t, p, d) -> (n_drivers,)`, with drivers

Every Jacobian-based function reads the Jacobian's structural entries, taken
once, only where rhs_i depends on y_j, so a sparse system never pays for n^2
derivatives.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence

import attrs
import numpy as np
import sympy as sp

SCALAR_OPERANDS = ("t", "gamma_h", "t_dot")


@attrs.frozen(eq=False)
class Symbols:
    """The symbols of a system and of the extra operands `v` and `gamma_h`."""

    t: sp.Symbol
    states: tuple[sp.Symbol, ...]
    parameters: tuple[sp.Symbol, ...]
    drivers: tuple[sp.Symbol, ...]
    v: tuple[sp.Symbol, ...] = attrs.field(init=False)
    gamma_h: sp.Symbol = attrs.field(init=False, factory=lambda: sp.Dummy("gamma_h", real=True))
    t_dot: sp.Symbol = attrs.field(init=False, factory=lambda: sp.Dummy("t_dot", real=True))
    p_dot: tuple[sp.Symbol, ...] = attrs.field(init=False)

    @v.default
    def _v(self) -> tuple[sp.Symbol, ...]:
        return tuple(sp.Dummy(f"v{i}", real=True) for i in range(len(self.states)))

    @p_dot.default
    def _p_dot(self) -> tuple[sp.Symbol, ...]:
        return tuple(sp.Dummy(f"p_dot{i}", real=True) for i in range(len(self.parameters)))

    def operand(self, name: str) -> list[sp.Symbol]:
        """The symbols an operand carries (`d` carries the driver values)."""
        return {"t": [self.t], "y": list(self.states), "v": list(self.v),
                "gamma_h": [self.gamma_h], "p": list(self.parameters),
                "d": list(self.drivers), "t_dot": [self.t_dot],
                "p_dot": list(self.p_dot)}[name]

    def code_names(self, element: Callable[[str, int], str] | None = None
                   ) -> dict[sp.Symbol, str]:
        """Each symbol's code in generated functions: `element(operand, index)` (by
        default `operand[index]`, `t` and `gamma_h` by name); driver k is the local `_u{k}`."""
        def code(operand: str, index: int) -> str:
            if element is not None:
                return element(operand, index)
            return operand if operand in SCALAR_OPERANDS else f"{operand}[{index}]"

        names = {self.t: code("t", 0), self.gamma_h: code("gamma_h", 0),
                 self.t_dot: code("t_dot", 0)}
        for operand, symbols in (("y", self.states), ("v", self.v), ("p", self.parameters),
                                 ("p_dot", self.p_dot)):
            names.update({s: code(operand, i) for i, s in enumerate(symbols)})
        names.update({s: f"_u{i}" for i, s in enumerate(self.drivers)})
        return names


@attrs.frozen(eq=False)
class SystemFunction:
    """One function: operand names in call order, outputs (flat, row-major), shape."""

    name: str
    operands: tuple[str, ...]
    outputs: tuple[sp.Expr, ...]
    shape: tuple[int, ...]


# operands before the context (p[, d]) the step's f appends
OPERANDS = {"rhs": ("t", "y"), "jvp": ("t", "y", "v"), "jacobian": ("t", "y"),
            "jacobian_diagonal": ("t", "y"), "jacobian_nonzeros": ("t", "y"),
            "dfdt": ("t", "y"), "operator": ("t", "y", "v", "gamma_h"),
            "observables": ("t", "y"), "events": ("t", "y")}
TANGENT_OPERANDS = ("t", "y", "t_dot", "v", "p_dot")
DIFFERENTIABLE = ("rhs", "observables", "events")  # the functions with a `_tangent`


class Functions(Mapping[str, SystemFunction]):
    """A system's functions by name, each built on first access; `built` lists what
    has been derived so far, in order ("jacobian_pattern" once the Jacobian's
    entries were taken)."""

    def __init__(self, symbols: Symbols, derivatives: Sequence[sp.Expr],
                 observables: Sequence[sp.Expr], mass: sp.Matrix,
                 events: Sequence[sp.Expr] = ()) -> None:
        self.symbols, self.derivatives = symbols, tuple(derivatives)
        self.observables, self.mass = tuple(observables), mass
        self.events = tuple(events)
        given = ("rhs", *(("observables",) if observables else ()),
                 *(("events",) if events else ()))
        self.names = ("rhs", "jvp", "jacobian", "jacobian_diagonal", "jacobian_nonzeros",
                      *(() if symbols.drivers else ("dfdt",)), "operator", *given[1:],
                      *(() if symbols.drivers else tuple(f"{fn}_tangent" for fn in given)),
                      *(("drivers",) if symbols.drivers else ()))
        self.built: list[str] = []
        self._cache: dict[str, SystemFunction] = {}
        self._entries: dict[tuple[int, int], sp.Expr] | None = None
        self._lock = threading.RLock()  # traces in several threads build each function once

    def __getitem__(self, name: str) -> SystemFunction:
        if name not in self.names:
            raise KeyError(name)
        with self._lock:
            if name not in self._cache:
                self._cache[name] = self._build(name)
                self.built.append(name)
        return self._cache[name]

    def _build(self, name: str) -> SystemFunction:
        if name == "drivers":
            operands, outputs = ("t", "p", "d"), self.symbols.drivers
        elif name.endswith("_tangent"):
            of = self[name.removesuffix("_tangent")]
            operands, outputs = (*TANGENT_OPERANDS, "p"), self._tangent(of.outputs)
            return SystemFunction(name, operands, tuple(outputs), of.shape)
        else:
            context = ("p", "d") if self.symbols.drivers else ("p",)
            operands, outputs = (*OPERANDS[name], *context), getattr(self, f"_{name}")()
        shape = (self.n, self.n) if name == "jacobian" else (len(outputs),)
        return SystemFunction(name, operands, tuple(outputs), shape)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)

    @property
    def n(self) -> int:
        return len(self.symbols.states)

    @property
    def entries(self) -> dict[tuple[int, int], sp.Expr]:
        """The Jacobian's structural nonzeros, (row, column) -> derivative, row-major."""
        with self._lock:
            if self._entries is None:
                index = {s: j for j, s in enumerate(self.symbols.states)}
                entries = {}
                for i, f in enumerate(self.derivatives):
                    for j in sorted(index[s] for s in f.free_symbols if s in index):
                        derivative = sp.diff(f, self.symbols.states[j])
                        if derivative != 0:
                            entries[i, j] = derivative
                self._entries = entries
                self.built.append("jacobian_pattern")
        return self._entries

    @property
    def pattern(self) -> np.ndarray:
        """(n, n) bool: where the Jacobian has a structural nonzero."""
        mask = np.zeros((self.n, self.n), dtype=bool)
        for i, j in self.entries:
            mask[i, j] = True
        return mask

    def _rhs(self) -> tuple[sp.Expr, ...]:
        return self.derivatives

    def _jv(self, v: Sequence[sp.Symbol]) -> list[sp.Expr]:
        rows: list[list[sp.Expr]] = [[] for _ in range(self.n)]
        for (i, j), derivative in self.entries.items():
            rows[i].append(derivative * v[j])
        return [sp.Add(*row) for row in rows]

    def _jvp(self) -> list[sp.Expr]:
        return self._jv(self.symbols.v)

    def _jacobian(self) -> list[sp.Expr]:
        dense = [sp.S.Zero] * (self.n * self.n)
        for (i, j), derivative in self.entries.items():
            dense[i * self.n + j] = derivative
        return dense

    def _jacobian_diagonal(self) -> list[sp.Expr]:
        return [self.entries.get((i, i), sp.S.Zero) for i in range(self.n)]

    def _jacobian_nonzeros(self) -> list[sp.Expr]:
        return list(self.entries.values())

    def _dfdt(self) -> list[sp.Expr]:
        return [sp.diff(f, self.symbols.t) for f in self.derivatives]

    def _tangent(self, outputs: Sequence[sp.Expr]) -> list[sp.Expr]:
        """The directional derivatives of `outputs` along (t_dot, v, p_dot); rhs's J v
        comes from the Jacobian's structural entries, taken once."""
        sym = self.symbols
        jv = self._jv(sym.v) if tuple(outputs) == self.derivatives else \
            [sp.Add(*(sp.diff(g, s) * v for s, v in zip(sym.states, sym.v)
                      if s in g.free_symbols)) for g in outputs]
        return [sp.diff(g, sym.t) * sym.t_dot + jv[i]
                + sp.Add(*(sp.diff(g, p) * dp for p, dp in zip(sym.parameters, sym.p_dot)))
                for i, g in enumerate(outputs)]

    def _operator(self) -> list[sp.Expr]:
        v, jv = self.symbols.v, self._jv(self.symbols.v)
        mv: list[list[sp.Expr]] = [[] for _ in range(self.n)]
        for (i, j), m in self.mass.todok().items():
            mv[i].append(m * v[j])
        return [sp.Add(*mv[i]) - self.symbols.gamma_h * jv[i] for i in range(self.n)]

    def _observables(self) -> tuple[sp.Expr, ...]:
        return self.observables

    def _events(self) -> tuple[sp.Expr, ...]:
        return self.events
