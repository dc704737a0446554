"""The CPU target: `numba.njit` device functions and a `prange` batch loop."""

from __future__ import annotations

import time
from typing import Any

NAME = "cpu"
HEADER = "from numba import njit, prange"
DEVICE = "@njit(cache=True, error_model=\"numpy\")"
KERNEL = "@njit(parallel=True, cache=True, error_model=\"numpy\")"


def vector_bits() -> int:
    """Width of this CPU's widest vector registers Numba compiles for."""
    from llvmlite import binding

    features = binding.get_host_cpu_features()
    if features.get("avx512f", False):
        return 512
    if features.get("avx2", False) or features.get("avx", False):
        return 256
    return 128


def default_lanes(precision: str) -> int:
    """Runs integrated together per `prange` step: eight vector registers' worth. Each
    segment of a lane-blocked step is a loop over the lanes whose set-up (run-time alias
    checks, the remainder) is paid once per pass, so wider blocks amortise it; measured
    on Lorenz RK4 with AVX-512 in float64, a pass cost 4.1 ns per run-step at 32 lanes,
    3.75 at 64 and 3.7 at 128, and a wider block waits longer in lock-step for the
    slowest run of an adaptive block."""
    return 8 * vector_bits() // (64 if precision == "float64" else 32)


def kernel_prologue(run: str) -> tuple[list[str], str]:
    """Lines opening the per-run body, and the indentation of that body."""
    return [f"for {run} in prange(n_runs):"], "    "


def launch(kernel: Any, args: list[Any], n_read: int, n_fresh: int, n_runs: int,
           shared_bytes_per_thread: int, threads_per_block: int | None) -> dict[str, Any]:
    """Run the batch on the CPU cores (the kernel writes its output arrays in place);
    returns the time it took (the first call includes Numba's compilation)."""
    started = time.perf_counter()
    kernel(n_runs, *args)
    elapsed = time.perf_counter() - started
    return {"kernel_s": elapsed, "wall_s": elapsed}
