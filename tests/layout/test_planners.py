"""Offset planners on random blocks, against independent checks: an overlap checker, the
lower bound by brute force over positions, and an exhaustive search for tiny inputs."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cubie_trace.layout.planners import Block, best_fit, exact, lower_bound, no_reuse, peak
from cubie_trace.testing import examples
from tests.layout.checks import assert_valid, brute_bound


def fits(blocks: list[Block], top: int) -> bool:
    """Whether some placement of `blocks` fits under `top`: backtracking over every
    offset of every block."""
    def place(i: int, placed: list[tuple[Block, int]]) -> bool:
        if i == len(blocks):
            return True
        b = blocks[i]
        return any(
            all(not (b.overlaps(q) and off < o + q.size and o < off + b.size) for q, o in placed)
            and place(i + 1, [*placed, (b, off)]) for off in range(top - b.size + 1))

    return place(0, [])


def brute_optimum(blocks: list[Block]) -> int:
    """Smallest pool any placement fits in, trying heights from the bound up."""
    top = brute_bound(blocks)
    while not fits(blocks, top):
        top += 1
    return top


@st.composite
def block_lists(draw: st.DrawFn, max_blocks: int = 12, sizes: st.SearchStrategy | None = None,
                horizon: int = 20) -> list[Block]:
    count = draw(st.integers(0, max_blocks))
    out = []
    for key in range(count):
        start = draw(st.integers(0, horizon))
        end = draw(st.integers(start, horizon))
        size = draw(sizes if sizes is not None else st.integers(1, 8))
        out.append(Block(key, size, start, end))
    return out


PLANNERS = [best_fit, no_reuse, exact]
RUNS = ["ci", pytest.param("thorough", marks=pytest.mark.slow)]


@pytest.mark.parametrize("run", RUNS)
@settings(max_examples=examples(200, 3000))
@given(block_lists(max_blocks=9))
def test_planners_are_valid_and_above_the_bound(run: str, blocks: list[Block]) -> None:
    bound = brute_bound(blocks)
    assert lower_bound(blocks) == bound
    for planner in PLANNERS:
        offsets = planner(blocks)
        assert_valid(blocks, offsets)
        assert peak(blocks, offsets) >= bound


@pytest.mark.parametrize("run", RUNS)
@settings(max_examples=examples(200, 3000))
@given(block_lists(max_blocks=30))
def test_best_fit_never_worse_than_no_reuse(run: str, blocks: list[Block]) -> None:
    offsets = best_fit(blocks)
    assert_valid(blocks, offsets)
    assert peak(blocks, offsets) <= peak(blocks, no_reuse(blocks)) == sum(b.size for b in blocks)


@pytest.mark.parametrize("run", RUNS)
@settings(max_examples=examples(200, 3000))
@given(block_lists(max_blocks=30, sizes=st.just(1)), st.integers(1, 6))
def test_one_size_packs_to_the_bound(run: str, blocks: list[Block], size: int) -> None:
    # equal sizes: an interval colouring, where the most blocks live at once is achievable
    blocks = [Block(b.key, size, b.start, b.end) for b in blocks]
    offsets = best_fit(blocks)
    assert_valid(blocks, offsets)
    assert peak(blocks, offsets) == brute_bound(blocks)
    assert all(offsets[b.key] % size == 0 for b in blocks)


@pytest.mark.parametrize("run", RUNS)
@settings(max_examples=examples(150, 2000))
@given(block_lists(max_blocks=8, horizon=10))
def test_best_fit_close_to_exact(run: str, blocks: list[Block]) -> None:
    # on arbitrary blocks best fit can miss by 40% (see test_best_fit_is_a_heuristic; a
    # targeted search found 1.47 at most); on the pools of programs it stays within 1.25
    # (test_properties)
    best = peak(blocks, best_fit(blocks))
    optimal = peak(blocks, exact(blocks))
    assert brute_bound(blocks) <= optimal <= best <= 1.5 * optimal


def test_best_fit_is_a_heuristic() -> None:
    # by size: the 3-blocks both at 0, the 2-block live at 1..2 at 3, the other 2-block
    # above both at 5: 7. By lifetime: the 2-blocks at 0 and 2, the first 3-block at 2,
    # the second above the 2-block at 2: at 4, 7. The optimum stacks each 3-block on a
    # different 2-block: 5, the bound.
    blocks = [Block(0, 2, 1, 2), Block(1, 3, 0, 0), Block(2, 3, 2, 2), Block(3, 2, 0, 1)]
    assert peak(blocks, best_fit(blocks)) == 7
    assert peak(blocks, exact(blocks)) == 5 == brute_bound(blocks) == brute_optimum(blocks)


@pytest.mark.parametrize("run", RUNS)
@settings(max_examples=examples(100, 1000))
@given(block_lists(max_blocks=5, sizes=st.integers(1, 3), horizon=6))
def test_exact_is_optimal(run: str, blocks: list[Block]) -> None:
    offsets = exact(blocks)
    assert_valid(blocks, offsets)
    assert peak(blocks, offsets) == brute_optimum(blocks)


def test_hand_made_instances() -> None:
    # three blocks live together need their sum; a later one reuses the lowest hole
    blocks = [Block(0, 4, 0, 5), Block(1, 2, 0, 2), Block(2, 3, 1, 4), Block(3, 2, 3, 6)]
    offsets = best_fit(blocks)
    assert_valid(blocks, offsets)
    assert peak(blocks, offsets) == 9 == brute_bound(blocks)
    # disjoint lifetimes: one slot of the largest size
    chain = [Block(k, 1 + k % 3, 2 * k, 2 * k + 1) for k in range(6)]
    assert peak(chain, best_fit(chain)) == 3
    assert peak(chain, no_reuse(chain)) == 12
    # best fit is a heuristic: by size it stacks the 1-block on the 2-block at offset 5,
    # by lifetime the 3-block lands at 3; the optimum puts the 3-blocks at 0 and 1, the
    # 2-block at 3 and the 1-blocks at 0 and 1, in 5 elements (the bound)
    tricky = [Block(0, 1, 3, 6), Block(1, 3, 0, 1), Block(2, 3, 4, 5), Block(3, 1, 3, 3),
              Block(4, 2, 0, 3)]
    assert brute_bound(tricky) == 5 == brute_optimum(tricky)
    assert peak(tricky, best_fit(tricky)) == 6
    best = exact(tricky)
    assert_valid(tricky, best)
    assert peak(tricky, best) == 5
    assert peak([], best_fit([])) == 0 == lower_bound([])


def test_exact_refuses_large_inputs() -> None:
    blocks = [Block(k, 1, 0, 0) for k in range(10)]
    with pytest.raises(ValueError, match="10"):
        exact(blocks)
