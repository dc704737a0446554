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
- `<fn>_tangent(<operands of fn>, <their tangents>, p_dot, p) -> (shape of fn)` for
  each function above, for systems without drivers: its directional derivative along
  the tangents of its operands and of p, e.g. `rhs_tangent(t, y, t_dot, y_dot, p_dot,
  p)` is d rhs/dt t_dot + J y_dot + d rhs/dp p_dot (forward-mode derivatives through
  system calls, `ct.jvp`)
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

SCALAR_OPERANDS = ("t", "gamma_h", "t_dot", "gamma_h_dot")
VECTOR_OPERANDS = ("y", "v", "y_dot", "v_dot")  # n symbols each


@attrs.frozen(eq=False)
class Symbols:
    """The symbols of a system, of the extra operands `v` and `gamma_h`, and of the
    tangents of the operands (`t_dot`, `y_dot`, `v_dot`, `gamma_h_dot`, `p_dot`)."""

    t: sp.Symbol
    states: tuple[sp.Symbol, ...]
    parameters: tuple[sp.Symbol, ...]
    drivers: tuple[sp.Symbol, ...]
    extra: dict[str, tuple[sp.Symbol, ...]] = attrs.field(init=False)

    @extra.default
    def _extra(self) -> dict[str, tuple[sp.Symbol, ...]]:
        n = len(self.states)
        out = {name: (sp.Dummy(name, real=True),) for name in SCALAR_OPERANDS}
        out.update({name: tuple(sp.Dummy(f"{name}{i}", real=True) for i in range(n))
                    for name in VECTOR_OPERANDS if name != "y"})
        out["p_dot"] = tuple(sp.Dummy(f"p_dot{i}", real=True)
                             for i in range(len(self.parameters)))
        return out

    @property
    def v(self) -> tuple[sp.Symbol, ...]:
        return self.extra["v"]

    @property
    def gamma_h(self) -> sp.Symbol:
        return self.extra["gamma_h"][0]

    def operand(self, name: str) -> list[sp.Symbol]:
        """The symbols an operand carries (`d` carries the driver values)."""
        own = {"t": [self.t], "y": list(self.states), "p": list(self.parameters),
               "d": list(self.drivers)}
        return own[name] if name in own else list(self.extra[name])

    def code_names(self, element: Callable[[str, int], str] | None = None
                   ) -> dict[sp.Symbol, str]:
        """Each symbol's code in generated functions: `element(operand, index)` (by
        default `operand[index]`, scalars by name); driver k is the local `_u{k}`."""
        def code(operand: str, index: int) -> str:
            if element is not None:
                return element(operand, index)
            return operand if operand in SCALAR_OPERANDS else f"{operand}[{index}]"

        names = {}
        for operand in ("y", "p", *self.extra):
            names.update({s: code(operand, i) for i, s in enumerate(self.operand(operand))})
        names[self.t] = code("t", 0)
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
        own = ("rhs", "jvp", "jacobian", "jacobian_diagonal", "jacobian_nonzeros",
               *(() if symbols.drivers else ("dfdt",)), "operator",
               *(("observables",) if observables else ()), *(("events",) if events else ()))
        self.names = (*own, *(() if symbols.drivers else tuple(f"{fn}_tangent" for fn in own)),
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
            own = OPERANDS[of.name]
            operands = (*own, *(f"{o}_dot" for o in own), "p_dot", "p")
            return SystemFunction(name, operands, tuple(self._tangent(of.outputs, own)),
                                  of.shape)
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

    def _tangent(self, outputs: Sequence[sp.Expr], own: Sequence[str]) -> list[sp.Expr]:
        """The directional derivatives of `outputs` along the tangents of the operands
        `own` and of the parameters."""
        sym = self.symbols
        pairs = [(s, d) for o in (*own, "p") for s, d in zip(sym.operand(o),
                                                             sym.operand(f"{o}_dot"))]
        return [sp.Add(*(sp.diff(g, s) * d for s, d in pairs if s in g.free_symbols))
                for g in outputs]

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
