"""The FIRK methods by name: the options interface of the implicit methods
(`factory(system, newton=..., linear=..., jacobian=...)`) mapped to a step.

``jacobian="dense"`` (the default for n <= 16) is the transformed simplified Newton
with sparse LU factors (`firk.py`); ``"matrix-free"`` (the default above) is
Newton-Krylov on the coupled stages (`firk_coupled.py`), which alone takes
``linear`` options.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cubie_trace.core.step import Step
from cubie_trace.integrators.firk import firk_step
from cubie_trace.integrators.firk_coupled import coupled_step
from cubie_trace.integrators.firk_tableaus import FIRK_TABLEAUS

DENSE_UP_TO = 16  # states; larger systems default to the matrix-free solve
JACOBIANS = ("dense", "matrix-free")


def firk_method(name: str) -> Callable[..., Step]:
    """The factory of the FIRK tableau `name`."""
    tab = FIRK_TABLEAUS[name]

    def factory(system: Any, newton: dict | None = None, linear: dict | None = None,
                jacobian: str | None = None) -> Step:
        if system is None:
            raise ValueError(f"{name} is implicit: it needs the system it integrates")
        if jacobian is None:
            jacobian = "dense" if system.n_states <= DENSE_UP_TO else "matrix-free"
        if jacobian not in JACOBIANS:
            raise ValueError(f"{name}: jacobian must be one of {JACOBIANS}, got {jacobian!r}")
        if jacobian == "matrix-free":
            return coupled_step(tab, system, newton, linear)
        if linear is not None:
            raise ValueError(f"{name}: linear options apply to jacobian='matrix-free' only")
        return firk_step(tab, system, newton)

    return factory
