"""The closed set of primitives: shape/dtype rules and numpy rules.

Every equation applies one primitive. A primitive's `kind` tells later passes
what it may do with storage:

- ``elementwise``: result element i depends only on operand elements i
  (scalars broadcast), so the result may reuse a dying operand's storage;
- ``reduction``: buffer(s) in, scalar out;
- ``view``: the result reads part of its base without copying;
- ``update``/``build``/``fill``: build a buffer or stack (a fresh value);
- ``system``: a call into the ODE system, reads its inputs, writes its output;
- ``control``: structured control flow or a child call, with sub-programs;
- ``annotation``: no outputs (`hint`, `tap`).

Control-flow primitives are evaluated by the interpreter, which owns
sub-program evaluation; the rest carry their numpy rule here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import numpy as np

from cubie_trace.core.values import FLOAT_DTYPES, Aval, numpy_dtype


class TracerError(Exception):
    """An error in the traced function: a misuse the tracer cannot record."""


@attrs.frozen
class Primitive:
    """A primitive operation of the IR."""

    name: str
    kind: str
    abstract: Callable[..., list[Aval]]
    impl: Callable[..., list[Any]] | None = None
    uses_precision: bool = False  # its numpy rule takes the working `precision`

    def __str__(self) -> str:
        return self.name


PRIMITIVES: dict[str, Primitive] = {}


def _register(name: str, kind: str, abstract: Callable, impl: Callable | None = None,
              uses_precision: bool = False) -> Primitive:
    prim = Primitive(name, kind, abstract, impl, uses_precision)
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
          [np.asarray(x).astype(numpy_dtype(dtype, precision))[()]], uses_precision=True)


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
          lambda base, index: [np.array(base[int(index)], copy=True)])
_register("slice", "view", _slice_abstract,
          lambda base, start, stop: [np.array(base[start:stop], copy=True)])
_register("set_index", "update", _set_index_abstract, _set_index_impl)
_register("stack", "build", _stack_abstract, lambda *rows: [np.stack(rows)])
_register("fill", "fill", _fill_abstract,
          lambda value, shape, dtype, precision="float64":
          [np.full(shape, value, dtype=numpy_dtype(dtype, precision))], uses_precision=True)


# ---------------------------------------------------------------- system calls


def _system_abstract(avals: list[Aval], weak: list[bool], system: Any, fn: str) -> list[Aval]:
    return list(system.abstract(fn, avals))


def _system_impl(*args: Any, system: Any, fn: str) -> list[Any]:
    return list(system.evaluate(fn, *args))


_register("system", "system", _system_abstract, _system_impl)


# ---------------------------------------------------------------- control flow


def _program_outputs(program: Any) -> list[Aval]:
    return [a.aval for a in program.outputs]


_register("call", "control", lambda avals, weak, program: _program_outputs(program))
_register("cond", "control", lambda avals, weak, branches: _program_outputs(branches[0]))
_register("while_loop", "control", lambda avals, weak, cond, body, n_carry:
          _program_outputs(body))
_register("fori_loop", "control", lambda avals, weak, body, n_carry: _program_outputs(body))

# ---------------------------------------------------------------- annotations

_register("hint", "annotation", lambda avals, weak, name, location: [])
_register("tap", "annotation", lambda avals, weak, name: [])


def sub_programs(params: dict[str, Any]) -> list[Any]:
    """The sub-programs an equation's parameters hold, in a fixed order."""
    out: list[Any] = []
    for key in ("program", "cond", "body"):
        if key in params:
            out.append(params[key])
    out.extend(params.get("branches", ()))
    return out
