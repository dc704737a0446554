"""Hypothesis strategies and checkers for cubie-trace, public for users and tests.

`random_functions()` draws random pure functions over buffers written with `ct`
ops (recipes, see `cubie_trace.testing.recipes`), each with example numpy
inputs; `random_programs()` draws their traces; `check_layout` checks a Layout
independently of `Layout.verify`. `cubie_trace.testing.hostile` draws model
names and text from hostile alphabets, for the model front end.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from cubie_trace.core.program import Program
from cubie_trace.core.values import Aval, numpy_dtype
from cubie_trace.layout.checker import check_layout
from cubie_trace.testing.recipes import (
    BLOCK_OPS,
    LEAF_OPS,
    RandomFunction,
    Recipe,
    describe_recipe,
    run_recipe,
)

__all__ = [
    "BLOCK_OPS", "LEAF_OPS", "RandomFunction", "assert_close_structured", "check_layout",
    "describe_recipe", "examples", "random_functions", "random_inputs", "random_programs",
    "recipes", "run_recipe",
]


def examples(ci: int, thorough: int) -> int:
    """`thorough` when CUBIE_TRACE_THOROUGH is "1" (pytest -m slow), else `ci`."""
    return thorough if os.environ.get("CUBIE_TRACE_THOROUGH") == "1" else ci


# ---------------------------------------------------------------- strategies

_SEL = st.integers(0, 7)


def recipes(max_ops: int = 8) -> st.SearchStrategy[Recipe]:
    """Recipes of at most `max_ops` statements, each nesting at most `max_ops` leaves."""
    leaf = st.tuples(st.sampled_from(LEAF_OPS), _SEL, _SEL, _SEL)

    def blocks(children: st.SearchStrategy) -> st.SearchStrategy:
        body = st.lists(children, max_size=3).map(tuple)
        return st.one_of(
            st.tuples(st.sampled_from(["while", "fori", "call", "stages"]), _SEL, _SEL, _SEL, body),
            st.tuples(st.just("cond"), _SEL, _SEL, _SEL, body, body))

    statement = st.recursive(leaf, blocks, max_leaves=max_ops)
    return st.lists(statement, min_size=1, max_size=max_ops).map(tuple)


def _value(aval: Aval, precision: str = "float64") -> st.SearchStrategy:
    dtype = numpy_dtype(aval.dtype, precision)
    if aval.dtype == "int32":
        elements: st.SearchStrategy = st.integers(-3, 3)
    elif aval.dtype == "bool":
        elements = st.booleans()
    else:
        elements = st.floats(-2.0, 2.0, allow_nan=False, allow_infinity=False,
                             allow_subnormal=False, width=8 * dtype.itemsize)
    if aval.is_scalar:
        return elements.map(dtype.type)
    return hnp.arrays(dtype, aval.shape, elements=elements)


@st.composite
def random_functions(draw: st.DrawFn, max_ops: int = 8,
                     n: int | None = None) -> RandomFunction:
    """Random functions over 1..4 float64 buffers of length `n` (1..6 if None) and 0..2
    scalars (float64 or int32), with example inputs."""
    size = n if n is not None else draw(st.integers(1, 6))
    kinds = ("v",) * draw(st.integers(1, 4)) + tuple(draw(st.lists(st.sampled_from("si"),
                                                                  max_size=2)))
    recipe = draw(recipes(max_ops))
    avals = {"v": Aval((size,), "float"), "s": Aval((), "float"), "i": Aval((), "int32")}
    inputs = tuple(draw(_value(avals[kind])) for kind in kinds)
    return RandomFunction(recipe, kinds, inputs)


def random_programs(max_ops: int = 8, n: int | None = None) -> st.SearchStrategy[Program]:
    """Traced random functions (see `random_functions`), for layout and lowering tests;
    `ct.trace` checks each (`ct.check_program`)."""
    return random_functions(max_ops, n).map(lambda fn: fn.trace())


def random_inputs(program: Program, precision: str = "float64") -> st.SearchStrategy:
    """Flat input tuples for `program` (floats in [-2, 2], ints in [-3, 3]), ready for
    `ct.interpret(program, *inputs)`."""
    return st.tuples(*(_value(v.aval, precision) for v in program.inputs))


# ---------------------------------------------------------------- checkers


def assert_close_structured(actual: Any, expected: Any, rtol: float = 1e-12,
                            atol: float = 0.0, check_dtype: bool = False,
                            path: str = "out") -> None:
    """Assert two nested outputs (tuples, lists, dicts of arrays and scalars) have the
    same structure, shapes (and dtypes if `check_dtype`) and close values (NaNs equal)."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{path}: expected a dict, got {type(actual).__name__}"
        assert list(actual) == list(expected), f"{path}: keys {list(actual)} != {list(expected)}"
        for key in expected:
            assert_close_structured(actual[key], expected[key], rtol, atol, check_dtype,
                                    f"{path}[{key!r}]")
    elif isinstance(expected, (tuple, list)):
        assert isinstance(actual, (tuple, list)), \
            f"{path}: expected a sequence, got {type(actual).__name__}"
        assert len(actual) == len(expected), f"{path}: length {len(actual)} != {len(expected)}"
        for i, (x, y) in enumerate(zip(actual, expected, strict=True)):
            assert_close_structured(x, y, rtol, atol, check_dtype, f"{path}[{i}]")
    elif expected is None:
        assert actual is None, f"{path}: expected None, got {actual!r}"
    else:
        x, y = np.asarray(actual), np.asarray(expected)
        assert x.shape == y.shape, f"{path}: shape {x.shape} != {y.shape}"
        assert not check_dtype or x.dtype == y.dtype, f"{path}: dtype {x.dtype} != {y.dtype}"
        np.testing.assert_allclose(x, y, rtol=rtol, atol=atol, equal_nan=True, err_msg=path)
