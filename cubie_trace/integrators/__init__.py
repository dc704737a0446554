"""The integrator catalogue: steps, tableaus, step controllers and the integration loop.

Importing this package registers every method by name (see `ct.methods()`).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from cubie_trace.core.step import Step, register_method
from cubie_trace.integrators.controllers import Controller
from cubie_trace.integrators.erk import erk_step
from cubie_trace.integrators.euler import euler
from cubie_trace.integrators.firk_methods import firk_method
from cubie_trace.integrators.implicit_methods import IMPLICIT_METHODS
from cubie_trace.integrators.tableaus import ERK_TABLEAUS

ALIASES = {"dopri54": ("rk45", "ode45", "dopri5"), "bs32": ("rk23", "ode23")}


def _erk(name: str, system: Any) -> Step:
    return erk_step(ERK_TABLEAUS[name])


register_method("euler", lambda system: euler)
for _name in ERK_TABLEAUS:
    if _name != "euler":
        register_method(_name, partial(_erk, _name), ALIASES.get(_name, ()))
for _name, _method in IMPLICIT_METHODS.items():
    if _method.family == "firk":
        register_method(_name, firk_method(_name), _method.aliases)

__all__ = ["Controller", "erk_step", "euler"]
