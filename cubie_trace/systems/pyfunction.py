"""A Python right-hand side `f(t, y, p[, d])` to SymPy: call it on symbols.

`y` holds the states, `p` the parameters, constants and drivers, `d` the
drivers; each gives a name's symbol by attribute (`y.x`, `p.sigma`), by key
(`p["lambda"]`, for names Python will not accept after a dot) or, for `y`, by
position. `f` builds SymPy expressions (use `sympy.sin`, not `math.sin`) and
returns the derivatives as a sequence in state order or as a dict by state name.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import sympy as sp

from cubie_trace.systems.parse import SymbolTable, resolve


class Names:
    """Symbols by attribute, key or position; `missing(name)` answers unknown names."""

    def __init__(self, names: Sequence[str], table: SymbolTable,
                 missing: Callable[[str], sp.Symbol]) -> None:
        self._names = tuple(names)
        self._table = table
        self._missing = missing

    def __getattr__(self, name: str) -> sp.Symbol:
        if name.startswith("__"):
            raise AttributeError(name)
        return self[name]

    def __getitem__(self, key: str | int) -> sp.Symbol:
        if isinstance(key, int):
            return self._table.symbols[self._names[key]]
        declared = self._table.declared(key)  # Python NFKC-normalises `p.name`
        if declared in self._names:
            return self._table.symbols[declared]
        return self._missing(key)

    def __iter__(self) -> Iterator[sp.Symbol]:
        return (self._table.symbols[n] for n in self._names)

    def __len__(self) -> int:
        return len(self._names)


def _unknown(role: str, names: Sequence[str]) -> Callable[[str], sp.Symbol]:
    def missing(name: str) -> sp.Symbol:
        raise ValueError(f"f reads {role} {name!r}, which is not declared; "
                         f"declared: {list(names)}")
    return missing


def _takes_drivers(f: Callable) -> bool:
    try:
        params = list(inspect.signature(f).parameters.values())
    except (TypeError, ValueError):
        return False
    positional = [q for q in params if q.kind in (q.POSITIONAL_ONLY, q.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 4 or any(q.kind == q.VAR_POSITIONAL for q in params)


def _called(f: Callable, states: Sequence[str], per_run: Sequence[str],
            drivers: Sequence[str], table: SymbolTable) -> Any:
    """What `f` returns called on the symbols of `table`."""
    y = Names(states, table, _unknown("state", states))
    p = Names(per_run, table, lambda name: table.lookup(name, "function f"))
    args: list[Any] = [table.symbols["t"], y, p]
    if _takes_drivers(f):
        args.append(Names(drivers, table, _unknown("driver", drivers)))
    return f(*args)


def call_scalar(f: Callable, states: Sequence[str], per_run: Sequence[str],
                drivers: Sequence[str], table: SymbolTable, where: str) -> sp.Expr:
    """The one expression `f(t, y, p[, d])` returns on the symbols of `table`."""
    return resolve(_called(f, states, per_run, drivers, table), table, where)


def call_function(f: Callable, states: Sequence[str], per_run: Sequence[str],
                  drivers: Sequence[str], table: SymbolTable) -> dict[str, sp.Expr]:
    """Derivatives by state from `f` called on the symbols of `table`."""
    result = _called(f, states, per_run, drivers, table)
    if isinstance(result, Mapping):
        extra = [k for k in result if k not in states]
        if extra:
            raise ValueError(f"f returned a derivative for {extra[0]!r}, which is not a state")
        missing = [s for s in states if s not in result]
        if missing:
            raise ValueError(f"state {missing[0]!r} has no derivative in the result of f")
        items = [(s, result[s]) for s in states]
    else:
        values = list(result) if isinstance(result, (Sequence, sp.MatrixBase)) else None
        if values is None or len(values) != len(states):
            raise ValueError(f"f must return {len(states)} derivatives (a list in state order "
                             f"{list(states)} or a dict), got {result!r}")
        items = list(zip(states, values))
    return {s: resolve(e, table, f"the derivative of {s!r} returned by f") for s, e in items}
