"""Operations users call as `ct.<name>`.

Each works on tracers (recording an equation) and on plain numbers and numpy
arrays (computing the result directly), so one function can be traced and
also run as ordinary numpy code: the basis of the differential tests.
"""

from __future__ import annotations

import builtins
import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from cubie_trace.core import tracer as tr
from cubie_trace.core.primitives import PRIMITIVES, TracerError
from cubie_trace.core.program import Program
from cubie_trace.core.tree import flatten, unflatten
from cubie_trace.core.values import Aval, Var, check_dtype

LOCATIONS = ("shared", "local")


def apply(primitive: str, /, *args: Any, **params: Any) -> Any:
    """Apply `primitive`: record it if any operand is traced, else compute it."""
    # `fill` has no traced operand (ct.zeros(n)), so inside a trace it is recorded too
    if tr.is_tracing(*args) or (primitive == "fill" and tr.active()):
        outs = tr.current().add(primitive, args, params)
        return outs[0] if len(outs) == 1 else tuple(outs)
    out = PRIMITIVES[primitive].impl(*args, **params)
    return out[0] if len(out) == 1 else tuple(out)


def _unary(name: str) -> Callable[[Any], Any]:
    def op(x: Any) -> Any:
        return apply(name, x)

    op.__name__ = name
    op.__doc__ = f"Elementwise `{name}`."
    return op


def _binary(name: str) -> Callable[[Any, Any], Any]:
    def op(x: Any, y: Any) -> Any:
        return apply(name, x, y)

    op.__name__ = name
    op.__doc__ = f"Elementwise `{name}` (scalars broadcast)."
    return op


sqrt, exp, log, sin, cos, tan, tanh, floor, isfinite = (
    _unary(n) for n in ("sqrt", "exp", "log", "sin", "cos", "tan", "tanh", "floor", "isfinite"))
abs = _unary("abs")  # noqa: A001
logical_not = _unary("not")
minimum, maximum, logical_and, logical_or = (
    _binary(n) for n in ("minimum", "maximum", "and", "or"))


def where(cond: Any, x: Any, y: Any) -> Any:
    """Elementwise select: `x` where `cond` holds, else `y`. A Python bool `cond` picks
    its traced operand outright where that is already the result (same shape and dtype):
    a loop's carry selected by a condition known while tracing stays the same value."""
    if isinstance(cond, (bool, np.bool_)):
        chosen, other = (x, y) if cond else (y, x)
        if isinstance(chosen, tr.Tracer) and _covers(chosen, other):
            return chosen
    return apply("where", cond, x, y)


def _covers(chosen: tr.Tracer, other: Any) -> bool:
    """Whether `where(c, chosen, other)` has `chosen`'s shape and dtype."""
    if isinstance(other, tr.Tracer):
        return other.var.aval == chosen.var.aval
    kinds = {"bool": (bool, np.bool_), "int32": (int, np.integer),
             "float": (int, float, np.integer, np.floating)}
    kind = kinds.get("float" if chosen.dtype.startswith("float") else chosen.dtype, ())
    return isinstance(other, kind) and \
        isinstance(other, (bool, np.bool_)) == (chosen.dtype == "bool")


def sum(x: Any) -> Any:  # noqa: A001
    """Sum of a buffer's elements."""
    return apply("sum", x)


def max(x: Any) -> Any:  # noqa: A001
    """Largest element of a buffer."""
    return apply("max", x)


def min(x: Any) -> Any:  # noqa: A001
    """Smallest element of a buffer."""
    return apply("min", x)


def max_abs(x: Any) -> Any:
    """Largest absolute value of a buffer's elements."""
    return apply("max_abs", x)


def dot(x: Any, y: Any) -> Any:
    """Inner product of two buffers."""
    return apply("dot", x, y)


def rms_norm(x: Any, scale: Any) -> Any:
    """Weighted RMS norm `sqrt(mean((x / scale)**2))` (scale: buffer or scalar)."""
    return apply("rms_norm", x, scale)


def astype(x: Any, dtype: str) -> Any:
    """Convert to `dtype` ("float", "float32", "float64", "int32", "bool")."""
    return apply("cast", x, dtype=check_dtype(dtype))


def full(shape: int | tuple[int, ...], value: Any, dtype: str = "float") -> Any:
    """A buffer (or `(rows, n)` stack) filled with `value`."""
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    Aval(shape, check_dtype(dtype))
    return apply("fill", value, shape=shape, dtype=dtype)


def zeros(shape: int | tuple[int, ...], dtype: str = "float") -> Any:
    """A buffer of zeros."""
    return full(shape, 0, dtype)


def zeros_like(x: Any) -> Any:
    """Zeros of the shape and dtype of `x`."""
    aval = tr.aval_of(x)
    return full(aval.shape, 0, aval.dtype)


def stack(rows: Sequence[Any]) -> Any:
    """A `(len(rows), n)` stack built from buffers of length n."""
    if not rows:
        raise TracerError("stack: needs at least one row")
    return apply("stack", *rows)


def getitem(x: Any, key: Any) -> Any:
    """`x[i]` (a row of a stack or an element of a buffer) or `x[a:b]` (a static slice)."""
    shape = tr.aval_of(x).shape
    if isinstance(key, slice):
        if len(shape) != 1:
            raise TracerError("slices apply to 1-d buffers only")
        start, stop, step = key.indices(shape[0])
        if step != 1:
            raise TracerError("slices with a step are not supported")
        return apply("slice", x, start=start, stop=builtins.max(start, stop))
    return apply("index", x, _static_index(key, shape))


def set_index(x: Any, index: Any, value: Any) -> Any:
    """Copy of `x` with row or element `index` replaced by `value`."""
    return apply("set_index", x, _static_index(index, tr.aval_of(x).shape), value)


def _static_index(key: Any, shape: tuple[int, ...]) -> Any:
    if isinstance(key, tr.Tracer):
        if key.shape != () or key.dtype != "int32":
            raise TracerError(f"a traced index must be an int32 scalar, got {key!r}")
        return key
    if not isinstance(key, (int, np.integer)):
        raise TracerError(f"index must be an int or a traced int32 scalar, got {key!r}")
    if not shape:
        raise TracerError("cannot index a scalar")
    if not -shape[0] <= int(key) < shape[0]:
        raise TracerError(f"index {key} out of range for length {shape[0]}")
    return int(key) % shape[0]


# ---------------------------------------------------------------- control flow


def _trace_joint(fns: Sequence[Callable], in_avals: list[Aval], in_tree: Any,
                 names: Sequence[str]) -> tuple[list[Program], list[tr.Tracer]]:
    """Trace functions sharing one signature; give all of them every capture as an input."""
    traced = [tr.trace_function(fn, in_avals, in_tree, name) for fn, name in zip(fns, names)]
    union: dict[Var, tr.Tracer] = {}
    for _, captured in traced:
        for t in captured:
            union.setdefault(t.var, t)
    n = len(in_avals)
    programs = []
    for program, captured in traced:
        own = dict(zip((t.var for t in captured), program.inputs[n:]))
        programs.append(program.replace(
            inputs=program.inputs[:n] + tuple(own.get(v, Var(v.aval)) for v in union)))
    return programs, list(union.values())


def _check_same(what: str, expected: list[Aval], got: list[Aval], advice: str) -> None:
    if expected != got:
        raise TracerError(f"{what}: expected {[a.short() for a in expected]}, got "
                          f"{[a.short() for a in got]}; {advice}")


def cond(pred: Any, true_fn: Callable, false_fn: Callable, *operands: Any) -> Any:
    """`true_fn(*operands)` if `pred` else `false_fn(*operands)`; both branches are traced."""
    if not isinstance(pred, tr.Tracer):
        return true_fn(*operands) if pred else false_fn(*operands)
    if pred.shape != () or pred.dtype not in ("bool", "int32"):
        raise TracerError(f"cond: the predicate must be a bool or int32 scalar, got {pred!r}")
    leaves, in_tree = flatten(list(operands))
    avals = [tr.aval_of(x) for x in leaves]
    (t_prog, f_prog), consts = _trace_joint(
        [lambda *a: true_fn(*a), lambda *a: false_fn(*a)], avals, in_tree, ["true", "false"])
    if t_prog.out_tree != f_prog.out_tree:
        raise TracerError("cond: the branches return different structures")
    _check_same("cond: the branches' outputs differ", [a.aval for a in t_prog.outputs],
                [a.aval for a in f_prog.outputs], "make both branches return the same shapes "
                "and dtypes (use 0.0, not 0, for a float)")
    outs = tr.current().add("cond", [pred, *leaves, *consts], {"branches": (t_prog, f_prog)})
    return unflatten(t_prog.out_tree, outs)


def while_loop(cond_fn: Callable, body_fn: Callable, init: Any) -> Any:
    """Repeat `carry = body_fn(carry)` while `cond_fn(carry)`; returns the final carry."""
    if not tr.active():
        carry = init
        while cond_fn(carry):
            carry = body_fn(carry)
        return carry
    leaves, tree = flatten(init)
    avals = [tr.aval_of(x) for x in leaves]
    _, arg_tree = flatten((init,))
    (c_prog, b_prog), consts = _trace_joint([cond_fn, body_fn], avals, arg_tree, ["cond", "body"])
    pred = c_prog.outputs[0].aval if len(c_prog.outputs) == 1 else None
    if pred is None or pred.shape != () or pred.dtype not in ("bool", "int32"):
        raise TracerError("while_loop: cond_fn must return one bool scalar")
    _check_body("while_loop", b_prog, tree, avals)
    outs = tr.current().add("while_loop", [*leaves, *consts],
                            {"cond": c_prog, "body": b_prog, "n_carry": len(leaves)})
    return unflatten(tree, outs)


def fori_loop(lower: Any, upper: Any, body_fn: Callable, init: Any) -> Any:
    """`carry = body_fn(i, carry)` for i in range(lower, upper); returns the final carry."""
    if not tr.active():
        carry = init
        for i in range(int(lower), int(upper)):
            carry = body_fn(np.int32(i), carry)
        return carry
    for bound in (lower, upper):
        if tr.aval_of(bound) != Aval((), "int32"):
            raise TracerError(f"fori_loop: bounds must be int32 scalars, got {bound!r}")
    leaves, tree = flatten(init)
    avals = [tr.aval_of(x) for x in leaves]
    _, pair_tree = flatten((0, init))
    (b_prog,), consts = _trace_joint([body_fn], [Aval((), "int32"), *avals], pair_tree, ["body"])
    _check_body("fori_loop", b_prog, tree, avals)
    outs = tr.current().add("fori_loop", [lower, upper, *leaves, *consts],
                            {"body": b_prog, "n_carry": len(leaves)})
    return unflatten(tree, outs)


def _check_body(what: str, body: Program, tree: Any, avals: list[Aval]) -> None:
    if body.out_tree != tree:
        raise TracerError(f"{what}: the body must return a carry of the same structure as init")
    _check_same(f"{what}: the body changes the carry", avals, [a.aval for a in body.outputs],
                "give init the dtypes the body produces (use 0.0, not 0, for a float)")


def function(fn: Callable | None = None, *, name: str | None = None) -> Any:
    """Mark `fn` as a child program: traced once per signature and called, not inlined."""
    if fn is None:
        return functools.partial(function, name=name)
    label = name or fn.__name__
    cache: dict[Any, tuple[Program, list[tr.Tracer]]] = {}

    @functools.wraps(fn)
    def wrapper(*args: Any) -> Any:
        if not tr.active():
            return fn(*args)
        leaves, tree = flatten(list(args))
        avals = tuple(tr.aval_of(x) for x in leaves)
        key = (avals, tree)
        hit = cache.get(key)
        if hit is None or not _reachable(hit[1]):
            hit = tr.trace_function(lambda *a: fn(*a), avals, tree, label)
            cache[key] = hit
            program, captured = hit
        else:
            program, captured = hit[0].clone(), hit[1]
        outs = tr.current().add("call", [*leaves, *captured], {"program": program})
        return unflatten(program.out_tree, outs)

    wrapper.child_cache = cache  # type: ignore[attr-defined]
    return wrapper


def _reachable(captured: list[tr.Tracer]) -> bool:
    builders = set()
    b: tr.Builder | None = tr.current()
    while b is not None:
        builders.add(id(b))
        b = b.parent
    return all(t.builder.active and id(t.builder) in builders for t in captured)


# ---------------------------------------------------------------- annotations


def hint(x: Any, name: str | None = None, location: str | None = None) -> Any:
    """Name a buffer and/or pin its location ("shared" or "local"); returns `x`."""
    if location is not None and location not in LOCATIONS:
        raise ValueError(f"hint: location must be one of {LOCATIONS}, got {location!r}")
    if name is not None and not name.isidentifier():
        raise ValueError(f"hint: name must be an identifier, got {name!r}")
    if isinstance(x, tr.Tracer):
        tr.current().add("hint", [x], {"name": name, "location": location})
    return x


def tap(name: str, x: Any) -> None:
    """Record the value of `x` under `name` in instrumented runs."""
    if not name.isidentifier():
        raise ValueError(f"tap: name must be an identifier, got {name!r}")
    if isinstance(x, tr.Tracer):
        tr.current().add("tap", [x], {"name": name})
