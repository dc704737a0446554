"""Per-thread windows of the block's dynamic shared memory: the allocation code that
`lowering.memory` writes gives every thread and every typed pool its own bytes, aligned
for its type and inside the block's dynamic shared memory. (The simulator runs short
kernels one thread after another, so it would not notice threads sharing a window.)"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from cubie_trace.layout import plan
from lowering.memory import NUMPY_TYPE, Memory, pool_array
from tests.lowering.programs import program


def windows(memory: Memory, precision: str, threads: int,
            total: int) -> dict[tuple[int, str], tuple[int, int, int]]:
    """(thread, pool) -> (first byte, end byte, itemsize), by running the kernel's
    allocation lines with a stand-in `cuda` whose shared array views one byte buffer."""
    buffer = np.zeros(total, np.uint8)
    base = buffer.__array_interface__["data"][0]
    out = {}
    for t in range(threads):
        cuda = SimpleNamespace(
            threadIdx=SimpleNamespace(x=t), blockDim=SimpleNamespace(x=threads),
            shared=SimpleNamespace(array=lambda shape, dtype: np.frombuffer(
                buffer, np.dtype(dtype), count=total // np.dtype(dtype).itemsize)),
            local=SimpleNamespace(array=lambda n, dtype: np.zeros(n, dtype)))
        scope: dict[str, Any] = {"cuda": cuda, "np": np, "FLOAT": np.dtype(precision).type}
        exec("\n".join(memory.allocate("cuda", "run")), scope)
        for (location, dtype), size in memory.pools.items():
            if location == "shared":
                arr = scope[pool_array(location, dtype)]
                assert arr.size == size
                start = arr.__array_interface__["data"][0] - base
                out[(t, dtype)] = (start, start + arr.nbytes, arr.itemsize)
    return out


@pytest.mark.parametrize("precision", ["float32", "float64"])
@pytest.mark.parametrize("threads", [1, 2, 3, 7])
def test_shared_windows_are_disjoint_aligned_and_in_bounds(precision: str,
                                                           threads: int) -> None:
    prog = program("mixed")
    layout = plan(prog, policy="shared", reuse_outputs=False, precision=precision)
    memory = Memory(layout, precision)
    shared = {dt for (loc, dt) in memory.pools if loc == "shared"}
    assert {"float", "float32", "float64", "int32"} <= shared, memory.pools
    total = threads * memory.shared_bytes_per_thread()
    found = sorted(windows(memory, precision, threads, total).values())
    assert len(found) == threads * len(shared)
    for start, end, itemsize in found:
        assert 0 <= start < end <= total
        assert start % itemsize == 0, f"window at byte {start} for {itemsize}-byte items"
    for (_, end, _), (start, _, _) in zip(found, found[1:]):
        assert end <= start, "two windows overlap"


def test_numpy_types_cover_the_ir_dtypes() -> None:
    assert set(NUMPY_TYPE) >= {"float", "float32", "float64", "int32"}
