"""Differential tests: interpreting a trace equals running the function on numpy."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cubie_trace as ct
from cubie_trace.testing import (
    RandomFunction,
    assert_close_structured,
    examples,
    random_functions,
    random_inputs,
    random_programs,
)


def check_against_numpy(fn: RandomFunction, inputs: tuple | None = None) -> None:
    """Outputs and taps of `interpret(trace(fn))` equal those of `fn` on numpy."""
    inputs = fn.inputs if inputs is None else inputs
    program = fn.trace()
    got, got_log = ct.interpret(program, *inputs, log=True)
    want, want_log = fn.run_numpy(*inputs)
    assert_close_structured(got, want, rtol=1e-12, check_dtype=True)
    assert_close_structured(got_log, want_log, rtol=1e-12, check_dtype=True, path="log")


@settings(max_examples=50)
@given(random_functions())
def test_interpret_matches_numpy(fn: RandomFunction) -> None:
    check_against_numpy(fn)


@pytest.mark.slow
@settings(max_examples=500)
@given(random_functions(max_ops=12))
def test_interpret_matches_numpy_thorough(fn: RandomFunction) -> None:
    check_against_numpy(fn)


@settings(max_examples=examples(30, 300))
@given(st.data())
def test_trace_is_valid_for_other_inputs(data: st.DataObject) -> None:
    """A trace records computations, not values: it is right for fresh inputs too."""
    fn = data.draw(random_functions())
    fresh = data.draw(random_inputs(fn.trace()))
    check_against_numpy(fn, fresh)


@settings(max_examples=examples(20, 200))
@given(random_programs(n=3), st.data())
def test_float32_interpretation_keeps_float32(program: ct.Program, data: st.DataObject) -> None:
    inputs = data.draw(random_inputs(program, precision="float32"))
    outs, taps = ct.interpret(program, *inputs, precision="float32", log=True)
    leaves = [*np.asarray(outs["v"]).ravel(), *np.asarray(outs["s"]).ravel()]
    assert {np.asarray(x).dtype for x in leaves} == {np.dtype(np.float32)}
    for values in taps.values():
        for value in values:
            assert value.dtype in (np.float32, np.int32)
    if "i" in outs:
        assert np.asarray(outs["i"]).dtype == np.int32


def _tapped(x, k):
    """Taps in a loop, in a branch and in a child called twice."""
    ct.tap("start", x)

    @ct.function
    def child(v):
        ct.tap("child", ct.sum(v))
        return v * 2.0

    def body(i, acc):
        ct.tap("loop", ct.astype(i, "float") * acc)
        return acc + 1.0

    acc = ct.fori_loop(0, k, body, ct.sum(x))
    y = ct.cond(acc > 100.0, lambda v: v, lambda v: child(v), x)
    y = child(y)
    ct.tap("end", y)
    return y


def test_interpret_log_records_taps_in_execution_order() -> None:
    x = np.array([1.0, 2.0, 3.0])
    program = ct.trace(_tapped, x, np.int32(3))
    out, taps = ct.interpret(program, x, np.int32(3), log=True)
    assert list(taps) == ["start", "loop", "child", "end"]
    np.testing.assert_array_equal(taps["start"][0], x)
    # acc = 6, 7, 8 at iterations 0, 1, 2
    np.testing.assert_array_equal(taps["loop"], [0.0, 7.0, 16.0])
    np.testing.assert_array_equal(taps["child"], [6.0, 12.0])  # sum(x), then sum(2x)
    np.testing.assert_array_equal(taps["end"][0], 4 * x)
    np.testing.assert_array_equal(out, 4 * x)
    assert not isinstance(ct.interpret(program, x, np.int32(3)), tuple)


def test_interpret_log_skips_branches_not_taken() -> None:
    def fn(x):
        return ct.cond(ct.sum(x) > 0.0, lambda v: (ct.tap("pos", v), v)[1],
                       lambda v: (ct.tap("neg", v), -v)[1], x)

    program = ct.trace(fn, ct.buffer(2))
    _, taps = ct.interpret(program, np.array([1.0, 2.0]), log=True)
    assert list(taps) == ["pos"]
    _, taps = ct.interpret(program, np.array([-1.0, -2.0]), log=True)
    assert list(taps) == ["neg"]
    np.testing.assert_array_equal(taps["neg"][0], [-1.0, -2.0])
