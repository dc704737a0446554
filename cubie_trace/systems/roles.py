"""Checks on the names and numbers a model declares: identifiers, duplicates
across roles (after NFKC normalisation, as Python compares identifiers), finite
defaults, the mass matrix (numbers, SymPy expressions or expression strings,
each entry parsed like an equation)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import sympy as sp

from cubie_trace.systems.parse import SymbolTable, canonical, resolve


def check_names(roles: Mapping[str, Iterable[str]]) -> None:
    """Every name an identifier, none twice, none `t` (time); names equal after NFKC
    normalisation count as the same name."""
    seen: dict[str, tuple[str, str]] = {"t": ("t", "the time variable")}
    for role, names in roles.items():
        for name in names:
            if not isinstance(name, str) or not name.isidentifier():
                raise ValueError(f"{role} name {name!r} is not an identifier")
            key = canonical(name)
            if key in seen:
                other, what = seen[key]
                same = "" if other == name else f" (as {other!r}, equal after NFKC normalisation)"
                raise ValueError(f"name {name!r} is declared as both {what}{same} and a {role}")
            seen[key] = (name, f"a {role}")


def finite_values(role: str, values: Mapping[str, Any] | None) -> dict[str, float]:
    """`values` as floats, raising if one is not a finite number."""
    if values is None:
        return {}
    if not isinstance(values, Mapping):
        raise TypeError(f"{role}s must be a dict of name -> value, got {type(values).__name__}")
    out: dict[str, float] = {}
    for name, value in values.items():
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            number = math.nan
        if not math.isfinite(number):
            raise ValueError(f"{role} {name!r}: default must be a finite number, got {value!r}")
        out[name] = number
    return out


def mass_matrix(mass: Any, n: int, table: SymbolTable) -> sp.Matrix:
    """The mass matrix from None (identity), an (n, n) matrix or an (n,) diagonal;
    entries are numbers, SymPy expressions or strings read through `table`."""
    if mass is None:
        return sp.eye(n)
    expected = f"mass: expected an ({n}, {n}) matrix or a length-{n} diagonal"
    rows = mass.tolist() if isinstance(mass, (np.ndarray, sp.MatrixBase)) else mass
    if not _is_sequence(rows) or not rows:
        raise ValueError(f"{expected}, got {mass!r}")
    rows = list(rows)
    if all(_is_sequence(row) for row in rows):
        rows = [list(row) for row in rows]
    elif not any(_is_sequence(row) for row in rows):
        rows = [[entry] for entry in rows]
    else:
        raise ValueError(f"{expected}, got {mass!r}")
    shape = (len(rows), len(rows[0]))
    if any(len(row) != shape[1] for row in rows):
        raise ValueError(f"{expected}, got ragged rows {mass!r}")
    if shape in ((n, 1), (1, n)) and n != 1:
        diagonal = [entry for row in rows for entry in row]
        return sp.diag(*(resolve(e, table, f"the mass matrix entry ({i}, {i})")
                         for i, e in enumerate(diagonal)))
    if shape != (n, n):
        raise ValueError(f"{expected}, got shape {shape}")
    return sp.Matrix([[resolve(e, table, f"the mass matrix entry ({i}, {j})")
                       for j, e in enumerate(row)] for i, row in enumerate(rows)])


def _is_sequence(value: Any) -> bool:
    return isinstance(value, (Sequence, np.ndarray)) and not isinstance(value, (str, bytes))
