"""Independent checks for layout tests: overlap of planned blocks, the lower bound by
brute force over positions, a recording planner, and the bound from a layout's
placements."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import cubie_trace as ct
from cubie_trace.layout import Layout
from cubie_trace.layout.layout import POOLS
from cubie_trace.layout.planners import Block, Planner, best_fit

Call = tuple[list[Block], dict[int, int]]


def assert_valid(blocks: Sequence[Block], offsets: dict[int, int]) -> None:
    """Every block placed at a non-negative offset; no two blocks that share a position
    share an element."""
    assert set(offsets) == {b.key for b in blocks}
    for b in blocks:
        assert offsets[b.key] >= 0
    for a, b in itertools.combinations(blocks, 2):
        same_time = max(a.start, b.start) <= min(a.end, b.end)
        cells_a = set(range(offsets[a.key], offsets[a.key] + a.size))
        cells_b = set(range(offsets[b.key], offsets[b.key] + b.size))
        assert not (same_time and cells_a & cells_b), f"{a} and {b} overlap"


def brute_bound(blocks: Sequence[Block]) -> int:
    """Most elements live at one position, position by position."""
    if not blocks:
        return 0
    last = max(b.end for b in blocks)
    return max(sum(b.size for b in blocks if b.start <= t <= b.end) for t in range(last + 1))


def height(blocks: Sequence[Block], offsets: dict[int, int]) -> int:
    return max((offsets[b.key] + b.size for b in blocks), default=0)


def recording(planner: Planner = best_fit) -> tuple[Planner, list[Call]]:
    """A planner that delegates to `planner` and records each call's blocks and result."""
    calls: list[Call] = []

    def record(blocks: Sequence[Block]) -> dict[int, int]:
        offsets = planner(blocks)
        calls.append((list(blocks), dict(offsets)))
        return offsets

    return record, calls


def placement_bound(layout: Layout) -> dict[tuple[str, str], int]:
    """Per pool, the most elements of distinct storage groups live at one position, from
    the placements alone (every name for a storage keeps its group live)."""
    out: dict[tuple[str, str], int] = {}
    for region in layout.pools:
        size: dict[int, int] = {}
        spans: dict[int, list[tuple[int, int]]] = {}
        for p in layout.placements.values():
            if p.region != region:
                continue
            spans.setdefault(p.group, []).append(p.interval)
            if p.root is None:
                size[p.group] = max(size.get(p.group, 0), p.size)
        out[region] = max((sum(size.get(g, 0) for g, ss in spans.items()
                               if any(lo <= t <= hi for lo, hi in ss))
                           for t in range(layout.length + 1)), default=0)
    return out


def system3() -> ct.ODESystem:
    """A 3-state system with one parameter."""
    return ct.ODESystem.from_equations(
        ["dx = -a*x", "dy = x - y", "dz = y*z"],
        states={"x": 1.0, "y": 0.0, "z": 0.0}, parameters={"a": 1.0})


def pool_sizes(layout: Layout) -> dict[str, int]:
    return {loc: layout.elements(loc) for loc in POOLS}
