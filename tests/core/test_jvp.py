"""`ct.jvp`, forward-mode derivatives of Programs, against closed forms and central
finite differences of the interpreter, evaluated on numbers and traced (the derivative
program interpreted and lowered)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import cubie_trace as ct
from cubie_trace.core.tree import flatten
from cubie_trace.layout import plan
from cubie_trace.testing import RandomFunction, random_functions
from lowering import lower

X = np.array([0.3, -0.7, 1.1])
TX = np.array([0.5, 1.0, -0.25])


def flat(value: Any) -> np.ndarray:
    leaves, _ = flatten(value)
    return np.concatenate([np.ravel(np.asarray(v, dtype=float)) for v in leaves
                           if np.asarray(v).dtype.kind == "f"] or [np.zeros(0)])


def tangent_of(outputs: Any, tangents: Any) -> np.ndarray:
    """The output tangents of the float outputs, flat, in output order."""
    out_leaves, _ = flatten(outputs)
    tan_leaves, _ = flatten(tangents, none_is_leaf=True)
    picked = [np.ravel(np.asarray(t, dtype=float)) for o, t in zip(out_leaves, tan_leaves)
              if np.asarray(o).dtype.kind == "f"]
    return np.concatenate(picked or [np.zeros(0)])


def test_elementwise_closed_form() -> None:
    prog = ct.trace(lambda x: ct.sin(x) * ct.exp(x) + ct.sqrt(x * x + 1.0) / (2.0 + x),
                    ct.buffer(3))
    _, tout = ct.jvp(prog, (X,), (TX,))
    d = (np.cos(X) * np.exp(X) + np.sin(X) * np.exp(X)
         + (X / np.sqrt(X * X + 1.0)) / (2.0 + X) - np.sqrt(X * X + 1.0) / (2.0 + X) ** 2)
    np.testing.assert_allclose(tout, d * TX, rtol=1e-14)


def test_reductions_closed_form() -> None:
    s = np.array([2.0, 0.5, 1.5])

    def f(x: Any, w: Any) -> Any:
        return ct.sum(x * x), ct.dot(x, x), ct.max(x), ct.max_abs(x), ct.rms_norm(x, w)

    prog = ct.trace(f, ct.buffer(3), ct.buffer(3))
    _, (t_sum, t_dot, t_max, t_abs, t_rms) = ct.jvp(prog, (X, s), (TX, None))
    assert t_sum == pytest.approx(2 * X @ TX, rel=1e-14)
    assert t_dot == pytest.approx(2 * X @ TX, rel=1e-14)
    assert t_max == pytest.approx(TX[2])
    assert t_abs == pytest.approx(TX[2])
    r = np.sqrt(np.mean((X / s) ** 2))
    assert t_rms == pytest.approx(np.sum((X / s) * (TX / s)) / (3 * r), rel=1e-14)


def test_newton_while_loop_closed_form() -> None:
    """sqrt(a) by Newton's iteration: the tangent carried through the loop is
    d sqrt(a) = da / (2 sqrt(a)) once the iteration has converged."""
    def f(a: Any) -> Any:
        def body(c: Any) -> Any:
            k, x = c
            return k + 1, 0.5 * (x + a / x)
        return ct.while_loop(lambda c: c[0] < 30, body, (0, a + 1.0))[1]

    prog = ct.trace(f, ct.scalar())
    out, tout = ct.jvp(prog, (2.0,), (1.0,))
    assert out == pytest.approx(np.sqrt(2.0), rel=1e-15)
    assert tout == pytest.approx(0.5 / np.sqrt(2.0), rel=1e-14)


def test_cond_fori_views_and_calls() -> None:
    child = ct.function(lambda v: v * ct.tanh(v), name="child")

    def f(x: Any, s: Any) -> Any:
        y = ct.cond(s > 0.0, lambda v: v * s, lambda v: v - s, x)
        z = ct.fori_loop(0, 3, lambda i, v: v + y[i] * v, ct.full(2, 1.0))
        w = ct.stack([x[0:2], z]).at[1].set(child(z))
        return ct.sum(w), w

    prog = ct.trace(f, ct.buffer(3), ct.scalar())
    for s in (0.4, -0.4):
        got = tangent_of(*ct.jvp(prog, (X, s), (TX, 0.3)))
        h = 1e-6
        fd = (flat(ct.interpret(prog, X + h * TX, s + 0.3 * h))
              - flat(ct.interpret(prog, X - h * TX, s - 0.3 * h))) / (2 * h)
        np.testing.assert_allclose(got, fd, rtol=1e-7, atol=1e-9)


def test_integer_outputs_have_no_tangent_and_constants_zero() -> None:
    prog = ct.trace(lambda x, k: (x * 0.0 + 3.0, k + 1, ct.sum(x)), ct.buffer(2),
                    ct.scalar("int32"))
    _, (t_const, t_int, t_sum) = ct.jvp(prog, (np.ones(2), np.int32(2)), (np.ones(2), None))
    assert t_int is None
    np.testing.assert_array_equal(t_const, 0.0)
    assert t_sum == 2.0


def test_traced_jvp_lowers_like_any_program() -> None:
    """The derivative program, traced, planned and compiled for the CPU, gives the same
    tangents as jvp on numbers."""
    prog = ct.trace(lambda x: ct.exp(ct.sin(x)) * ct.sum(x * x), ct.buffer(4))
    derivative = ct.trace(lambda x, t: ct.jvp(prog, (x,), (t,)), ct.buffer(4), ct.buffer(4))
    x, t = np.linspace(-1.0, 1.0, 4), np.array([1.0, -2.0, 0.5, 0.25])
    want = ct.jvp(prog, (x,), (t,))
    low = lower(derivative, plan(derivative), target="cpu")
    got = low.run(x[None], t[None])
    np.testing.assert_allclose(got[1][0], want[1], rtol=1e-13)
    np.testing.assert_allclose(got[0][0], want[0], rtol=1e-13)


def check_random(fn: RandomFunction, data: st.DataObject) -> None:
    """jvp agrees with central differences (step 1e-6 relative) where the program is
    differentiable: where the one-sided differences on either side agree."""
    program = fn.trace()
    # a generic point: drawn inputs sit on branch boundaries (x = 0 where the branches
    # meet), where jvp follows the branch taken and differences see the neighbouring one
    shifts = st.floats(0.001, 0.01).flatmap(lambda a: st.sampled_from([a, -a]))
    inputs = [np.asarray(v) + data.draw(hnp.arrays(np.float64, np.shape(v), elements=shifts),
                                        label=f"shift {k}")
              if np.asarray(v).dtype.kind == "f" else np.asarray(v)
              for k, v in enumerate(fn.inputs)]
    # no zero components: a zero direction would hide a kink (sqrt at 0) from the
    # one-sided differences
    elements = st.floats(0.1, 1.0).flatmap(lambda a: st.sampled_from([a, -a]))
    tangents = [data.draw(hnp.arrays(np.float64, v.shape, elements=elements),
                          label=f"tangent {k}") if v.dtype.kind == "f" else None
                for k, v in enumerate(inputs)]
    scale = max(1.0, max(float(np.max(np.abs(v))) for v in inputs if v.dtype.kind == "f"))
    h = 1e-6 * scale

    def at(step: float) -> np.ndarray:
        moved = [v + step * t if t is not None else v for v, t in zip(inputs, tangents)]
        with np.errstate(all="ignore"):
            return flat(ct.interpret(program, *moved))

    base, plus, minus = at(0.0), at(h), at(-h)
    assume(np.all(np.isfinite(base)) and np.all(np.isfinite(plus)) and np.all(np.isfinite(minus)))
    forward, backward = (plus - base) / h, (base - minus) / h
    size = np.maximum(1.0, np.abs(forward) + np.abs(backward))
    assume(np.all(np.abs(forward - backward) <= 1e-4 * size))  # no kink or jump within h
    with np.errstate(all="ignore"):
        outs, touts = ct.jvp(program, tuple(inputs), tuple(tangents))
    got = tangent_of(outs, touts)
    np.testing.assert_allclose(got, (plus - minus) / (2 * h), rtol=1e-5, atol=1e-6 * scale)


@settings(max_examples=30, deadline=None)
@given(random_functions(max_ops=6), st.data())
def test_random_programs_match_finite_differences(fn: RandomFunction,
                                                  data: st.DataObject) -> None:
    check_random(fn, data)


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(random_functions(max_ops=8), st.data())
def test_more_random_programs_match_finite_differences(fn: RandomFunction,
                                                       data: st.DataObject) -> None:
    check_random(fn, data)


def test_a_zero_tangent_stays_zero_at_a_singular_point() -> None:
    """sqrt(x - x) is 0 for every x: its derivative is 0, not 0 * inf."""
    prog = ct.trace(lambda x: (ct.sqrt(x - x), ct.log(x) * 0.0 + x / (x - x + 1.0)),
                    ct.buffer(2))
    _, (t_sqrt, t_other) = ct.jvp(prog, (np.array([0.5, 2.0]),), (np.array([1.0, 1.0]),))
    np.testing.assert_array_equal(t_sqrt, 0.0)
    np.testing.assert_allclose(t_other, [1.0, 1.0])
