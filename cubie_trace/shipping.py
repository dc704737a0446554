"""A lowered kernel sent to another process as its generated source, compiled there once.

The program and layout a `Lowered` was built from cannot travel (they reference the
system, which holds locks and traced closures), and another process does not need them:
the generated module is self-contained, and a batch call needs only its `Interface`
(plain data). A `ShippedKernel` holds the source and the interface; `kernel(shipped)`
gives the process's `BatchKernel` for it, loading the module through the on-disk cache
and compiling it the first time and reusing it after, so a Dask worker compiles a
Solver's loop once however many chunks of runs it solves. `compile_counts()` says how
often that happened.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import attrs

from lowering import Lowered, cache
from lowering.kernel import BatchKernel, Interface

_KERNELS: dict[str, BatchKernel] = {}  # module key -> this process's compiled kernel
_COMPILES: Counter[str] = Counter()  # module key -> how many times this process built it
_LOCK = threading.Lock()  # a worker with several threads compiles each kernel once


@attrs.frozen(eq=False)
class ShippedKernel:
    """A lowered loop as another process needs it: the module's source and key (which
    fix the program, layout, target, precision and package versions) and its interface."""

    source: str
    key: str
    target: str
    interface: Interface

    @classmethod
    def of(cls, lowered: Lowered) -> ShippedKernel:
        """What of `lowered` travels (an instrumented kernel does not)."""
        if lowered.instrument:
            raise ValueError("an instrumented kernel runs where it was lowered")
        return cls(lowered.source, cache.module_key(lowered.source), lowered.target,
                   lowered.batch.interface)

    def output_specs(self) -> list[tuple[tuple[int, ...], Any]]:
        """(shape of one run's output, numpy dtype) of each output, in `run`'s order."""
        return [(port.shape, port.dtype) for port in self.interface.outputs]

    def attach(self) -> BatchKernel:
        """The shipped module's batch kernel in this process (loaded, not compiled)."""
        if cache.module_key(self.source) != self.key:
            raise RuntimeError("this process's cubie-trace, Numba or Python version differs "
                               "from the one that generated the kernel")
        return BatchKernel(self.source, self.interface, self.target)


def kernel(shipped: ShippedKernel) -> BatchKernel:
    """This process's compiled kernel for `shipped`: built and compiled on first use (the
    module and Numba's machine code come from the on-disk cache where they are there)."""
    with _LOCK:
        batch = _KERNELS.get(shipped.key)
        if batch is None:
            batch = shipped.attach()
            batch.compile()
            _KERNELS[shipped.key] = batch
            _COMPILES[shipped.key] += 1
    return batch


def compile_counts() -> dict[str, int]:
    """How many times this process built and compiled each shipped kernel, by its key
    (`ShippedKernel.key`); on a Dask cluster, `client.run(compile_counts)` asks every
    worker."""
    with _LOCK:
        return dict(_COMPILES)
