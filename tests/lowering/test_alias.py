"""A layout whose buffers share storage computes what a layout without sharing computes."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import cubie_trace as ct
from cubie_trace.layout import Layout, plan
from cubie_trace.layout.planners import no_reuse
from cubie_trace.testing import RandomFunction, assert_close_structured, examples, random_functions
from lowering import lower
from tests.lowering.programs import program, sample_runs
from tests.lowering.strategies import batches, check_lowered, stacked


def alias_edges(layout: Layout) -> int:
    return sum(1 for *_, kind in layout.graph.edges(data="kind") if kind == "alias")


def separate(prog: ct.Program) -> Layout:
    """Every buffer in storage of its own, none in the caller's outputs."""
    return plan(prog, planner=no_reuse, reuse_outputs=False)


def check_same_results(prog: ct.Program, runs: list, flags: tuple) -> None:
    packed, apart = plan(prog), separate(prog)
    packed.verify()
    apart.verify()
    results = []
    for layout in (packed, apart):
        low = lower(prog, layout, target="cpu", batched=flags)
        check_lowered(low, runs, flags)
        results.append(low.run(*stacked(runs, flags)))
    assert_close_structured(results[0], results[1], rtol=1e-12, check_dtype=True)


@pytest.mark.parametrize("name", [pytest.param("dopri_like", marks=pytest.mark.slow),
                                  "counters", "stages", "heun_fsal"])
def test_shared_storage_matches_separate_storage(name: str) -> None:
    prog = program(name)
    packed, apart = plan(prog), separate(prog)
    assert packed.total_elements < apart.total_elements
    assert alias_edges(packed) > alias_edges(apart)
    check_same_results(prog, sample_runs(name, 3), (True,) * len(prog.inputs))


@settings(max_examples=examples(6, 60))
@given(random_functions(max_ops=5), st.data())
def test_random_shared_storage_matches_separate_storage(fn: RandomFunction,
                                                        data: st.DataObject) -> None:
    prog = fn.trace()
    assume(plan(prog).total_elements < separate(prog).total_elements)
    runs, flags = data.draw(batches(prog))
    check_same_results(prog, runs, flags)
