"""The tracer: records what a Python function computes as a Program.

A `Builder` collects the equations of one (sub-)program. Tracing runs the
user's function on `Tracer` objects; every operation on them appends an
equation to the innermost active builder. A tracer of an enclosing builder
used inside a nested one (a loop body, a cond branch, a child function) is
captured: it becomes an explicit input of the nested program, passed as an
operand by the enclosing equation.

The stack of active builders belongs to the thread (a `ContextVar`), so
several threads trace at once without seeing each other's values.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextvars import ContextVar
from typing import Any

import numpy as np

from cubie_trace.core.primitives import PRIMITIVES, TracerError
from cubie_trace.core.program import Eqn, Program
from cubie_trace.core.tree import TreeDef, flatten, unflatten
from cubie_trace.core.values import Atom, Aval, Lit, Var, literal

# innermost last; a tuple, so each push or pop sets a new value for this context only
_STACK: ContextVar[tuple[Builder, ...]] = ContextVar("cubie_trace_builders", default=())

_CONTROL_HELP = ("use ct.cond(pred, true_fn, false_fn, *operands) for branches, "
                 "ct.while_loop / ct.fori_loop for loops, or ct.where(pred, a, b) to select values")


class Builder:
    """Collects the equations, inputs and captures of one program being traced."""

    def __init__(self, parent: Builder | None) -> None:
        self.parent = parent
        self.eqns: list[Eqn] = []
        self.captures: dict[Var, tuple[Tracer, Var]] = {}
        self.active = True

    def atom(self, value: Any) -> Atom:
        """The atom standing for `value` (a tracer or a number) in this builder."""
        if isinstance(value, Tracer):
            return self._local(value)
        if isinstance(value, np.ndarray) and value.ndim == 0:
            value = value[()]
        if isinstance(value, np.ndarray):
            raise TracerError("array constants cannot enter a traced function; pass arrays as "
                              "inputs (buffers) instead")
        return literal(value)

    def _local(self, tracer: Tracer) -> Var:
        if tracer.builder is self:
            return tracer.var
        if not tracer.builder.active:
            raise TracerError("a traced value escaped the function that computed it "
                              "(leaked tracer); return it from that function instead")
        if self.parent is None:
            raise TracerError("a traced value from another trace was used here")
        outer = self.parent._local(tracer)
        if outer not in self.captures:
            self.captures[outer] = (Tracer(outer, self.parent), Var(outer.aval))
        return self.captures[outer][1]

    def add(self, primitive: str, args: Sequence[Any], params: dict[str, Any]) -> list[Tracer]:
        """Append `primitive(*args, **params)` and return tracers of its outputs."""
        prim = PRIMITIVES[primitive]
        atoms = [self.atom(a) for a in args]
        weak = [isinstance(a, Lit) for a in atoms]
        avals = prim.abstract([a.aval for a in atoms], weak, **params)
        outs = [Var(aval) for aval in avals]
        self.eqns.append(Eqn(prim, tuple(atoms), tuple(outs), params))
        return [Tracer(v, self) for v in outs]


class Tracer:
    """A traced value. Supports Python arithmetic, comparisons and indexing."""

    __slots__ = ("var", "builder")
    __array_priority__ = 1000
    __hash__ = object.__hash__

    def __init__(self, var: Var, builder: Builder) -> None:
        self.var = var
        self.builder = builder

    shape = property(lambda self: self.var.shape)
    dtype = property(lambda self: self.var.dtype)
    ndim = property(lambda self: len(self.var.shape))
    size = property(lambda self: self.var.aval.elements)

    def __repr__(self) -> str:
        return f"Tracer<{self.var.aval.short()}>"

    # Python control flow on traced values cannot be recorded.
    def __bool__(self) -> bool:
        raise TracerError(f"Python `if`/`bool()`/`and`/`or` on a traced value; {_CONTROL_HELP}")

    def __int__(self) -> int:
        raise TracerError(f"`int()` of a traced value; its value is unknown while tracing. "
                          f"{_CONTROL_HELP}")

    def __float__(self) -> float:
        raise TracerError("`float()` of a traced value; its value is unknown while tracing. "
                          f"{_CONTROL_HELP}")

    def __index__(self) -> int:
        raise TracerError("a traced value used as a Python index or size; its value is unknown "
                          f"while tracing. {_CONTROL_HELP}")

    def __len__(self) -> int:
        if not self.shape:
            raise TracerError(f"`len()` of a traced scalar; {_CONTROL_HELP}")
        return self.shape[0]

    def __iter__(self) -> Any:
        if not self.shape:
            raise TracerError(f"iteration over a traced scalar; {_CONTROL_HELP}")
        return (self[i] for i in range(self.shape[0]))

    def __getitem__(self, key: Any) -> Tracer:
        from cubie_trace.core import ops

        return ops.getitem(self, key)

    @property
    def at(self) -> _At:
        """Functional updates: `x.at[i].set(v)` returns a copy of `x` with row/element i = v."""
        return _At(self)

    def astype(self, dtype: str) -> Tracer:
        from cubie_trace.core import ops

        return ops.astype(self, dtype)

    def _binary(name: str, swap: bool = False) -> Callable:  # noqa: N805
        def method(self: Tracer, other: Any) -> Any:
            from cubie_trace.core import ops

            if not isinstance(other, (Tracer, int, float, bool, np.number, np.bool_, np.ndarray)):
                return NotImplemented
            return ops.apply(name, other, self) if swap else ops.apply(name, self, other)

        return method

    __add__ = _binary("add")
    __radd__ = _binary("add", True)
    __sub__ = _binary("sub")
    __rsub__ = _binary("sub", True)
    __mul__ = _binary("mul")
    __rmul__ = _binary("mul", True)
    __truediv__ = _binary("div")
    __rtruediv__ = _binary("div", True)
    __floordiv__ = _binary("floordiv")
    __rfloordiv__ = _binary("floordiv", True)
    __pow__ = _binary("pow")
    __rpow__ = _binary("pow", True)
    __lt__ = _binary("lt")
    __le__ = _binary("le")
    __gt__ = _binary("gt")
    __ge__ = _binary("ge")
    __eq__ = _binary("eq")  # type: ignore[assignment]
    __ne__ = _binary("ne")  # type: ignore[assignment]
    __and__ = _binary("and")
    __rand__ = _binary("and", True)
    __or__ = _binary("or")
    __ror__ = _binary("or", True)
    del _binary

    def __neg__(self) -> Tracer:
        return current().add("neg", [self], {})[0]

    def __pos__(self) -> Tracer:
        return self

    def __abs__(self) -> Tracer:
        return current().add("abs", [self], {})[0]

    def __invert__(self) -> Tracer:
        return current().add("not", [self], {})[0]


class _At:
    def __init__(self, base: Tracer) -> None:
        self.base = base

    def __getitem__(self, index: Any) -> _AtIndex:
        return _AtIndex(self.base, index)


class _AtIndex:
    def __init__(self, base: Tracer, index: Any) -> None:
        self.base, self.index = base, index

    def set(self, value: Any) -> Tracer:
        from cubie_trace.core import ops

        return ops.set_index(self.base, self.index, value)


def current() -> Builder:
    """The innermost active builder."""
    stack = _STACK.get()
    if not stack:
        raise TracerError("no trace is active")
    return stack[-1]


def active() -> bool:
    """Whether a trace is active in this thread."""
    return bool(_STACK.get())


def is_tracing(*values: Any) -> bool:
    """Whether any of `values` (nested containers allowed) is a tracer."""
    return any(isinstance(v, Tracer) for v in flatten(list(values))[0])


def trace_function(fn: Callable, in_avals: Sequence[Aval], in_tree: TreeDef,
                   name: str = "program", root: bool = False) -> tuple[Program, list[Tracer]]:
    """Trace `fn(*unflatten(in_tree, inputs))` into a Program.

    Returns the program and the tracers of the enclosing trace it captured;
    the program's inputs are the explicit inputs followed by one per capture.
    A `root` trace starts afresh and captures nothing.
    """
    stack = _STACK.get()
    builder = Builder(None if root or not stack else stack[-1])
    inputs = [Var(a) for a in in_avals]
    token = _STACK.set((*stack, builder))
    try:
        args = unflatten(in_tree, [Tracer(v, builder) for v in inputs])
        result = fn(*args)
        leaves, out_tree = flatten(result)
        outputs = [builder.atom(x) for x in leaves]
    finally:
        _STACK.reset(token)
        builder.active = False
    captured = [tracer for tracer, _ in builder.captures.values()]
    program = Program(
        inputs=tuple(inputs) + tuple(inner for _, inner in builder.captures.values()),
        outputs=tuple(outputs), eqns=tuple(builder.eqns), name=name,
        in_tree=in_tree, out_tree=out_tree)
    return program, captured


def aval_of(value: Any) -> Aval:
    """The abstract value of a tracer, number, array or Aval."""
    if isinstance(value, Aval):
        return value
    if isinstance(value, Tracer):
        return value.var.aval
    if isinstance(value, (Var, Lit)):
        return value.aval
    if isinstance(value, (bool, int, float, np.number, np.bool_)):
        return literal(value).aval
    arr = np.asarray(value)
    kind = {"f": "float", "i": "int32", "u": "int32", "b": "bool"}.get(arr.dtype.kind)
    if kind is None:
        raise TypeError(f"cannot trace a value of dtype {arr.dtype}")
    return Aval(arr.shape, kind)
