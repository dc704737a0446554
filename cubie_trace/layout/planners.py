"""Offset planners: given blocks (a size and a closed interval of positions), choose
offsets so that blocks live at the same time never overlap in storage.

A planner is any callable `blocks -> {key: offset}`. `best_fit` is the default
(XLA's decreasing-size best-fit heap, tried with two orders, keeping the
smaller); `exact` searches all packings and serves as a checker for small
inputs; `no_reuse` stacks every block.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import attrs
import numpy as np

Offsets = dict[int, int]


@attrs.frozen
class Block:
    """A request for `size` contiguous elements over positions [start, end]."""

    key: int
    size: int
    start: int
    end: int

    def overlaps(self, other: Block) -> bool:
        return self.start <= other.end and other.start <= self.end


Planner = Callable[[Sequence[Block]], Offsets]


def peak(blocks: Sequence[Block], offsets: Offsets) -> int:
    """Pool size a placement needs."""
    return max((offsets[b.key] + b.size for b in blocks), default=0)


def lower_bound(blocks: Sequence[Block]) -> int:
    """Most elements live at any one position: no placement needs less."""
    events = sorted({b.start for b in blocks})
    return max((sum(b.size for b in blocks if b.start <= p <= b.end) for p in events), default=0)


def reserved(blocks: Sequence[Block], length: int) -> np.ndarray:
    """Elements the blocks reserve at each position 0..length (its maximum is the lower
    bound)."""
    counts = np.zeros(length + 1, dtype=np.int64)
    for b in blocks:
        counts[b.start:b.end + 1] += b.size
    return counts


def no_reuse(blocks: Sequence[Block]) -> Offsets:
    """Every block gets storage of its own."""
    offsets, top = {}, 0
    for b in blocks:
        offsets[b.key] = top
        top += b.size
    return offsets


def _best_fit_in_order(order: Sequence[Block]) -> Offsets:
    placed: list[tuple[Block, int]] = []
    offsets: Offsets = {}
    for block in order:
        busy = sorted((off, off + b.size) for b, off in placed if b.overlaps(block))
        best: tuple[int, int] | None = None  # (gap size, offset)
        cursor = 0
        for lo, hi in busy:
            gap = lo - cursor
            if gap >= block.size and (best is None or gap < best[0]):
                best = (gap, cursor)
            cursor = max(cursor, hi)
        offset = best[1] if best is not None else cursor
        offsets[block.key] = offset
        placed.append((block, offset))
    return offsets


def best_fit(blocks: Sequence[Block]) -> Offsets:
    """Best fit over blocks by decreasing size and, separately, by decreasing lifetime
    (ties by start), keeping the placement with the smaller peak."""
    by_size = sorted(blocks, key=lambda b: (-b.size, b.start, b.key))
    by_life = sorted(blocks, key=lambda b: (b.start - b.end, -b.size, b.start, b.key))
    candidates = [_best_fit_in_order(by_size), _best_fit_in_order(by_life)]
    return min(candidates, key=lambda offs: peak(blocks, offs))


def exact(blocks: Sequence[Block], max_blocks: int = 9) -> Offsets:
    """A placement of minimal peak, by search. Any packing can be pushed down until each
    block rests at 0 or on a block live at the same time, so it is enough to try blocks
    in order of offset, each at 0 or on top of an already placed block."""
    if len(blocks) > max_blocks:
        raise ValueError(f"exact planner: at most {max_blocks} blocks, got {len(blocks)}")
    bound = lower_bound(blocks)
    best_offsets = best_fit(blocks)
    best = [peak(blocks, best_offsets), best_offsets]

    def search(placed: dict[int, int], rest: list[Block], floor: int, height: int) -> None:
        if max(height, bound) >= best[0]:
            return
        if not rest:
            best[0], best[1] = height, dict(placed)
            return
        for i, block in enumerate(rest):
            options = {0} | {placed[b.key] + b.size for b in blocks if b.key in placed}
            for offset in sorted(o for o in options if o >= floor):
                if all(not (b.overlaps(block) and placed[b.key] < offset + block.size
                            and offset < placed[b.key] + b.size)
                       for b in blocks if b.key in placed):
                    placed[block.key] = offset
                    search(placed, rest[:i] + rest[i + 1:], offset,
                           max(height, offset + block.size))
                    del placed[block.key]

    search({}, list(blocks), 0, 0)
    return best[1]
