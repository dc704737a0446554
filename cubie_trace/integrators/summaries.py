"""Running summaries of saved states over windows of consecutive saves.

Each save updates per-state accumulators; window j (saves j*w .. j*w + w - 1)
gets its statistics written to row j of one output stack per statistic,
refreshed at every save of the window, so no branch is needed and a partial
last window is summarised too. Statistics: mean, max, min, rms, std (population,
ddof 0) and peaks: the number of interior local maxima among the window's
samples, i.e. samples strictly greater than both neighbours, where both
neighbours belong to the same window.
"""

from __future__ import annotations

from typing import Any

import attrs

from cubie_trace.core import ops

STATISTICS = ("mean", "max", "min", "rms", "std", "peaks")


@attrs.frozen
class Summaries:
    """Which statistics, over windows of `window` saves, for `n_saves` saves."""

    statistics: tuple[str, ...]
    window: int
    n_saves: int

    def __attrs_post_init__(self) -> None:
        unknown = [s for s in self.statistics if s not in STATISTICS]
        if unknown or not self.statistics:
            raise ValueError(f"summaries: choose from {STATISTICS}, got {list(self.statistics)}")
        if self.window < 1:
            raise ValueError(f"summarise_every must cover at least one save, got {self.window}")

    @property
    def n_windows(self) -> int:
        return -(-self.n_saves // self.window)

    def initial(self, n: int) -> dict[str, Any]:
        acc = {"count": 0, "sum": ops.zeros(n), "sumsq": ops.zeros(n),
               "max": ops.full(n, -float("inf")), "min": ops.full(n, float("inf")),
               "peaks": ops.zeros(n), "prev": ops.zeros(n), "prev2": ops.zeros(n)}
        acc["out"] = {s: ops.zeros((self.n_windows, n)) for s in self.statistics}
        return acc

    def update(self, acc: dict[str, Any], y: Any, isave: Any) -> dict[str, Any]:
        """Fold save number `isave` (value `y`) into the accumulators and its window's row."""
        count = acc["count"] + 1
        total, sumsq = acc["sum"] + y, acc["sumsq"] + y * y
        high, low = ops.maximum(acc["max"], y), ops.minimum(acc["min"], y)
        # a peak at the previous sample: it and both its neighbours lie in this window
        interior = acc["count"] >= 2
        is_peak = (acc["prev"] > acc["prev2"]) & (acc["prev"] > y)
        peaks = acc["peaks"] + ops.where(interior & is_peak, 1.0, 0.0)
        n = ops.astype(count, "float")
        mean = total / n
        stats = {"mean": mean, "max": high, "min": low, "rms": ops.sqrt(sumsq / n),
                 "std": ops.sqrt(ops.maximum(sumsq / n - mean * mean, 0.0)), "peaks": peaks}
        row = isave // self.window
        out = {s: acc["out"][s].at[row].set(stats[s]) for s in self.statistics}
        last = (row + 1) * self.window == isave + 1  # the window's last save (no % primitive)
        return {"count": ops.where(last, 0, count), "sum": ops.where(last, 0.0, total),
                "sumsq": ops.where(last, 0.0, sumsq),
                "max": ops.where(last, -float("inf"), high),
                "min": ops.where(last, float("inf"), low),
                "peaks": ops.where(last, 0.0, peaks), "prev": y, "prev2": acc["prev"],
                "out": out}

    def finish(self, acc: dict[str, Any]) -> dict[str, Any]:
        return acc["out"]
