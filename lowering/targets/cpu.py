"""The CPU target: `numba.njit` device functions and a `prange` batch loop."""

from __future__ import annotations

import time
from typing import Any

NAME = "cpu"
HEADER = "from numba import njit, prange"
DEVICE = "@njit(cache=True, error_model=\"numpy\")"
KERNEL = "@njit(parallel=True, cache=True, error_model=\"numpy\")"


def kernel_prologue(run: str) -> tuple[list[str], str]:
    """Lines opening the per-run body, and the indentation of that body."""
    return [f"for {run} in prange(n_runs):"], "    "


def launch(kernel: Any, args: list[Any], n_read: int, n_runs: int,
           shared_bytes_per_thread: int, threads_per_block: int | None) -> dict[str, Any]:
    """Run the batch on the CPU cores (the kernel writes its output arrays in place);
    returns the time it took (the first call includes Numba's compilation)."""
    started = time.perf_counter()
    kernel(n_runs, *args)
    elapsed = time.perf_counter() - started
    return {"kernel_s": elapsed, "wall_s": elapsed}
