"""The mass matrix M of `M y' = f(t, y)` as the steps see it: a constant numpy matrix
(None for the identity), applied by products written out over its nonzeros, and the
refusal of explicit methods, which have no way to honour it."""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy as sp

from cubie_trace.core import ops as ct
from cubie_trace.core.step import Step, methods
from cubie_trace.integrators.butcher import ButcherTableau
from cubie_trace.integrators.implicit_methods import IMPLICIT_METHODS


def symbolic_mass(system: Any) -> sp.Matrix | None:
    """The system's (parsed) mass matrix, or None where it is the identity (or absent)."""
    mass = getattr(system, "mass", None)
    if mass is None:
        return None
    mass = sp.Matrix(mass)
    return None if mass == sp.eye(mass.shape[0]) else mass


def constant_mass(system: Any) -> np.ndarray | None:
    """The system's mass matrix as floats, or None where it is the identity (or absent)."""
    mass = symbolic_mass(system)
    if mass is None:
        return None
    if mass.free_symbols:
        raise ValueError(f"system {getattr(system, 'name', '')!r}: the mass matrix must be "
                         f"constant, it depends on {sorted(map(str, mass.free_symbols))}")
    return np.array(mass.evalf(), dtype=float)


def singular(mass: np.ndarray | None) -> bool:
    """Whether `mass` (None: the identity) is singular: a differential-algebraic system."""
    return mass is not None and np.linalg.matrix_rank(mass) < mass.shape[0]


def stiffly_accurate(tab: ButcherTableau) -> bool:
    """Whether the last stage of `tab` is its solution (b equal to the last row of a)."""
    return bool(np.allclose(tab.a[-1], tab.b, rtol=0.0, atol=1e-15))


def times(matrix: np.ndarray | None, v: Any) -> Any:
    """`matrix @ v` for a constant matrix (None: the identity), one sum per row over
    the row's nonzeros."""
    if matrix is None:
        return v
    out = ct.zeros_like(v)
    for i, row in enumerate(matrix):
        acc: Any = 0.0
        for j in np.flatnonzero(row):
            acc = acc + float(row[j]) * v[int(j)]
        out = out.at[i].set(acc)
    return out


def dae_methods() -> list[str]:
    """Registered implicit methods that integrate a singular mass matrix (index-1 DAEs):
    the stiffly accurate DIRK and FIRK methods."""
    return sorted(name for name, m in IMPLICIT_METHODS.items()
                  if m.family in ("dirk", "firk") and isinstance(m.tableau, ButcherTableau)
                  and stiffly_accurate(m.tableau) and name in methods())


def refuse_mass(step: Step, system: Any) -> None:
    """ValueError if an explicit `step` is asked to integrate a non-identity mass matrix."""
    if step.implicit or symbolic_mass(system) is None:
        return
    raise ValueError(f"method {step.name!r} is explicit and cannot integrate the mass "
                     f"matrix of system {getattr(system, 'name', '')!r}; use an implicit "
                     f"method, e.g. {', '.join(dae_methods())}")
