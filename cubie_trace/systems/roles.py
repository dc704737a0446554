"""Checks on the names and numbers a model declares: identifiers, duplicates
across roles, finite defaults, the mass matrix."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import sympy as sp


def check_names(roles: Mapping[str, Iterable[str]]) -> None:
    """Every name an identifier, none twice, none `t` (time)."""
    seen: dict[str, str] = {"t": "the time variable"}
    for role, names in roles.items():
        for name in names:
            if not isinstance(name, str) or not name.isidentifier():
                raise ValueError(f"{role} name {name!r} is not an identifier")
            if name in seen:
                raise ValueError(f"name {name!r} is declared as both {seen[name]} and a {role}")
            seen[name] = f"a {role}"


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
        except (TypeError, ValueError):
            number = math.nan
        if not math.isfinite(number):
            raise ValueError(f"{role} {name!r}: default must be a finite number, got {value!r}")
        out[name] = number
    return out


def mass_matrix(mass: Any, n: int) -> sp.Matrix:
    """The mass matrix from None (identity), an (n, n) matrix or an (n,) diagonal."""
    if mass is None:
        return sp.eye(n)
    try:
        matrix = sp.Matrix(mass.tolist() if isinstance(mass, np.ndarray) else mass)
    except (TypeError, ValueError, sp.SympifyError) as exc:
        raise ValueError(f"mass: expected an ({n}, {n}) matrix or a length-{n} diagonal, "
                         f"got {mass!r} ({exc})") from None
    if matrix.shape in ((n, 1), (1, n)) and n != 1:
        return sp.diag(*matrix)
    if matrix.shape != (n, n):
        raise ValueError(f"mass: expected an ({n}, {n}) matrix or a length-{n} diagonal, "
                         f"got shape {matrix.shape}")
    return matrix
