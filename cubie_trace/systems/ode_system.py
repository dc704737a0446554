"""`ODESystem`: an ODE system M dy/dt = f(t, y, p, drivers(t)) built from SymPy.

Roles: states (name -> initial value), parameters (name -> default, one value
per run), constants (name -> value, compiled in as numbers), observables
(expressions saved like states), drivers (sampled time series, see
`cubie_trace.systems.drivers`), the mass matrix M (identity by default;
an (n, n) matrix or a length-n diagonal, numbers or expressions) and event
functions (expressions whose roots a solve locates, `with_events`).

The system implements `cubie_trace.core.system.SystemLike`: `abstract` and
`evaluate` for tracing and interpreting, `emit` for the lowering stage. Its
functions and their operands are listed in `cubie_trace.systems.functions`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import sympy as sp

from cubie_trace.core.values import FLOAT_DTYPES, Aval
from cubie_trace.systems.codegen import function_source, statements
from cubie_trace.systems.drivers import DriverSet, make_driver, mirrored
from cubie_trace.systems.functions import Functions, Symbols, SystemFunction
from cubie_trace.systems.parse import (
    SymbolTable,
    parse_equations,
    parse_observables,
    resolve,
)
from cubie_trace.systems.pyfunction import call_function, call_scalar
from cubie_trace.systems.roles import check_names, finite_values, mass_matrix

Values = Mapping[str, float]
Observables = Sequence[str] | Mapping[str, Any]


class ODESystem:
    """A named ODE system: symbolic right-hand side, Jacobian (dense, diagonal, structural
    nonzeros), its products, dfdt, observables, drivers; numpy evaluation and generated
    source for each function, each derived only when first used."""

    def __init__(self, derivatives: Mapping[str, Any], states: Values,
                 parameters: Values | None = None, constants: Values | None = None,
                 observables: Observables | None = None,
                 drivers: Mapping[str, Any] | None = None, name: str = "system",
                 mass: Any = None, units: Mapping[str, str] | None = None,
                 descriptions: Mapping[str, str] | None = None,
                 events: Mapping[str, Any] | None = None) -> None:
        """Build from SymPy expressions (or expression strings) per state; symbols are
        matched to the declared names by name. `units` and `descriptions` map names of
        states, parameters, observables and drivers to text that results carry; `events`
        names event functions (as `with_events` takes them)."""
        initial = finite_values("state", states)
        defaults = finite_values("parameter", parameters)
        fixed = finite_values("constant", constants)
        self.driver_set = DriverSet([make_driver(k, v) for k, v in (drivers or {}).items()])
        check_names({"state": initial, "parameter": defaults, "constant": fixed,
                     "driver": self.driver_set.names})
        if not initial:
            raise ValueError("states: a system needs at least one state")
        table = SymbolTable([*initial, *defaults, *fixed, *self.driver_set.names],
                            constants=fixed)
        for key in derivatives:
            if key not in initial:
                raise ValueError(f"a derivative is given for {key!r}, which is not a state")
        for state in initial:
            if state not in derivatives:
                raise ValueError(f"state {state!r} has no derivative")
        numbers = {table.symbols[k]: sp.Float(v) for k, v in fixed.items()}
        self.derivatives = tuple(
            resolve(derivatives[s], table, f"the derivative of {s!r}").xreplace(numbers)
            for s in initial)
        self.mass = mass_matrix(mass, len(initial), table).xreplace(numbers)
        observed = parse_observables(observables, table, {})
        self.observable_expressions = tuple(e.xreplace(numbers) for e in observed.values())
        per_run = [*defaults, *fixed, *self.driver_set.names]
        self.event_names = tuple(events or {})
        self.event_expressions = tuple(
            (call_scalar(fn, list(initial), per_run, list(self.driver_set.names), table,
                         f"event {name!r}") if callable(fn)
             else resolve(fn, table, f"event {name!r}")).xreplace(numbers)
            for name, fn in (events or {}).items())
        self.name = name
        self.state_names = tuple(initial)
        self.parameter_names = tuple(defaults)
        self.constants = fixed
        self.observable_names = tuple(observed)
        self.initial_values = np.array(list(initial.values()), dtype=np.float64)
        self.default_parameters = np.array(list(defaults.values()), dtype=np.float64)
        self.driver_coefficients = self.driver_set.coefficients()
        self.symbols = dict(table.symbols)
        self._symbols = Symbols(table.symbols["t"],
                                tuple(table.symbols[s] for s in initial),
                                tuple(table.symbols[s] for s in defaults),
                                tuple(table.symbols[s] for s in self.driver_set.names))
        self._numpy: dict[str, Callable[..., Any]] = {}
        self.definitions = Functions(self._symbols, self.derivatives,
                                     self.observable_expressions, self.mass,
                                     self.event_expressions)
        self.functions = self.definitions.names
        declared = (*self.state_names, *self.parameter_names, *self.observable_names,
                    *self.driver_set.names)
        self.units = _labels("units", units, declared)
        self.descriptions = _labels("descriptions", descriptions, declared)

    @classmethod
    def from_equations(cls, equations: Sequence[str] | str, states: Values,
                       parameters: Values | None = None, constants: Values | None = None,
                       observables: Observables | None = None,
                       drivers: Mapping[str, Any] | None = None, name: str = "system",
                       strict: bool = True, mass: Any = None,
                       units: Mapping[str, str] | None = None,
                       descriptions: Mapping[str, str] | None = None) -> ODESystem:
        """Build from lines like `"dx = sigma*(y - x)"` (a list or one multi-line string;
        blank lines and `#` comments ignored). Other assignments (`"a = x*y"`) are
        auxiliaries, inlined where used after them. With `strict=False` an undeclared
        name warns and becomes a parameter with default 1.0."""
        table = _table(states, parameters, constants, drivers, strict)
        derivatives, auxiliaries = parse_equations(equations, list(states), table)
        observed = parse_observables(observables, table, auxiliaries)
        return cls(derivatives, states, _with_inferred(parameters, table), constants,
                   observed, drivers, name, mass, units, descriptions)

    @classmethod
    def from_function(cls, f: Callable[..., Any], states: Values,
                      parameters: Values | None = None, constants: Values | None = None,
                      observables: Observables | None = None,
                      drivers: Mapping[str, Any] | None = None, name: str = "system",
                      strict: bool = True, mass: Any = None,
                      units: Mapping[str, str] | None = None,
                      descriptions: Mapping[str, str] | None = None) -> ODESystem:
        """Build from `f(t, y, p)` or `f(t, y, p, d)` (see
        `cubie_trace.systems.pyfunction`), returning the derivatives in state order or
        by name. With `strict=False` an undeclared `p.name` warns and becomes a
        parameter with default 1.0."""
        table = _table(states, parameters, constants, drivers, strict)
        drivers_names = list(drivers or {})
        per_run = [*(parameters or {}), *(constants or {}), *drivers_names]
        derivatives = call_function(f, list(states), per_run, drivers_names, table)
        observed = parse_observables(observables, table, {})
        return cls(derivatives, states, _with_inferred(parameters, table), constants,
                   observed, drivers, name, mass, units, descriptions)

    def reversed_in_time(self) -> ODESystem:
        """This system in reversed time s = -t: M(-s) dy/ds = -f(-s, y), observables at
        -s and drivers mirrored. Integrating it forward from s = -t0 integrates this
        one backward from t0."""
        t = self._symbols.t
        flip = {t: -t}
        return ODESystem(
            {name: -expr.xreplace(flip) for name, expr in zip(self.state_names,
                                                              self.derivatives)},
            dict(zip(self.state_names, self.initial_values)),
            dict(zip(self.parameter_names, self.default_parameters)),
            observables={name: expr.xreplace(flip) for name, expr in
                         zip(self.observable_names, self.observable_expressions)},
            drivers={dr.name: mirrored(dr) for dr in self.driver_set.drivers},
            name=f"{self.name}_reversed", mass=self.mass.xreplace(flip), units=self.units,
            descriptions=self.descriptions)

    def with_events(self, events: Mapping[str, Any]) -> ODESystem:
        """This system with the event functions `events` (name -> expression text, SymPy,
        or a function `g(t, y, p[, d])` returning one expression, with the attribute
        access `from_function` gives) in place of its own."""
        return ODESystem(
            dict(zip(self.state_names, self.derivatives)),
            dict(zip(self.state_names, self.initial_values)),
            dict(zip(self.parameter_names, self.default_parameters)), self.constants,
            dict(zip(self.observable_names, self.observable_expressions)),
            {dr.name: dr for dr in self.driver_set.drivers}, self.name, self.mass,
            self.units, self.descriptions, events)

    @property
    def n_states(self) -> int:
        return len(self.state_names)

    @property
    def n_parameters(self) -> int:
        return len(self.parameter_names)

    @property
    def n_observables(self) -> int:
        return len(self.observable_names)

    @property
    def driver_names(self) -> tuple[str, ...]:
        return self.driver_set.names

    @property
    def n_driver_coefficients(self) -> int:
        return self.driver_set.size

    def __repr__(self) -> str:
        return (f"ODESystem({self.name!r}, states={list(self.state_names)}, "
                f"parameters={list(self.parameter_names)})")

    def coefficients(self, drivers: Mapping[str, Any]) -> np.ndarray:
        """The buffer `d` for new driver samples (same drivers, same sample counts)."""
        return self.driver_set.resampled(drivers).coefficients()

    @property
    def built(self) -> tuple[str, ...]:
        """What has been derived symbolically so far (functions, "jacobian_pattern"), in
        order: each function is built when a trace, an evaluation or the lowering first
        asks for it."""
        return tuple(self.definitions.built)

    @property
    def jacobian_pattern(self) -> np.ndarray:
        """(n, n) bool: the Jacobian's structural nonzeros, the order of
        `jacobian_nonzeros` (row-major)."""
        return self.definitions.pattern

    def _function(self, fn: str) -> SystemFunction:
        if fn not in self.functions:
            raise ValueError(f"system {self.name!r} has no function {fn!r}; "
                             f"it has {self.functions}")
        return self.definitions[fn]

    def _operand_shape(self, operand: str) -> tuple[int, ...]:
        sizes = {"y": self.n_states, "v": self.n_states, "y_dot": self.n_states,
                 "v_dot": self.n_states, "p": self.n_parameters,
                 "p_dot": self.n_parameters, "d": self.n_driver_coefficients}
        return (sizes[operand],) if operand in sizes else ()

    def abstract(self, fn: str, avals: list[Aval]) -> list[Aval]:
        """The output aval of `fn` applied to operands `avals`, which are checked."""
        spec = self._function(fn)
        expected = [Aval(self._operand_shape(o), "float") for o in spec.operands]
        ok = len(avals) == len(expected) and all(
            a.shape == e.shape and a.dtype in FLOAT_DTYPES for a, e in zip(avals, expected))
        if not ok:
            want = ", ".join(f"{o}: {e.short()}" for o, e in zip(spec.operands, expected))
            got = ", ".join(a.short() for a in avals)
            raise ValueError(f"{self.name}.{fn}: expected operands ({want}), got ({got})")
        return [Aval(spec.shape, "float")]

    def _numpy_function(self, fn: str) -> Callable[..., Any]:
        if fn not in self._numpy:
            spec = self._function(fn)
            args = [s for o in spec.operands for s in self._symbols.operand(o)]
            self._numpy[fn] = sp.lambdify(args, list(spec.outputs), modules="numpy",
                                          dummify=True)
        return self._numpy[fn]

    def evaluate(self, fn: str, *args: Any) -> list[np.ndarray]:
        """Numpy value of `fn` on operands `args` (in the order `abstract` checks)."""
        spec = self._function(fn)
        self.abstract(fn, [Aval(np.shape(a), "float") for a in args])
        values = dict(zip(spec.operands, args))
        if "d" in values:
            values["d"] = self.driver_set.values(np.asarray(values["d"]), values["t"])
        flat = [x for o in spec.operands for x in np.atleast_1d(values[o])]
        dtype = np.result_type(*args, np.float32)
        out = np.array(self._numpy_function(fn)(*flat), dtype=dtype)
        return [out.reshape(spec.shape)]

    def emit(self, fn: str, func_name: str) -> str:
        """Python source (no imports) of `def func_name(<operands of fn>, out):` writing
        `fn` into `out`; it uses `math` and `FLOAT`, the working precision's scalar type."""
        spec = self._function(fn)
        used = set().union(*(e.free_symbols for e in spec.outputs))
        preamble = [line for k, u in enumerate(self._symbols.drivers) if u in used
                    for line in self.driver_set.source(k, f"_u{k}")]
        return function_source(func_name, spec.operands, spec.outputs, spec.shape,
                               self._symbols.code_names(), preamble,
                               f"system {self.name!r}, function {fn!r}")


    def inline(self, fn: str, operands: Sequence[str | Sequence[str]],
               targets: Sequence[str], prefix: str) -> list[str] | None:
        """Statements computing `fn` in place, without a call: `operands` gives each
        operand's code in call order (a scalar's, or one per element of a buffer),
        `targets` the code of each output element (flat, row-major), `prefix` makes the
        locals unique. None where the function reads drivers, which only the called
        form provides."""
        spec = self._function(fn)
        used = set().union(*(e.free_symbols for e in spec.outputs))
        if any(u in used for u in self._symbols.drivers):
            return None
        codes = dict(zip(spec.operands, operands))

        def element(operand: str, index: int) -> str:
            code = codes.get(operand, "")
            return code if isinstance(code, str) else code[index]

        return statements(spec.outputs, targets, self._symbols.code_names(element),
                          f"system {self.name!r}, function {fn!r}", prefix)


def _table(states: Values, parameters: Values | None, constants: Values | None,
           drivers: Mapping[str, Any] | None, strict: bool) -> SymbolTable:
    names = {"state": list(states), "parameter": list(parameters or {}),
             "constant": list(constants or {}), "driver": list(drivers or {})}
    check_names(names)
    return SymbolTable([n for group in names.values() for n in group], strict,
                       finite_values("constant", constants))


def _with_inferred(parameters: Values | None, table: SymbolTable) -> dict[str, Any]:
    return {**(parameters or {}), **dict.fromkeys(table.inferred, 1.0)}


def _labels(what: str, given: Mapping[str, str] | None,
            declared: Sequence[str]) -> dict[str, str]:
    """`given` checked: text per declared name."""
    out = dict(given or {})
    unknown = sorted(set(out) - set(declared))
    if unknown:
        raise ValueError(f"{what}: unknown names {unknown}; the system declares "
                         f"{list(declared)}")
    bad = [k for k, v in out.items() if not isinstance(v, str)]
    if bad:
        raise TypeError(f"{what}: the entries for {bad} must be strings")
    return out
