"""Forward-mode differentiation of Programs: `jvp(program, primals, tangents)`.

The program is evaluated on its primal values and their tangents (directional
derivatives) together, equation by equation, through `cubie_trace.core.ops`: on numbers
it computes numbers, inside a trace it records the derivative program, whose tangent
buffers the layout then plans like any other. Each primitive's derivative rule lives in
`JVP_RULES`. Loops carry (primal, tangent) pairs, both branches of a `cond` return
both, child calls are differentiated inline. Integer and boolean values have no
tangent, and a value that depends on no differentiated input has none either (None,
a zero that is never materialised until an output or a carry needs it).

Rules take `(eqn, primals, tangents)` (the operands' values and tangents, None for a
zero) and return `(outputs, output tangents)`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from cubie_trace.core import ops
from cubie_trace.core import tracer as tr
from cubie_trace.core.program import Eqn, Program
from cubie_trace.core.tree import flatten, unflatten
from cubie_trace.core.values import FLOAT_DTYPES, Lit, Var, numpy_dtype

Rule = Callable[[Eqn, list[Any], list[Any]], tuple[list[Any], list[Any]]]


def jvp(program: Program, primals: Any, tangents: Any) -> tuple[Any, Any]:
    """`(outputs, output tangents)` of `program` at `primals` in the direction `tangents`
    (structured like its inputs; None, or a leaf None, for a zero tangent). Output
    tangents are structured like the outputs: zeros where an output does not depend on
    the inputs, None for integer and boolean outputs."""
    leaves, _ = flatten(list(primals) if isinstance(primals, tuple) else primals)
    if len(leaves) != len(program.inputs):
        raise TypeError(f"jvp: {program.name} takes {len(program.inputs)} inputs, "
                        f"got {len(leaves)}")
    if tangents is None:
        tans: list[Any] = [None] * len(leaves)
    else:
        tans = _tangent_leaves(tangents, len(leaves))
    primal_in = [_typed(v, var) for v, var in zip(leaves, program.inputs)]
    tangent_in = [None if t is None or not _differentiable(var) else _typed(t, var)
                  for t, var in zip(tans, program.inputs)]
    outs, touts = evaluate(program, primal_in, tangent_in)
    touts = [_materialise(t, o, a) for t, o, a in zip(touts, outs, program.outputs)]
    if program.out_tree is None:
        return tuple(outs), tuple(touts)
    return unflatten(program.out_tree, outs), unflatten(program.out_tree, touts)


def _tangent_leaves(tangents: Any, n: int) -> list[Any]:
    leaves, _ = flatten(list(tangents) if isinstance(tangents, tuple) else tangents,
                        none_is_leaf=True)
    if len(leaves) != n:
        raise TypeError(f"jvp: {n} tangents expected (one per input), got {len(leaves)}")
    return leaves


def evaluate(program: Program, primals: list[Any], tangents: list[Any]
             ) -> tuple[list[Any], list[Any]]:
    """The flat outputs of `program` and their tangents (None: zero)."""
    env: dict[Var, Any] = dict(zip(program.inputs, primals))
    tenv: dict[Var, Any] = dict(zip(program.inputs, tangents))
    for eqn in program.eqns:
        ins = [_read(env, a) for a in eqn.inputs]
        tins = [tenv.get(a) if isinstance(a, Var) else None for a in eqn.inputs]
        rule = JVP_RULES.get(eqn.primitive.name)
        if rule is None:
            raise NotImplementedError(f"jvp: no derivative rule for {eqn.primitive.name!r}")
        outs, touts = rule(eqn, ins, tins)
        for var, value, tangent in zip(eqn.outputs, outs, touts):
            env[var] = value
            tenv[var] = tangent if _differentiable(var) else None
    return ([_read(env, a) for a in program.outputs],
            [tenv.get(a) if isinstance(a, Var) else None for a in program.outputs])


def _read(env: dict[Var, Any], atom: Any) -> Any:
    if isinstance(atom, Lit):
        return atom.value
    return env[atom]


def _typed(value: Any, var: Var) -> Any:
    if isinstance(value, tr.Tracer):
        return value
    arr = np.asarray(value, dtype=numpy_dtype(var.dtype, "float64"))
    return arr[()] if arr.ndim == 0 else arr


def _differentiable(var: Any) -> bool:
    return var.dtype in FLOAT_DTYPES


def _materialise(tangent: Any, value: Any, atom: Any) -> Any:
    """An output's tangent: zeros where it has none (None for integers and booleans)."""
    if not _differentiable(atom):
        return None
    return _dense(tangent, value)


def _dense(tangent: Any, like: Any) -> Any:
    """`tangent`, or a zero of the shape and float type of `like` (for a carried or
    returned tangent): traced while tracing, a number otherwise."""
    if tangent is not None:
        return tangent
    aval = tr.aval_of(like)
    dtype = aval.dtype if aval.dtype in FLOAT_DTYPES else "float"
    zero = ops.full(aval.shape, 0.0, dtype)
    return zero if isinstance(zero, tr.Tracer) else np.asarray(zero)[()]


def _apply(eqn: Eqn, ins: list[Any]) -> list[Any]:
    out = ops.apply(eqn.primitive.name, *ins, **eqn.params)
    return list(out) if isinstance(out, tuple) else [out]


# ---------------------------------------------------------------- elementwise


def _sum(*terms: Any) -> Any:
    present = [t for t in terms if t is not None]
    if not present:
        return None
    out = present[0]
    for t in present[1:]:
        out = out + t
    return out


def _scaled(t: Any, factor: Any) -> Any:
    return None if t is None else t * factor


def _guarded(t: Any, factor: Any) -> Any:
    """`t * factor` for a factor that is infinite at a singular point (sqrt or log at 0,
    a division by 0): a tangent that is exactly zero stays zero there, as it would for
    a value that does not depend on the inputs at all."""
    return None if t is None else ops.where(t == 0.0, 0.0, t * factor)


def _unary(derivative: Callable[[Any, Any], Any], singular: bool = False) -> Rule:
    """d out = derivative(x, out) dx (`singular`: the derivative may be infinite)."""
    scale = _guarded if singular else _scaled

    def rule(eqn: Eqn, ins: list[Any], tins: list[Any]) -> tuple[list[Any], list[Any]]:
        (out,) = _apply(eqn, ins)
        return [out], [scale(tins[0], derivative(ins[0], out))]
    return rule


def _binary(tangent: Callable[..., Any]) -> Rule:
    def rule(eqn: Eqn, ins: list[Any], tins: list[Any]) -> tuple[list[Any], list[Any]]:
        (out,) = _apply(eqn, ins)
        if tins[0] is None and tins[1] is None:
            return [out], [None]
        return [out], [tangent(*ins, *tins, out)]
    return rule


def _pow(a: Any, b: Any, ta: Any, tb: Any, out: Any) -> Any:
    return _sum(_guarded(ta, b * a ** (b - 1.0)), _guarded(tb, out * ops.log(a)))


def _select(first: Callable[[Any, Any], Any]) -> Rule:
    """min / max: the tangent of the operand chosen (the first at a tie)."""
    def rule(eqn: Eqn, ins: list[Any], tins: list[Any]) -> tuple[list[Any], list[Any]]:
        (out,) = _apply(eqn, ins)
        a, b = ins
        if tins[0] is None and tins[1] is None:
            return [out], [None]
        ta, tb = (_dense(t, x) for t, x in zip(tins, (out, out)))
        return [out], [ops.where(first(a, b), ta, tb)]
    return rule


def _no_tangent(eqn: Eqn, ins: list[Any], tins: list[Any]) -> tuple[list[Any], list[Any]]:
    outs = _apply(eqn, ins)
    return outs, [None] * len(outs)


def _where(eqn: Eqn, ins: list[Any], tins: list[Any]) -> tuple[list[Any], list[Any]]:
    (out,) = _apply(eqn, ins)
    if tins[1] is None and tins[2] is None:
        return [out], [None]
    return [out], [ops.where(ins[0], _dense(tins[1], out), _dense(tins[2], out))]


def _cast(eqn: Eqn, ins: list[Any], tins: list[Any]) -> tuple[list[Any], list[Any]]:
    (out,) = _apply(eqn, ins)
    if tins[0] is None or eqn.params["dtype"] not in FLOAT_DTYPES:
        return [out], [None]
    return [out], [ops.astype(tins[0], eqn.params["dtype"])]


ELEMENTWISE_RULES: dict[str, Rule] = {
    "add": _binary(lambda a, b, ta, tb, out: _sum(ta, tb)),
    "sub": _binary(lambda a, b, ta, tb, out: _sum(ta, None if tb is None else -tb)),
    "mul": _binary(lambda a, b, ta, tb, out: _sum(_scaled(ta, b), _scaled(tb, a))),
    "div": _binary(lambda a, b, ta, tb, out: _sum(_guarded(ta, 1.0 / b),
                                                  _guarded(tb, -out / b))),
    "pow": _binary(_pow),
    "neg": _unary(lambda x, out: -1.0),
    "abs": _unary(lambda x, out: ops.where(x >= 0.0, 1.0, -1.0)),
    "sqrt": _unary(lambda x, out: 0.5 / out, singular=True),
    "exp": _unary(lambda x, out: out),
    "log": _unary(lambda x, out: 1.0 / x, singular=True),
    "sin": _unary(lambda x, out: ops.cos(x)),
    "cos": _unary(lambda x, out: -ops.sin(x)),
    "tan": _unary(lambda x, out: 1.0 + out * out),
    "tanh": _unary(lambda x, out: 1.0 - out * out),
    "minimum": _select(lambda a, b: a <= b),
    "maximum": _select(lambda a, b: a >= b),
    "where": _where,
    "cast": _cast,
    **{name: _no_tangent for name in ("floor", "floordiv", "lt", "le", "gt", "ge", "eq",
                                      "ne", "and", "or", "not", "isfinite")},
}


# ---------------------------------------------------------------- reductions


def _at_extreme(x: Any, out: Any, t: Any) -> Any:
    """The mean tangent over the elements where `x` attains `out` (ties share it)."""
    hit = x == out
    return ops.sum(ops.where(hit, t, 0.0)) / ops.sum(ops.where(hit, 1.0, 0.0))


def _reduction(eqn: Eqn, ins: list[Any], tins: list[Any]) -> tuple[list[Any], list[Any]]:
    (out,) = _apply(eqn, ins)
    name, x = eqn.primitive.name, ins[0]
    if all(t is None for t in tins):
        return [out], [None]
    if name == "sum":
        return [out], [ops.sum(tins[0])]
    if name == "dot":
        return [out], [_sum(None if tins[0] is None else ops.dot(tins[0], ins[1]),
                            None if tins[1] is None else ops.dot(x, tins[1]))]
    if name in ("max", "min"):
        return [out], [_at_extreme(x, out, tins[0])]
    if name == "max_abs":
        signed = tins[0] * ops.where(x >= 0.0, 1.0, -1.0)
        return [out], [_at_extreme(ops.abs(x), out, signed)]
    # rms_norm: r = sqrt(mean(q^2)), q = x / s; dr = sum(q dq) / (n r)
    s = ins[1]
    q = x / s
    dq = _sum(None if tins[0] is None else tins[0] / s,
              None if tins[1] is None else -(q * tins[1]) / s)
    n = float(np.prod(tr.aval_of(x).shape))
    return [out], [ops.where(out > 0.0, ops.sum(q * dq) / (n * out), 0.0)]


# ---------------------------------------------------------------- views and buffers


def _view(eqn: Eqn, ins: list[Any], tins: list[Any]) -> tuple[list[Any], list[Any]]:
    (out,) = _apply(eqn, ins)
    if tins[0] is None:
        return [out], [None]
    return [out], _apply(eqn, [tins[0], *ins[1:]])


def _set_index(eqn: Eqn, ins: list[Any], tins: list[Any]) -> tuple[list[Any], list[Any]]:
    (out,) = _apply(eqn, ins)
    base, index, value = ins
    if tins[0] is None and tins[2] is None:
        return [out], [None]
    zero_value = _dense(None, value) if tins[2] is None else tins[2]
    return [out], [ops.set_index(_dense(tins[0], base), index, zero_value)]


def _stack(eqn: Eqn, ins: list[Any], tins: list[Any]) -> tuple[list[Any], list[Any]]:
    (out,) = _apply(eqn, ins)
    if all(t is None for t in tins):
        return [out], [None]
    return [out], [ops.stack([_dense(t, row) for t, row in zip(tins, ins)])]


def _fill(eqn: Eqn, ins: list[Any], tins: list[Any]) -> tuple[list[Any], list[Any]]:
    (out,) = _apply(eqn, ins)
    if tins[0] is None or eqn.params["dtype"] not in FLOAT_DTYPES:
        return [out], [None]
    return [out], [ops.full(eqn.params["shape"], tins[0], eqn.params["dtype"])]


def _annotation(eqn: Eqn, ins: list[Any], tins: list[Any]) -> tuple[list[Any], list[Any]]:
    """Hints and taps apply to the primal values (and only while tracing)."""
    if tr.is_tracing(*ins):
        _apply(eqn, ins)
    return [], []


# ---------------------------------------------------------------- control flow


# Children whose forward-mode derivative is not the derivative of what they compute:
# a Newton solve's iterations stop when the primal has converged, its tangent's do not
# (the implicit function theorem's derivative would be needed there).
UNDIFFERENTIATED = {"newton": "a Newton solve stops on its own convergence, not its "
                              "tangent's (explicit and Rosenbrock methods differentiate)"}


def _call(eqn: Eqn, ins: list[Any], tins: list[Any]) -> tuple[list[Any], list[Any]]:
    program = eqn.params["program"]
    if program.name in UNDIFFERENTIATED and any(t is not None for t in tins):
        raise NotImplementedError(f"jvp: no derivative through the child {program.name!r}: "
                                  f"{UNDIFFERENTIATED[program.name]}")
    return evaluate(program, ins, tins)


def _cond(eqn: Eqn, ins: list[Any], tins: list[Any]) -> tuple[list[Any], list[Any]]:
    pred, operands, tangents = ins[0], ins[1:], tins[1:]
    given = [k for k, t in enumerate(tangents) if t is not None]
    floats = [k for k, v in enumerate(eqn.outputs) if _differentiable(v)]

    def branch(program: Program) -> Callable[..., Any]:
        def run(*args: Any) -> tuple[list[Any], list[Any]]:
            values, known = list(args[:len(operands)]), args[len(operands):]
            tans: list[Any] = [None] * len(operands)
            for k, t in zip(given, known):
                tans[k] = t
            outs, touts = evaluate(program, values, tans)
            return outs, [_dense(touts[k], outs[k]) for k in floats]
        return run

    true_branch, false_branch = eqn.params["branches"]
    outs, dense = ops.cond(pred, branch(true_branch), branch(false_branch), *operands,
                           *(tangents[k] for k in given))
    touts: list[Any] = [None] * len(eqn.outputs)
    for k, t in zip(floats, dense):
        touts[k] = t
    return list(outs), touts


def _loop(eqn: Eqn, ins: list[Any], tins: list[Any]) -> tuple[list[Any], list[Any]]:
    """while_loop and fori_loop: the carries extended by the float carries' tangents."""
    control = eqn.primitive.control
    n_carry = eqn.params["n_carry"]
    skip = control.skip
    carries, consts = ins[skip:skip + n_carry], ins[skip + n_carry:]
    tconsts = tins[skip + n_carry:]
    floats = [k for k in range(n_carry) if _differentiable(eqn.outputs[k])]
    init = (list(carries), [_dense(tins[skip + k], carries[k]) for k in floats])
    body = control.body(eqn)

    def step(prefix: list[Any], state: tuple[list[Any], list[Any]]) -> Any:
        values, dense = state
        tans: list[Any] = [None] * n_carry
        for k, t in zip(floats, dense):
            tans[k] = t
        outs, touts = evaluate(body, [*prefix, *values, *consts],
                               [*([None] * len(prefix)), *tans, *tconsts])
        return (outs, [_dense(touts[k], outs[k]) for k in floats])

    if control.index:
        lower, upper = ins[0], ins[1]
        final = ops.fori_loop(lower, upper, lambda i, s: step([i], s), init)
    else:
        cond = eqn.params["cond"]
        final = ops.while_loop(
            lambda s: evaluate(cond, [*s[0], *consts], [None] * (n_carry + len(consts)))[0][0],
            lambda s: step([], s), init)
    values, dense = final
    touts: list[Any] = [None] * n_carry
    for k, t in zip(floats, dense):
        touts[k] = t
    return list(values), touts


def _system(eqn: Eqn, ins: list[Any], tins: list[Any]) -> tuple[list[Any], list[Any]]:
    """A system function: its tangent is the system's `<fn>_tangent`, the derivative
    along the tangents of its operands and parameters (derived by SymPy)."""
    outs = _apply(eqn, ins)
    if all(t is None for t in tins):
        return outs, [None] * len(outs)
    system, fn = eqn.params["system"], eqn.params["fn"]
    if f"{fn}_tangent" not in system.functions:
        raise NotImplementedError(
            f"jvp: system {system.name!r} gives no derivative of its function {fn!r} "
            "(jvp differentiates the functions of systems without drivers)")
    *own, p = ins
    dense = [_dense(d, x) for d, x in zip(tins, ins)]
    tangent = ops.apply("system", *own, *dense[:-1], dense[-1], p, system=system,
                        fn=f"{fn}_tangent")
    return outs, [tangent]


JVP_RULES: dict[str, Rule] = {
    **ELEMENTWISE_RULES,
    **{name: _reduction for name in ("sum", "max", "min", "max_abs", "dot", "rms_norm")},
    "index": _view, "slice": _view, "set_index": _set_index, "stack": _stack,
    "fill": _fill, "hint": _annotation, "tap": _annotation, "call": _call, "cond": _cond,
    "while_loop": _loop, "fori_loop": _loop, "system": _system,
}
