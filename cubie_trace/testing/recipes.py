"""The recipe language of random test functions.

A function is a *recipe*: a tuple of small statements `(op, a, b, c, *bodies)`
that `run_recipe` interprets with `ct` ops, so one recipe runs eagerly on numpy
and also traces. Values live in typed pools ("v" float buffers of length n, "s"
float scalars, "i" int32 scalars, "k" stacks); the selectors `a, b, c` pick from
a pool counting back from its newest value (and choose constants and variants),
so every recipe is valid and shrinks towards short chains. Ops keep values
finite: exp of tanh, log of 1 + x*x, division by 1 + x*x, products with tanh,
clamped int32 counters and indices.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partialmethod
from typing import Any

import attrs
import numpy as np

import cubie_trace as ct
from cubie_trace.core.ops import set_index
from cubie_trace.core.program import Program

Recipe = tuple[tuple[Any, ...], ...]
Log = dict[str, list[np.ndarray]]


_CONSTS = (0.5, -1.25, 2.0, 0.1, -0.75, 1.5, 3.0, -2.5)
_CMPS: tuple[Callable[[Any, Any], Any], ...] = (
    lambda x, y: x < y, lambda x, y: x <= y, lambda x, y: x > y,
    lambda x, y: x >= y, lambda x, y: x != y, lambda x, y: x == y)
_HINT_NAMES = ("acc", "stage", "err", "tmp")
_LOCATIONS = (None, "shared", "local")


def _k(c: int) -> float:
    return _CONSTS[c % len(_CONSTS)]


def _clamp(x: Any, lo: int, hi: int) -> Any:
    return ct.minimum(ct.maximum(x, lo), hi)


def _set_row(stack: Any, index: Any, value: Any) -> Any:
    """`stack.at[index].set(value)`; numpy arrays have no `.at`, so use the op directly."""
    return stack.at[index].set(value) if hasattr(stack, "at") else set_index(stack, index, value)


class Env:
    """Typed pools of values seen by a recipe; `tap` records log taps in eager runs."""

    def __init__(self, n: int, pools: dict[str, list[Any]], recorder: Log | None) -> None:
        self.n = n
        self.pools = {kind: list(pools.get(kind, ())) for kind in "vsik"}
        self.recorder = recorder

    def get(self, kind: str, sel: int) -> Any:
        pool = self.pools[kind]
        if not pool:  # seed an empty pool from the buffers, the same way in every mode
            pool.append(_SEEDS[kind](self))
        return pool[-1 - sel % len(pool)]

    # e.v(sel): a float buffer, e.s: a float scalar, e.i: an int32 scalar, e.k: a stack
    v, s, i, k = (partialmethod(get, "v"), partialmethod(get, "s"), partialmethod(get, "i"),
                  partialmethod(get, "k"))

    def push(self, **values: Any) -> None:
        for kind, value in values.items():
            self.pools[kind].append(value)

    def child(self, **extra: Any) -> Env:
        """A nested scope: sees (closes over) every value here, plus `extra` values."""
        env = Env(self.n, self.pools, self.recorder)
        env.push(**extra)
        return env

    def last(self) -> tuple[Any, Any]:
        return self.v(0), self.s(0)

    def tap(self, name: str, value: Any) -> None:
        ct.tap(name, value)
        if self.recorder is not None:
            self.recorder.setdefault(name, []).append(np.array(value, copy=True))


_SEEDS: dict[str, Callable[[Env], Any]] = {
    "s": lambda e: ct.max_abs(e.v(0)),
    "i": lambda e: ct.astype(ct.tanh(e.s(0)) * 2.0, "int32"),
    "k": lambda e: ct.stack([e.v(0), e.v(1)]),
}


def _row(e: Env, a: int, b: int, dynamic: bool) -> tuple[Any, Any]:
    """A stack and a row index into it: static, or a clamped int32 counter."""
    stack = e.k(a)
    rows = stack.shape[0]
    return stack, _clamp(e.i(b), 0, rows - 1) if dynamic else b % rows


def _slice(e: Env, a: int, b: int, c: int) -> Any:
    lo = b % e.n
    hi = lo + 1 + c % (e.n - lo)
    start = lo - e.n if c % 2 else lo  # negative starts too
    return ct.sum(e.v(a)[start:hi]) + ct.dot(e.v(a)[lo:hi], ct.tanh(e.v(a + 1)[lo:hi]))


def _hint(e: Env, a: int, b: int, c: int) -> None:
    ct.hint(e.v(a) if b % 2 == 0 else e.s(a), name=_HINT_NAMES[b % 4],
            location=_LOCATIONS[c % 3])


# name: (pool the result joins or None, fn(env, a, b, c))
_LEAVES: dict[str, tuple[str | None, Callable[[Env, int, int, int], Any]]] = {
    # elementwise chains on buffers
    "add": ("v", lambda e, a, b, c: e.v(a) + e.v(b)),
    "sub": ("v", lambda e, a, b, c: e.v(a) - e.v(b)),
    "mul": ("v", lambda e, a, b, c: e.v(a) * ct.tanh(e.v(b))),
    "div": ("v", lambda e, a, b, c: e.v(a) / (1.0 + e.v(b) * e.v(b))),
    "neg": ("v", lambda e, a, b, c: -e.v(a)),
    "abs": ("v", lambda e, a, b, c: abs(e.v(a)) - ct.abs(e.v(b))),
    "sqrt": ("v", lambda e, a, b, c: ct.sqrt(ct.abs(e.v(a))) + ct.sqrt(1.0 + e.v(b) ** 2)),
    "exp": ("v", lambda e, a, b, c: ct.exp(ct.tanh(e.v(a)))),
    "log": ("v", lambda e, a, b, c: ct.log(1.0 + e.v(a) * e.v(a))),
    "trig": ("v", lambda e, a, b, c: ct.sin(e.v(a)) + ct.cos(e.v(b))),
    "minmax": ("v", lambda e, a, b, c: ct.maximum(ct.minimum(e.v(a), e.v(b)), _k(c))),
    "fill": ("v", lambda e, a, b, c: ct.full(e.n, _k(c)) + ct.zeros_like(e.v(a))),
    # Python floats, scalars and int32 counters broadcast
    "scale": ("v", lambda e, a, b, c: _k(c) * e.v(a) - e.v(b) / _k(b)),
    "shift": ("v", lambda e, a, b, c: _k(c) - e.v(a) + _k(b)),
    "rdiv": ("v", lambda e, a, b, c: _k(c) / (1.0 + e.v(a) * e.v(a))),
    "axpy": ("v", lambda e, a, b, c: e.v(a) + ct.tanh(e.s(c)) * e.v(b)),
    "vs": ("v", lambda e, a, b, c: e.v(a) / (1.0 + e.s(b) * e.s(b)) - e.s(c)),
    "vi": ("v", lambda e, a, b, c: e.v(a) + e.i(b)),
    # selection with comparisons
    "where": ("v", lambda e, a, b, c: ct.where(_CMPS[c % 6](e.v(a), e.v(b)), e.v(b), e.v(c))),
    "where_s": ("v", lambda e, a, b, c: ct.where(_CMPS[b % 6](e.s(a), _k(c)), e.v(a), _k(b))),
    "where_logic": ("v", lambda e, a, b, c: ct.where(
        ct.logical_or((e.v(a) > 0.0) & ~(e.v(b) < e.s(c)), ct.logical_not(e.v(b) > _k(c))),
        e.v(a), -e.v(b))),
    # reductions
    "sum": ("s", lambda e, a, b, c: ct.sum(e.v(a))),
    "dot": ("s", lambda e, a, b, c: ct.dot(e.v(a), ct.tanh(e.v(b)))),
    "max_abs": ("s", lambda e, a, b, c: ct.max_abs(e.v(a))),
    "max": ("s", lambda e, a, b, c: ct.max(e.v(a))),
    "min": ("s", lambda e, a, b, c: ct.min(e.v(a))),
    "rms_norm": ("s", lambda e, a, b, c: ct.rms_norm(e.v(a), 1.0 + e.v(b) * e.v(b))),
    "rms_norm_s": ("s", lambda e, a, b, c: ct.rms_norm(e.v(a), 1.0 + abs(e.s(b)))),
    # scalar arithmetic
    "s_arith": ("s", lambda e, a, b, c: e.s(a) * ct.tanh(e.s(b)) - _k(c)),
    "s_div": ("s", lambda e, a, b, c: e.s(a) / (1.0 + e.s(b) * e.s(b)) + e.s(c)),
    "s_math": ("s", lambda e, a, b, c: ct.exp(ct.tanh(e.s(a))) + ct.log(1.0 + e.s(b) ** 2)),
    "s_int": ("s", lambda e, a, b, c: e.s(a) + e.i(b) * 0.5),
    "i2f": ("s", lambda e, a, b, c: ct.astype(e.i(a), "float") * _k(c)),
    # int32 counters
    "i_arith": ("i", lambda e, a, b, c: _clamp(e.i(a) * (1 + c % 3) + e.i(b) - 1, -20, 20)),
    "i_div": ("i", lambda e, a, b, c: e.i(a) // 2 + c % 3),
    "f2i": ("i", lambda e, a, b, c: ct.astype(ct.tanh(e.s(a)) * 3.0, "int32")),
    # stacks and views
    "stack": ("k", lambda e, a, b, c: ct.stack([e.v(a), e.v(b), e.v(c)][: 1 + c % 3])),
    "row": ("v", lambda e, a, b, c: (lambda k, i: k[i])(*_row(e, a, b, c % 2 == 1))),
    "set_row": ("k", lambda e, a, b, c: _set_row(*_row(e, a, b, c % 2 == 1), e.v(c))),
    "slice": ("s", _slice),
    # annotations
    "hint": (None, _hint),
    # one tap name per kind of value: a tap records values of one shape and dtype
    "tap": (None, lambda e, a, b, c: e.tap(f"tap{b % 3}{'vsi'[c % 3]}",
                                           e.get("vsi"[c % 3], a))),
}


def _cond(e: Env, a: int, b: int, c: int, then: Recipe, other: Recipe) -> None:
    preds = (lambda: e.s(a) < e.s(b),
             lambda: ct.logical_or(e.i(a) > 0, e.s(b) >= _k(c)),
             lambda: e.i(a),  # an int32 predicate: nonzero is true
             lambda: ct.max_abs(e.v(a)) > e.s(b))
    pred = preds[c % 4]()
    scope = e.child()

    def branch(body: Recipe) -> Callable[[Any, Any], tuple[Any, Any]]:
        return lambda v, s: _run(body, scope.child(v=v, s=s)).last()

    v, s = ct.cond(pred, branch(then), branch(other), e.v(a), e.s(b))
    e.push(v=v, s=s)


def _while(e: Env, a: int, b: int, c: int, body: Recipe) -> None:
    k = 1 + c % 3
    start = np.int32(0) if b % 2 else _clamp(e.i(a), 0, k)
    outer, scope = e.s(b), e.child()

    def cond_fn(carry: tuple[Any, Any, Any]) -> Any:
        more = carry[0] < k
        return ct.logical_and(more, ct.isfinite(outer)) if a % 2 else more

    def body_fn(carry: tuple[Any, Any, Any]) -> tuple[Any, Any, Any]:
        i, v, s = carry
        return (i + 1, *_run(body, scope.child(i=i, v=v, s=s)).last())

    i, v, s = ct.while_loop(cond_fn, body_fn, (start, e.v(a), e.s(b)))
    e.push(i=i, v=v, s=s)


def _fori(e: Env, a: int, b: int, c: int, body: Recipe) -> None:
    lo = a % 2
    hi = lo + c % 3 if b % 2 == 0 else _clamp(e.i(b), 0, 3)
    scope = e.child()

    def body_fn(j: Any, carry: tuple[Any, Any]) -> tuple[Any, Any]:
        return _run(body, scope.child(i=j, v=carry[0], s=carry[1])).last()

    v, s = ct.fori_loop(lo, hi, body_fn, (e.v(a), e.s(b)))
    e.push(v=v, s=s)


def _call(e: Env, a: int, b: int, c: int, body: Recipe) -> None:
    scope = e.child()
    child = ct.function(lambda v, s: _run(body, scope.child(v=v, s=s)).last(), name="child")
    v, s = child(e.v(a), e.s(b))
    e.push(v=v, s=s)
    if c % 2:  # the same child called twice
        v, s = child(e.v(a + 1), e.s(b + 1))
        e.push(v=v, s=s)


def _stages(e: Env, a: int, b: int, c: int, body: Recipe) -> None:
    rows = 2 + c % 2
    init = ct.zeros((rows, e.n)) if b % 2 else ct.stack([e.v(a)] * rows)
    scope = e.child()

    def body_fn(j: Any, stack: Any) -> Any:
        inner = scope.child(i=j, v=stack[ct.maximum(j - 1, 0)], k=stack)
        return _set_row(stack, j, _run(body, inner).v(0))

    e.push(k=ct.fori_loop(0, rows, body_fn, init))


_BLOCKS: dict[str, Callable[..., None]] = {
    "cond": _cond, "while": _while, "fori": _fori, "call": _call, "stages": _stages}

#: Statement names: leaves `(op, a, b, c)` and blocks `(op, a, b, c, *bodies)`
#: ("cond" has two bodies, the others one).
LEAF_OPS: tuple[str, ...] = tuple(_LEAVES)
BLOCK_OPS: tuple[str, ...] = tuple(_BLOCKS)


def _run(recipe: Recipe, env: Env) -> Env:
    for op, a, b, c, *bodies in recipe:
        if op in _BLOCKS:
            _BLOCKS[op](env, a, b, c, *bodies)
            continue
        kind, fn = _LEAVES[op]
        value = fn(env, a, b, c)
        if kind is not None:
            env.push(**{kind: value})
    return env


def run_recipe(recipe: Recipe, kinds: tuple[str, ...], args: tuple[Any, ...],
               recorder: Log | None = None) -> dict[str, Any]:
    """Interpret `recipe` on `args` (pools given by `kinds`: "v", "s" or "i" per argument).

    Works on numpy values (eagerly; taps go to `recorder`) and on tracers. Returns
    the two newest buffers and scalars, and the newest int and stack if any.
    """
    if len(args) != len(kinds):
        raise TypeError(f"expected {len(kinds)} arguments ({kinds}), got {len(args)}")
    n = next(int(x.shape[0]) for x, kind in zip(args, kinds, strict=True) if kind == "v")
    env = Env(n, {}, recorder)
    for x, kind in zip(args, kinds, strict=True):
        env.push(**{kind: x})
    _run(recipe, env)
    out: dict[str, Any] = {"v": (env.v(1), env.v(0)), "s": (env.s(1), env.s(0))}
    out.update({kind: env.get(kind, 0) for kind in "ik" if env.pools[kind]})
    return out


def describe_recipe(recipe: Recipe, depth: int = 0) -> str:
    """A recipe as indented text, one statement a line."""
    lines = []
    for op, a, b, c, *bodies in recipe:
        lines.append(f"{'  ' * depth}{op}({a}, {b}, {c})" + (":" if bodies else ""))
        for i, body in enumerate(bodies):
            if i:
                lines.append(f"{'  ' * depth}else:")
            lines.append(describe_recipe(body, depth + 1) if body else f"{'  ' * depth}  pass")
    return "\n".join(lines)


@attrs.frozen(repr=False, eq=False)
class RandomFunction:
    """A random pure function over buffers with example inputs; call it on numpy
    values or trace it."""

    recipe: Recipe
    kinds: tuple[str, ...]
    inputs: tuple[Any, ...]

    @property
    def n(self) -> int:
        return int(self.inputs[0].shape[0])

    def __call__(self, *args: Any) -> dict[str, Any]:
        return run_recipe(self.recipe, self.kinds, args)

    def run_numpy(self, *args: Any) -> tuple[dict[str, Any], Log]:
        """Evaluate eagerly on numpy `args` (default: the example inputs): (outputs, log)."""
        recorder: Log = {}
        outs = run_recipe(self.recipe, self.kinds, args or self.inputs, recorder)
        return outs, recorder

    def trace(self) -> Program:
        """The traced program (the recipe is kept in `program.meta["recipe"]`)."""
        program = ct.trace(self, *self.inputs, name="random")
        return program.replace(meta={**program.meta, "recipe": self.recipe})

    def __repr__(self) -> str:
        pairs = zip(self.kinds, self.inputs, strict=True)
        ins = ", ".join(f"{k}={np.asarray(x).tolist()!r}" for k, x in pairs)
        return f"RandomFunction(inputs=[{ins}], recipe=\n{describe_recipe(self.recipe)}\n)"
