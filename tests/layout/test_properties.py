"""Property tests: layouts of random programs, under every policy, checked independently."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cubie_trace.core.program import Program
from cubie_trace.layout import plan
from cubie_trace.layout.planners import best_fit, exact, no_reuse, peak
from cubie_trace.testing import check_layout, examples, random_programs
from tests.layout.checks import assert_valid, brute_bound, height, placement_bound, recording

RUNS = ["ci", pytest.param("thorough", marks=pytest.mark.slow)]
POLICIES = ("local", "shared", "auto")
BYTES = {"float": 8, "float64": 8, "float32": 4, "int32": 4, "bool": 1}


def shared_hints(program: Program) -> bool:
    return any(e.primitive.name == "hint" and e.params["location"] == "shared"
               for _, e in program.walk())


def check_calls(calls: list) -> None:
    """Each planner call: a valid placement, no smaller than the lower bound, no larger
    than every block on its own, and exactly the bound when all blocks have one size."""
    for blocks, offsets in calls:
        assert_valid(blocks, offsets)
        top, bound = height(blocks, offsets), brute_bound(blocks)
        assert bound <= top <= sum(b.size for b in blocks)
        if len({b.size for b in blocks}) == 1:
            assert top == bound


@pytest.mark.parametrize("run", RUNS)
def test_random_layouts_verify(run: str) -> None:
    @settings(max_examples=examples(100, 2000))
    @given(random_programs(), st.integers(0, 400), st.booleans(), st.booleans())
    def prop(program: Program, budget: int, reuse: bool, scratch: bool) -> None:
        for policy in POLICIES:
            planner, calls = recording(best_fit)
            try:
                layout = plan(program, policy=policy, shared_budget_bytes=budget,
                              reuse_outputs=reuse, scratch_in_outputs=scratch,
                              planner=planner)
            except ValueError as err:  # only when the program's own hints overfill shared
                assert "shared_budget_bytes" in str(err) and shared_hints(program), err
                continue
            layout.verify()
            check_layout(layout)
            check_calls(calls)
            bound = placement_bound(layout)
            for region, size in layout.pools.items():
                assert size >= layout.lower_bounds[region] >= bound[region]
            if policy != "shared":  # shared: everything not pinned local goes to shared
                assert layout.shared_bytes <= budget
                assert sum(n * BYTES[dt] for (loc, dt), n in layout.pools.items()
                           if loc == "shared") == layout.shared_bytes
            if policy == "local" and not shared_hints(program):
                assert layout.shared_elements == 0

    prop()


@pytest.mark.parametrize("run", RUNS)
def test_random_layouts_against_other_planners(run: str) -> None:
    @settings(max_examples=examples(100, 2000))
    @given(random_programs(), st.booleans())
    def prop(program: Program, reuse: bool) -> None:
        # the local policy places the same groups in the same pools whatever the planner
        planner, calls = recording(best_fit)
        best = plan(program, reuse_outputs=reuse, planner=planner)
        plain = plan(program, reuse_outputs=reuse, planner=no_reuse)
        plain.verify()
        check_layout(plain)
        assert set(best.pools) == set(plain.pools)
        for region, size in best.pools.items():
            assert size <= plain.pools[region]
        assert sorted(best.pools.values()) == sorted(height(b, o) for b, o in calls)
        for blocks, offsets in calls:
            if len(blocks) <= 8:
                optimal = peak(blocks, exact(blocks))
                assert brute_bound(blocks) <= optimal <= height(blocks, offsets)
                assert height(blocks, offsets) <= 1.25 * optimal
        if len(calls) == len(best.pools) and all(len(b) <= 8 for b, _ in calls):
            small = plan(program, reuse_outputs=reuse, planner=exact)
            small.verify()
            assert small.total_elements <= best.total_elements

    prop()


@pytest.mark.parametrize("run", RUNS)
def test_one_size_programs_pack_to_the_bound(run: str) -> None:
    # programs over buffers of one length: every pool that holds only that length (no
    # stacks) is exactly as large as the most elements live at once
    @settings(max_examples=examples(50, 1000))
    @given(random_programs(n=3), st.booleans())
    def prop(program: Program, reuse: bool) -> None:
        planner, calls = recording(best_fit)
        layout = plan(program, reuse_outputs=reuse, planner=planner)
        # the local policy asks the planner once per pool
        assert sorted(layout.pools.values()) == sorted(height(b, o) for b, o in calls)
        assert sorted(layout.lower_bounds.values()) == sorted(brute_bound(b) for b, _ in calls)
        for blocks, offsets in calls:
            if all(b.size == 3 for b in blocks):
                assert height(blocks, offsets) == brute_bound(blocks)
        for region, size in layout.pools.items():
            if all(p.size == 3 for p in layout.placements.values()
                   if p.region == region and p.root is None):
                assert size == layout.lower_bounds[region]

    prop()
