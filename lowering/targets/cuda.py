"""The CUDA target: numba-cuda device functions and a one-thread-per-run kernel. With
`NUMBA_ENABLE_CUDASIM=1` set before numba is imported, the same code runs in the simulator."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

NAME = "cuda"
HEADER = "from numba import cuda"
DEVICE = "@cuda.jit(device=True, cache=True)"
KERNEL = "@cuda.jit(cache=True)"
SHARED_BYTES_PER_BLOCK = 48 * 1024
DEFAULT_THREADS = 128


def kernel_prologue(run: str) -> tuple[list[str], str]:
    return [f"{run} = cuda.grid(1)", f"if {run} < n_runs:"], "    "


def block_size(n_runs: int, shared_bytes_per_thread: int, requested: int | None) -> int:
    """Threads per block: as many as asked (128 by default) while the block's shared
    memory fits in 48 KiB; raises if not even one thread fits."""
    threads = max(1, min(requested or DEFAULT_THREADS, n_runs))
    while threads > 1 and threads * shared_bytes_per_thread > SHARED_BYTES_PER_BLOCK:
        threads //= 2
    if threads * shared_bytes_per_thread > SHARED_BYTES_PER_BLOCK:
        raise ValueError(f"the layout needs {shared_bytes_per_thread} bytes of shared memory "
                         f"per thread, more than a block has ({SHARED_BYTES_PER_BLOCK}); "
                         "pin fewer buffers to shared memory or lower shared_budget_bytes")
    return threads


def launch(kernel: Any, args: list[Any], n_read: int, n_fresh: int, n_runs: int,
           shared_bytes_per_thread: int, threads_per_block: int | None) -> dict[str, Any]:
    """Run one thread per run and copy back in place the arrays the kernel writes (all
    after the first `n_read`). The inputs and the carried state (and logs) are copied to
    the device; the next `n_fresh` arrays, outputs the kernel writes in full, are only
    allocated there. Returns the launch configuration and timings: the kernel by CUDA
    events (None where events record no time) and the whole call by the wall clock."""
    from numba import cuda

    started = time.perf_counter()
    threads = block_size(n_runs, shared_bytes_per_thread, threads_per_block)
    blocks = max(1, (n_runs + threads - 1) // threads)  # a launch over no runs compiles
    fresh = range(n_read, n_read + n_fresh)
    # (an empty array is copied: the simulator gives an empty device array strides that
    # no host array has)
    device = [(cuda.device_array_like(a) if k in fresh and a.size else cuda.to_device(a))
              if isinstance(a, np.ndarray) else a for k, a in enumerate(args)]
    begin, end = cuda.event(), cuda.event()
    begin.record()
    kernel[blocks, threads, 0, threads * shared_bytes_per_thread](n_runs, *device)
    end.record()
    end.synchronize()
    for host, dev in zip(args[n_read:], device[n_read:]):
        dev.copy_to_host(host)
    elapsed_ms = begin.elapsed_time(end)
    return {"threads_per_block": threads, "blocks": blocks,
            "shared_bytes_per_block": threads * shared_bytes_per_thread,
            "kernel_s": elapsed_ms / 1e3 if elapsed_ms >= 0 else None,
            "wall_s": time.perf_counter() - started}
