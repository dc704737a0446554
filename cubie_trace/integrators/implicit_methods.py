"""Names of the implicit methods: family, tableau and aliases (data only).

``family`` says which kind of step consumes the tableau: ``"dirk"`` (a
`ButcherTableau` with lower-triangular ``a``, one Newton solve per implicit
stage), ``"firk"`` (full ``a``, one coupled solve for all stages) or
``"rosenbrock"`` (a `RosenbrockTableau`, linear solves only).
``backwards_euler_pc`` is the backward Euler tableau for a step that starts
its Newton iteration from an explicit Euler predictor. Aliases include the
names used by CuBIE and by MATLAB (ode23t is the trapezoidal rule, ode23tb
TR-BDF2, ode23s Shampine's Rosenbrock pair).
"""

from __future__ import annotations

import attrs

from cubie_trace.integrators.butcher import ButcherTableau
from cubie_trace.integrators.dirk_tableaus import DIRK_TABLEAUS
from cubie_trace.integrators.firk_tableaus import FIRK_TABLEAUS
from cubie_trace.integrators.rosenbrock import RosenbrockTableau
from cubie_trace.integrators.rosenbrock_tableaus import ROSENBROCK_TABLEAUS


@attrs.frozen
class ImplicitMethod:
    """A named implicit method: the step family, its tableau and other names."""

    family: str
    tableau: ButcherTableau | RosenbrockTableau
    aliases: tuple[str, ...] = ()


def _dirk(name: str, *aliases: str) -> ImplicitMethod:
    return ImplicitMethod("dirk", DIRK_TABLEAUS[name], aliases)


def _firk(name: str, *aliases: str) -> ImplicitMethod:
    return ImplicitMethod("firk", FIRK_TABLEAUS[name], aliases)


def _ros(name: str, *aliases: str) -> ImplicitMethod:
    return ImplicitMethod("rosenbrock", ROSENBROCK_TABLEAUS[name], aliases)


IMPLICIT_METHODS: dict[str, ImplicitMethod] = {
    "backwards_euler": _dirk("backward_euler", "backward_euler", "implicit_euler"),
    "backwards_euler_pc": _dirk("backward_euler"),
    "implicit_midpoint": _dirk("implicit_midpoint"),
    "trapezoidal_dirk": _dirk("trapezoidal", "trapezoidal", "ode23t"),
    "crank_nicolson": _dirk("crank_nicolson"),
    "sdirk_2_2": _dirk("sdirk_2_2"),
    "trbdf2": _dirk("trbdf2", "tr_bdf2", "ode23tb"),
    "l_stable_dirk_3": _dirk("l_stable_dirk_3"),
    "kvaerno3": _dirk("kvaerno3"),
    "l_stable_sdirk_4": _dirk("l_stable_sdirk_4", "sdirk4"),
    "kvaerno4": _dirk("kvaerno4"),
    "kvaerno5": _dirk("kvaerno5"),
    "eldirk32_euler": _dirk("eldirk32_euler"),
    "eldirk32_trapezoidal": _dirk("eldirk32_trapezoidal"),
    "eldirk32_ellsiepen": _dirk("eldirk32_ellsiepen"),
    "gauss_legendre_2": _firk("gauss_legendre_2", "firk_gauss_legendre_2"),
    "gauss_legendre_3": _firk("gauss_legendre_3", "firk_gauss_legendre_3"),
    "radau_iia_3": _firk("radau_iia_3"),
    "radau_iia_5": _firk("radau_iia_5", "radau", "radau5"),
    "radau_iia_9": _firk("radau_iia_9"),
    "ros2": _ros("ros2"),
    "rosenbrock23": _ros("rosenbrock23", "ode23s"),
    "ros3p": _ros("ros3p"),
    "rodas3p": _ros("rodas3p"),
    "ros34pw2": _ros("ros34pw2"),
    "ros34pw3": _ros("ros34pw3"),
    "grk4a": _ros("grk4a"),
    "rodas4": _ros("rodas4"),
    "rodas4p": _ros("rodas4p"),
    "rodas5p": _ros("rodas5p"),
}

_BY_NAME: dict[str, str] = {
    **{name: name for name in IMPLICIT_METHODS},
    **{alias: name for name, method in IMPLICIT_METHODS.items() for alias in method.aliases},
}


def implicit_method(name: str) -> ImplicitMethod:
    """The implicit method called `name` (a canonical name or an alias)."""
    try:
        return IMPLICIT_METHODS[_BY_NAME[name]]
    except KeyError:
        raise ValueError(
            f"unknown implicit method {name!r}; known: {', '.join(sorted(_BY_NAME))}") from None


def canonical_name(name: str) -> str:
    """The canonical name of the method `name` refers to."""
    implicit_method(name)
    return _BY_NAME[name]
