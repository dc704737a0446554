"""A batch run as a sequence of sub-launches of one compiled kernel.

The first sub-launch of `FIRST_CHUNK` runs times the kernel; later ones are sized to
take about `CHUNK_SECONDS` (so a progress bar moves and Ctrl-C stops soon) with at
most `CHUNK_BYTES` of outputs. The first allocates the whole batch's outputs and the
rest write into their rows in place, so the batch never holds pieces next to their
concatenation.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

CHUNK_BYTES = 1 << 28  # outputs of one sub-launch at most
CHUNK_SECONDS = 1.0  # sub-launches are sized to take about this long
FIRST_CHUNK = 1024  # runs in the first sub-launch, which times the rest


def run_in_pieces(lowered: Any, n_runs: int, arguments: Callable[[int, int], tuple],
                  progress: bool) -> tuple[Any, float, float]:
    """Run `lowered` on runs 0..n_runs, `arguments(lo, hi)` giving the inputs of runs
    lo..hi; returns the outputs of all runs, the kernel seconds and the wall seconds."""
    from tqdm.auto import tqdm

    bar = tqdm(total=n_runs, disable=not progress or n_runs < 2 * FIRST_CHUNK,
               desc="runs", unit="run")
    outputs: Any = None
    kernel_s = wall_s = 0.0
    lo, size = 0, min(FIRST_CHUNK, n_runs)
    try:
        while lo < n_runs:
            hi = min(lo + size, n_runs)
            began = time.perf_counter()
            if outputs is None:
                piece = lowered.run(*arguments(lo, hi))
                outputs = piece if hi == n_runs else _grown(piece, n_runs)
            else:
                piece = lowered.run(*arguments(lo, hi), out=_rows(outputs, lo, hi))
            took = time.perf_counter() - began
            kernel_s += lowered.timings.get("kernel_s") or 0.0
            wall_s += took
            bar.update(hi - lo)
            per_run = took / (hi - lo)
            size = max(1, min(int(CHUNK_SECONDS / max(per_run, 1e-12)),
                              CHUNK_BYTES // max(_bytes_per_run(piece, hi - lo), 1)))
            lo = hi
    finally:
        bar.close()
    return outputs, kernel_s, wall_s


def _leaves(tree: Any) -> list[np.ndarray]:
    if isinstance(tree, dict):
        return [leaf for key in sorted(tree) for leaf in _leaves(tree[key])]
    return [np.asarray(tree)]


def _bytes_per_run(piece: Any, runs: int) -> int:
    return sum(leaf.nbytes for leaf in _leaves(piece)) // max(runs, 1)


def _grown(piece: Any, n_runs: int) -> Any:
    """Arrays for the whole batch's outputs, the first sub-launch's `piece` in their first
    rows."""
    if isinstance(piece, dict):
        return {key: _grown(value, n_runs) for key, value in piece.items()}
    whole = np.empty((n_runs, *piece.shape[1:]), piece.dtype)
    whole[:len(piece)] = piece
    return whole


def _rows(outputs: Any, lo: int, hi: int) -> Any:
    """Rows lo:hi of every output array (views)."""
    if isinstance(outputs, dict):
        return {key: _rows(value, lo, hi) for key, value in outputs.items()}
    return outputs[lo:hi]
