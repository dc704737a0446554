"""Tests of cubie_trace.testing: the strategies, the recipe interpreter and the checkers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import Phase, find, given, settings

import cubie_trace as ct
from cubie_trace.testing import (
    BLOCK_OPS,
    LEAF_OPS,
    RandomFunction,
    assert_close_structured,
    describe_recipe,
    examples,
    random_functions,
    random_inputs,
    recipes,
    run_recipe,
)


def test_examples_reads_the_thorough_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUBIE_TRACE_THOROUGH", "1")
    assert examples(10, 500) == 500
    monkeypatch.setenv("CUBIE_TRACE_THOROUGH", "0")
    assert examples(10, 500) == 10
    monkeypatch.delenv("CUBIE_TRACE_THOROUGH")
    assert examples(10, 500) == 10


def test_assert_close_structured_accepts_close_nested_values() -> None:
    a = {"y": (np.array([1.0, 2.0]), np.float64(3.0)), "n": [np.int32(4)], "e": None}
    b = {"y": (np.array([1.0, 2.0 + 1e-15]), 3.0), "n": [4], "e": None}
    assert_close_structured(a, b, rtol=1e-12)
    assert_close_structured(np.array([np.nan, 1.0]), np.array([np.nan, 1.0]))


@pytest.mark.parametrize(("a", "b", "match"), [
    ({"x": 1.0}, {"y": 1.0}, "keys"),
    ((1.0, 2.0), (1.0,), "length"),
    ((np.zeros(2),), (np.zeros(3),), "shape"),
    ({"x": (1.0, np.array([1.0, 2.0]))}, {"x": (1.0, np.array([1.0, 2.5]))}, r"out\['x'\]\[1\]"),
    ([1.0], {"a": 1.0}, "dict"),
    (1.0, (1.0,), "sequence"),
    (1.0, None, "None"),
])
def test_assert_close_structured_reports_where_values_differ(a, b, match) -> None:
    with pytest.raises(AssertionError, match=match):
        assert_close_structured(a, b)


def test_assert_close_structured_checks_dtypes_on_request() -> None:
    assert_close_structured(np.float32(1.0), np.float64(1.0))
    with pytest.raises(AssertionError, match="dtype"):
        assert_close_structured(np.float32(1.0), np.float64(1.0), check_dtype=True)
    with pytest.raises(AssertionError):
        assert_close_structured(1.0, 1.0 + 1e-9, rtol=1e-12)
    assert_close_structured(1.0, 1.0 + 1e-9, rtol=0.0, atol=1e-8)


def _every_statement() -> tuple:
    """A recipe using every leaf op with several selector values, and every block variant."""
    leaves = tuple((op, a, b, c) for op in LEAF_OPS for a, b, c in [(0, 1, 2), (3, 2, 5)])
    body = (("add", 0, 1, 0), ("tap", 0, 0, 1), ("mul", 1, 0, 0))
    blocks = (*(("cond", 0, 1, c, body, (("neg", 0, 0, 0),)) for c in range(4)),
              *(("while", a, b, 2, body) for a in (0, 1) for b in (0, 1)),
              *(("fori", 0, b, 2, body) for b in (0, 1)),
              ("call", 0, 0, 1, body), ("stages", 0, 0, 1, body), ("stages", 1, 1, 0, body))
    return leaves + blocks + tuple((op, 1, 0, c) for op in ("where", "where_s") for c in range(6))


def test_every_statement_runs_and_traces_to_the_expected_primitives() -> None:
    fn = RandomFunction(_every_statement(), ("v", "v", "s", "i"),
                        (np.array([0.3, -1.2, 2.0]), np.array([1.5, 0.25, -0.5]),
                         np.float64(0.7), np.int32(2)))
    program = fn.trace()
    used = {eqn.primitive.name for _, eqn in program.walk()}
    expected = {
        "add", "sub", "mul", "div", "neg", "abs", "sqrt", "exp", "log", "sin", "cos", "tanh",
        "pow", "minimum", "maximum", "fill", "where", "lt", "le", "gt", "ge", "eq", "ne", "and",
        "or", "not", "isfinite", "sum", "dot", "max_abs", "max", "min", "rms_norm", "cast",
        "floordiv", "stack", "index", "set_index", "slice", "hint", "tap", "cond", "while_loop",
        "fori_loop", "call"}
    assert used == expected
    got, log = ct.interpret(program, *fn.inputs, log=True)
    want, want_log = fn.run_numpy()
    assert_close_structured(got, want, check_dtype=True)
    assert_close_structured(log, want_log, check_dtype=True)
    assert {name[:4] for name in log} == {"tap0", "tap1", "tap2"}
    assert all(name[4:] in ("v", "s", "i") for name in log)  # one tap name per kind of value
    assert set(got) == {"v", "s", "i", "k"}
    assert all(np.all(np.isfinite(x)) for x in (*got["v"], *got["s"], got["k"]))


def test_values_stay_finite_under_long_loops() -> None:
    """Growth-prone ops nested in loops keep values finite (the generator's contract)."""
    grow = (("add", 0, 0, 0), ("scale", 0, 0, 6), ("dot", 0, 0, 0), ("axpy", 0, 0, 0),
            ("vi", 0, 0, 0), ("i_arith", 0, 0, 2), ("s_div", 0, 0, 0))
    recipe = (("while", 0, 1, 2, (("fori", 0, 0, 2, (("while", 0, 1, 2, grow),)),)),) * 3
    fn = RandomFunction(recipe, ("v", "s", "i"), (np.full(6, 2.0), np.float64(2.0), np.int32(3)))
    out, _ = fn.run_numpy()
    assert all(np.all(np.isfinite(x)) for x in (*out["v"], *out["s"]))
    assert_close_structured(ct.interpret(fn.trace(), *fn.inputs), out)


@settings(max_examples=examples(30, 200))
@given(random_functions(n=4))
def test_random_functions_have_the_promised_signature(fn: RandomFunction) -> None:
    assert 1 <= fn.kinds.count("v") <= 4 and len(fn.kinds) - fn.kinds.count("v") <= 2
    assert fn.kinds[: fn.kinds.count("v")] == ("v",) * fn.kinds.count("v")
    for kind, x in zip(fn.kinds, fn.inputs):
        assert {"v": (4,), "s": (), "i": ()}[kind] == np.shape(x)
        assert np.asarray(x).dtype == {"v": np.float64, "s": np.float64, "i": np.int32}[kind]
        assert np.all(np.abs(x) <= 3)


@pytest.mark.parametrize("op", BLOCK_OPS)
def test_the_recipe_strategy_nests_every_block(op: str) -> None:
    def nested(recipe) -> bool:  # `op` inside some other block's body
        return any(any(s[0] == op for s in body) or nested(body)
                   for stmt in recipe for body in stmt[4:])

    found = find(recipes(), nested, settings=settings(max_examples=2000, database=None,
                                                      phases=[Phase.generate]))
    assert nested(found)


_PROGRAM = ct.trace(lambda x, s, i: (x * s, i), ct.buffer(5), ct.scalar(), ct.scalar("int32"))


@settings(max_examples=10)
@given(random_inputs(_PROGRAM, "float32"))
def test_random_inputs_match_the_program_inputs(inputs: tuple) -> None:
    x, s, i = inputs
    assert x.shape == (5,) and x.dtype == np.float32
    assert np.shape(s) == () and np.asarray(s).dtype == np.float32
    assert np.asarray(i).dtype == np.int32


def test_run_recipe_checks_its_arguments() -> None:
    with pytest.raises(TypeError, match="expected 2 arguments"):
        run_recipe((("add", 0, 0, 0),), ("v", "s"), (np.zeros(2),))


def test_describe_recipe_indents_bodies() -> None:
    text = describe_recipe((("add", 0, 1, 2), ("cond", 0, 0, 0, (("neg", 1, 0, 0),), ())))
    assert text.splitlines() == ["add(0, 1, 2)", "cond(0, 0, 0):", "  neg(1, 0, 0)", "else:",
                                 "  pass"]
