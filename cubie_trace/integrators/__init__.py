"""The integrator catalogue: steps, tableaus, step controllers and the integration loop.

Importing this package registers every method by name (see `ct.methods()`).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from cubie_trace.core.step import Step, register_method
from cubie_trace.integrators.controllers import Controller
from cubie_trace.integrators.dirk import dirk_step
from cubie_trace.integrators.dop853_dense import dop853_dense
from cubie_trace.integrators.erk import erk_step
from cubie_trace.integrators.euler import euler
from cubie_trace.integrators.firk_methods import firk_method
from cubie_trace.integrators.implicit_methods import IMPLICIT_METHODS
from cubie_trace.integrators.mass import refuse_mass
from cubie_trace.integrators.rosenbrock_step import rosenbrock_step
from cubie_trace.integrators.tableaus import ERK_TABLEAUS
from cubie_trace.integrators.vern7_dense import vern7_dense

ALIASES = {"dopri54": ("rk45", "ode45", "dopri5"), "bs32": ("rk23", "ode23")}
# continuous extensions that are not polynomials in the tableau's own stages
EXTENSIONS = {"dop853": dop853_dense, "vern7": vern7_dense}


def _erk(name: str, system: Any) -> Step:
    return erk_step(ERK_TABLEAUS[name], EXTENSIONS.get(name))


# backward Euler estimates its error from the explicit Euler predictor; the
# predictor-corrector variant also starts its Newton iteration there
EULER_ESTIMATE = {"backwards_euler": {"euler_estimate": True},
                  "backwards_euler_pc": {"euler_estimate": True, "euler_predictor": True}}


def _dirk(name: str, system: Any, newton: dict | None = None, linear: dict | None = None,
          jacobian: str | None = None) -> Step:
    return dirk_step(IMPLICIT_METHODS[name].tableau, system, newton, linear, jacobian,
                     name=name, **EULER_ESTIMATE.get(name, {}))


register_method("euler", lambda system: euler)
for _name in ERK_TABLEAUS:
    if _name != "euler":
        register_method(_name, partial(_erk, _name), ALIASES.get(_name, ()))
for _name, _method in IMPLICIT_METHODS.items():
    if _method.family == "dirk":
        register_method(_name, partial(_dirk, _name), _method.aliases)
    elif _method.family == "rosenbrock":
        register_method(_name, partial(rosenbrock_step, _method.tableau), _method.aliases)
    elif _method.family == "firk":
        register_method(_name, firk_method(_name), _method.aliases)

__all__ = ["Controller", "dirk_step", "erk_step", "euler", "refuse_mass", "rosenbrock_step"]
