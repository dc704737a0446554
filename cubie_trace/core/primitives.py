"""The closed set of primitives, each with its rule table in one place.

Every equation applies one primitive. A `Primitive` holds, for that primitive:

- ``abstract``: the shape/dtype rule, `abstract(avals, weak, **params) -> [Aval]`
  (tracing runs it to type results, `check_program` re-runs it);
- ``impl``: the numpy rule, `impl(*values, **params, **services) -> [value]`; the
  interpreter passes the services named in ``context``: ``precision`` (the working
  float type), ``run(program, args)`` (evaluate a sub-program), ``record(name, value)``
  (append to the instrumented log);
- ``kind``: its role for liveness and aliasing:
  ``elementwise`` (result element i depends only on operand elements i, scalars
  broadcast, so the result may take a dying operand's storage), ``reduction``
  (buffers in, a scalar out), ``view`` (reads part of its base without copying;
  ``view`` gives where it starts), ``update`` (a copy of its first operand with a
  part replaced, which may be done in place), ``build``/``fill`` (a fresh buffer),
  ``system`` (a call into the ODE system), ``control`` (structured control flow or a
  child call; ``control`` says how operands reach the sub-programs, which are found
  by type among the parameters: a `Program` or a tuple of them), ``annotation`` (no
  outputs; ``reads=False`` when its operand is not a use, as for `hint`);
- ``show``: the printing rule for a parameter's value (default: as is).

The lowering rule (how code is emitted) lives with the backend, in the table
`lowering.codegen.LOWERING` keyed by primitive name, so core knows no backend.

Adding a primitive: register it here with its rules (`_register`), add the user
function in `cubie_trace.core.ops`, its entry in `lowering.codegen.LOWERING`
(tests check that every primitive has one), and tests against numpy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from cubie_trace.core.values import FLOAT_DTYPES, Atom, Aval, Var, numpy_dtype

if TYPE_CHECKING:
    from cubie_trace.core.program import Eqn, Program


class TracerError(Exception):
    """An error in the traced function: a misuse the tracer cannot record."""


@attrs.frozen
class Control:
    """How a control primitive passes its operands to its sub-programs.

    The first `skip` operands are read by the equation itself (a predicate, loop
    bounds); the rest are passed to every sub-program, after the loop index when
    `index`. A `loop` runs its sub-programs repeatedly: the first `n_carry` operands
    passed are the initial carries, bound to the carry slots (the equation's results),
    the others are constants read on every iteration. `predicate` names the parameter
    holding a loop's condition; `labels` are the printed names of a tuple of
    sub-programs (cond's branches).
    """

    skip: int = 0
    index: bool = False
    loop: bool = False
    predicate: str | None = None
    labels: tuple[str, ...] = ()

    def bindings(self, eqn: Eqn) -> list[Atom | None]:
        """The operand bound to each sub-program input (None: the loop index)."""
        return [None] * self.index + list(eqn.inputs[self.skip:])

    def carries(self, eqn: Eqn) -> list[Atom]:
        """A loop's initial carries (none for other control)."""
        return list(eqn.inputs[self.skip:self.skip + eqn.params["n_carry"]]) if self.loop else []

    def carry_slot(self, eqn: Eqn, k: int) -> Var | None:
        """The carry slot sub-program input `k` is bound to, if it is a carry."""
        j = k - self.index
        return eqn.outputs[j] if self.loop and 0 <= j < eqn.params["n_carry"] else None

    def body(self, eqn: Eqn) -> Program:
        """The sub-program computing a loop's next carries (not its condition)."""
        cond = eqn.params[self.predicate] if self.predicate else None
        return next(p for p in eqn.sub_programs if p is not cond)

    def sub_outputs(self, eqn: Eqn, sub: Program) -> list[Aval]:
        """What `sub` must return: a bool or int32 predicate for a loop's condition, the
        equation's results otherwise."""
        if self.predicate is not None and sub is eqn.params[self.predicate]:
            got = [a.aval for a in sub.outputs]
            return got if got in ([Aval((), "bool")], [Aval((), "int32")]) else \
                [Aval((), "bool")]
        return [v.aval for v in eqn.outputs]


@attrs.frozen
class View:
    """Where a view starts in its base: at element `offset + index * stride`."""

    offset: int
    index: Atom | None = None
    stride: int = 0


@attrs.frozen
class Primitive:
    """A primitive operation of the IR and its rules (see the module docstring)."""

    name: str
    kind: str
    abstract: Callable[..., list[Aval]]
    impl: Callable[..., list[Any]]
    context: tuple[str, ...] = ()
    control: Control | None = None
    view: Callable[[Eqn], View] | None = None
    reads: bool = True
    show: Callable[[str, Any], Any] = lambda key, value: value

    def __str__(self) -> str:
        return self.name


PRIMITIVES: dict[str, Primitive] = {}


def _register(name: str, kind: str, abstract: Callable, impl: Callable,
              **rules: Any) -> Primitive:
    prim = Primitive(name, kind, abstract, impl, **rules)
    PRIMITIVES[name] = prim
    return prim


# ---------------------------------------------------------------- dtype rules


def promote(dtypes: list[str], weak: list[bool]) -> str:
    """Result dtype of arithmetic: floats win over ints; literals are weak."""
    strong = [d for d, w in zip(dtypes, weak) if not w and d != "bool"]
    pool = strong or [d for d in dtypes if d != "bool"] or ["int32"]
    floats = [d for d in pool if d in FLOAT_DTYPES]
    if floats:
        if "float64" in floats:
            return "float64"
        if "float" in floats:
            return "float"
        return "float32"
    if any(d in FLOAT_DTYPES for d in dtypes):
        return "float"
    return "int32"


def broadcast_shape(name: str, avals: list[Aval]) -> tuple[int, ...]:
    """Shape of an elementwise result: scalars broadcast, buffers must agree."""
    shapes = {a.shape for a in avals if a.shape != ()}
    if len(shapes) > 1:
        raise TracerError(f"{name}: operand shapes {sorted(shapes)} do not match")
    return shapes.pop() if shapes else ()


def _elementwise_abstract(name: str, result: str) -> Callable[..., list[Aval]]:
    def abstract(avals: list[Aval], weak: list[bool], **params: Any) -> list[Aval]:
        shape = broadcast_shape(name, avals)
        dtypes = [a.dtype for a in avals]
        if result == "bool":
            dtype = "bool"
        elif result == "float":
            dtype = promote(dtypes, weak)
            dtype = dtype if dtype in FLOAT_DTYPES else "float"
        elif result == "cast":
            dtype = params["dtype"]
        elif result == "where":
            dtype = promote(dtypes[1:], weak[1:])
            if avals[0].dtype not in ("bool", "int32"):
                raise TracerError("where: the condition must be bool or int32")
        else:
            dtype = promote(dtypes, weak)
        return [Aval(shape, dtype)]

    return abstract


def _logical(fn: Callable) -> Callable:
    return lambda *xs: fn(*(np.asarray(x).astype(bool) for x in xs))


# name: (numpy rule, result rule)
ELEMENTWISE: dict[str, tuple[Callable, str]] = {
    "add": (np.add, "promote"),
    "sub": (np.subtract, "promote"),
    "mul": (np.multiply, "promote"),
    "div": (np.true_divide, "float"),
    "floordiv": (np.floor_divide, "promote"),
    "pow": (np.power, "promote"),
    "neg": (np.negative, "promote"),
    "abs": (np.abs, "promote"),
    "minimum": (np.minimum, "promote"),
    "maximum": (np.maximum, "promote"),
    "sqrt": (np.sqrt, "float"),
    "exp": (np.exp, "float"),
    "log": (np.log, "float"),
    "sin": (np.sin, "float"),
    "cos": (np.cos, "float"),
    "tan": (np.tan, "float"),
    "tanh": (np.tanh, "float"),
    "floor": (np.floor, "float"),
    "lt": (np.less, "bool"),
    "le": (np.less_equal, "bool"),
    "gt": (np.greater, "bool"),
    "ge": (np.greater_equal, "bool"),
    "eq": (np.equal, "bool"),
    "ne": (np.not_equal, "bool"),
    "and": (_logical(np.logical_and), "bool"),
    "or": (_logical(np.logical_or), "bool"),
    "not": (_logical(np.logical_not), "bool"),
    "isfinite": (np.isfinite, "bool"),
    "where": (lambda c, a, b: np.where(np.asarray(c).astype(bool), a, b), "where"),
}

for _name, (_fn, _rule) in ELEMENTWISE.items():
    _register(_name, "elementwise", _elementwise_abstract(_name, _rule),
              (lambda f: lambda *xs, **p: [f(*xs)])(_fn))
_register("cast", "elementwise", _elementwise_abstract("cast", "cast"),
          lambda x, dtype, precision="float64":
          [np.asarray(x).astype(numpy_dtype(dtype, precision))[()]], context=("precision",))


# ---------------------------------------------------------------- reductions


def _reduction_abstract(name: str, arity: int) -> Callable[..., list[Aval]]:
    def abstract(avals: list[Aval], weak: list[bool], **params: Any) -> list[Aval]:
        if avals[0].is_scalar:
            raise TracerError(f"{name}: expected a buffer, got a scalar")
        if arity == 2 and avals[1].shape not in (avals[0].shape, ()):
            raise TracerError(f"{name}: operand shapes {avals[0].shape} and {avals[1].shape} "
                              "do not match")
        dtype = promote([a.dtype for a in avals], [False] * len(avals))
        if name == "rms_norm":
            dtype = dtype if dtype in FLOAT_DTYPES else "float"
        return [Aval((), dtype)]

    return abstract


REDUCTIONS: dict[str, tuple[Callable, int]] = {
    "sum": (lambda x: np.sum(x), 1),
    "max": (lambda x: np.max(x), 1),
    "min": (lambda x: np.min(x), 1),
    "max_abs": (lambda x: np.max(np.abs(x)), 1),
    "dot": (lambda x, y: np.sum(np.multiply(x, y)), 2),
    # weighted RMS norm: sqrt(mean((x / scale)^2)), the error norm of adaptive steps
    "rms_norm": (lambda x, s: np.sqrt(np.mean(np.square(np.true_divide(x, s)))), 2),
}

for _name, (_fn, _arity) in REDUCTIONS.items():
    _register(_name, "reduction", _reduction_abstract(_name, _arity),
              (lambda f: lambda *xs, **p: [f(*xs)])(_fn))


# ---------------------------------------------------------------- views, stacks


def _index_abstract(avals: list[Aval], weak: list[bool]) -> list[Aval]:
    base, index = avals
    if base.is_scalar:
        raise TracerError("cannot index a scalar")
    if index.dtype != "int32" or not index.is_scalar:
        raise TracerError(f"index must be an int32 scalar, got {index.short()}")
    return [Aval(base.shape[1:], base.dtype)]


def _slice_abstract(avals: list[Aval], weak: list[bool], start: int, stop: int) -> list[Aval]:
    (base,) = avals
    if len(base.shape) != 1 or not 0 <= start <= stop <= base.shape[0]:
        raise TracerError(f"slice [{start}:{stop}] out of range for a buffer of shape {base.shape}")
    return [Aval((stop - start,), base.dtype)]


def _set_index_abstract(avals: list[Aval], weak: list[bool]) -> list[Aval]:
    base, index, value = avals
    _index_abstract([base, index], weak)
    if value.shape not in (base.shape[1:], ()):
        raise TracerError(f"cannot set a value of shape {value.shape} into an element of "
                          f"shape {base.shape[1:]}")
    return [base]


def _set_index_impl(base: Any, index: Any, value: Any) -> list[Any]:
    out = np.array(base, copy=True)
    out[int(index)] = value
    return [out]


def _stack_abstract(avals: list[Aval], weak: list[bool]) -> list[Aval]:
    shapes = {a.shape for a in avals}
    if len(shapes) != 1 or avals[0].shape == () or len(avals[0].shape) != 1:
        raise TracerError(f"stack: rows must be buffers of one shape, got {sorted(shapes)}")
    return [Aval((len(avals), avals[0].shape[0]), promote([a.dtype for a in avals],
                                                         [False] * len(avals)))]


def _fill_abstract(avals: list[Aval], weak: list[bool], shape: tuple[int, ...],
                   dtype: str) -> list[Aval]:
    if not avals[0].is_scalar:
        raise TracerError("fill: the value must be a scalar")
    return [Aval(tuple(shape), dtype)]


_register("index", "view", _index_abstract,
          lambda base, index: [np.array(base[int(index)], copy=True)],
          view=lambda eqn: View(0, eqn.inputs[1], eqn.outputs[0].aval.elements))
_register("slice", "view", _slice_abstract,
          lambda base, start, stop: [np.array(base[start:stop], copy=True)],
          view=lambda eqn: View(eqn.params["start"]))
_register("set_index", "update", _set_index_abstract, _set_index_impl)
_register("stack", "build", _stack_abstract, lambda *rows: [np.stack(rows)])
_register("fill", "fill", _fill_abstract,
          lambda value, shape, dtype, precision="float64":
          [np.full(shape, value, dtype=numpy_dtype(dtype, precision))], context=("precision",))


# ---------------------------------------------------------------- system calls


def _system_abstract(avals: list[Aval], weak: list[bool], system: Any, fn: str) -> list[Aval]:
    return list(system.abstract(fn, avals))


def _system_impl(*args: Any, system: Any, fn: str) -> list[Any]:
    return list(system.evaluate(fn, *args))


_register("system", "system", _system_abstract, _system_impl,
          show=lambda key, value: value.name if key == "system" else value)


# ---------------------------------------------------------------- control flow


def _program_outputs(program: Any) -> list[Aval]:
    return [a.aval for a in program.outputs]


def _while_impl(*ins: Any, cond: Program, body: Program, n_carry: int,
                run: Callable) -> list[Any]:
    carry, consts = list(ins[:n_carry]), list(ins[n_carry:])
    while bool(run(cond, carry + consts)[0]):
        carry = run(body, carry + consts)
    return carry


def _fori_impl(lower: Any, upper: Any, *ins: Any, body: Program, n_carry: int,
               run: Callable) -> list[Any]:
    carry, consts = list(ins[:n_carry]), list(ins[n_carry:])
    for i in range(int(lower), int(upper)):
        carry = run(body, [np.int32(i), *carry, *consts])
    return carry


_register("call", "control", lambda avals, weak, program: _program_outputs(program),
          lambda *ins, program, run: run(program, list(ins)),
          context=("run",), control=Control())
_register("cond", "control", lambda avals, weak, branches: _program_outputs(branches[0]),
          lambda pred, *ins, branches, run: run(branches[0 if bool(pred) else 1], list(ins)),
          context=("run",), control=Control(skip=1, labels=("true", "false")))
_register("while_loop", "control", lambda avals, weak, cond, body, n_carry:
          _program_outputs(body), _while_impl,
          context=("run",), control=Control(loop=True, predicate="cond"))
_register("fori_loop", "control", lambda avals, weak, body, n_carry: _program_outputs(body),
          _fori_impl, context=("run",), control=Control(skip=2, index=True, loop=True))

# ---------------------------------------------------------------- annotations

_register("hint", "annotation", lambda avals, weak, name, location: [],
          lambda x, name, location: [], reads=False)
_register("tap", "annotation", lambda avals, weak, name: [],
          lambda x, name, record: record(name, x) or [], context=("record",))
