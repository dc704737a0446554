"""A lowered kernel sent to another process as its generated source, compiled there once.

The program and layout a `Lowered` was built from cannot travel (they reference the
system, which holds locks and traced closures), and another process does not need them:
the generated module is self-contained, and `Lowered.run` reads only a few facts of the
program (its inputs' and outputs' shapes and dtypes, their structure), of the layout
(where carried state is placed) and of the storage (the persistent pools). A
`ShippedKernel` holds the source and those facts; `kernel(shipped)` gives the process's
`Lowered` for it, loading the module through the on-disk cache and compiling it the first
time and reusing it after, so a Dask worker compiles a Solver's loop once however many
chunks of runs it solves. `compile_counts()` says how often that happened.
"""

from __future__ import annotations

import threading
from collections import Counter
from types import SimpleNamespace
from typing import Any

import attrs

from lowering import Lowered, cache
from lowering.targets import get_target

_KERNELS: dict[str, Lowered] = {}  # module key -> this process's compiled kernel
_COMPILES: Counter[str] = Counter()  # module key -> how many times this process built it
_LOCK = threading.Lock()  # a worker with several threads compiles each kernel once


@attrs.frozen(eq=False)
class ShippedKernel:
    """A lowered loop as another process needs it: the module's source and key (which
    fix the program, layout, target, precision and package versions), and what
    `Lowered.run` reads of the program, the layout and the storage."""

    source: str
    key: str
    target: str
    precision: str
    program: SimpleNamespace  # inputs, outputs, input_names, name, out_tree
    signature: Any
    placements: dict[Any, Any]  # the carried inputs' and outputs' placements
    persistent_sizes: dict[str, int]
    pool_arrays: list[str]
    shared_bytes_per_thread: int

    @classmethod
    def of(cls, lowered: Lowered) -> ShippedKernel:
        """What of `lowered` travels (an instrumented kernel does not)."""
        if lowered.instrument:
            raise ValueError("an instrumented kernel runs where it was lowered")
        program, memory = lowered.program, lowered.memory
        carried = [*program.inputs, *lowered.signature.carried.values()]
        return cls(lowered.source, cache.module_key(lowered.source), lowered.target,
                   lowered.precision,
                   SimpleNamespace(inputs=program.inputs, outputs=program.outputs,
                                   input_names=program.input_names, name=program.name,
                                   out_tree=program.out_tree),
                   lowered.signature,
                   {v: lowered.layout.placements[v] for v in carried
                    if v in lowered.layout.placements},
                   memory.persistent_sizes(), memory.pool_arrays(),
                   memory.shared_bytes_per_thread())

    def output_specs(self) -> list[tuple[tuple[int, ...], Any]]:
        """(shape of one run's output, numpy dtype) of each output, in `run`'s order."""
        from cubie_trace.core.values import numpy_dtype

        return [(tuple(atom.shape), numpy_dtype(atom.dtype, self.precision))
                for atom in self.program.outputs]

    def attach(self) -> Lowered:
        """A `Lowered` in this process running the shipped module (loaded, not compiled):
        its program, layout and memory are the facts `run` reads."""
        if cache.module_key(self.source) != self.key:
            raise RuntimeError("this process's cubie-trace, Numba or Python version differs "
                               "from the one that generated the kernel")
        lowered = Lowered.__new__(Lowered)
        sizes, pools, shared = (self.persistent_sizes, self.pool_arrays,
                                self.shared_bytes_per_thread)
        vars(lowered).update(
            program=self.program, layout=SimpleNamespace(placements=self.placements),
            memory=SimpleNamespace(persistent_sizes=lambda: sizes, pool_arrays=lambda: pools,
                                   shared_bytes_per_thread=lambda: shared),
            target=self.target, precision=self.precision, instrument=False,
            target_module=get_target(self.target), signature=self.signature,
            source=self.source, timings={})
        lowered.module = cache.load(self.source, owner=lowered)
        lowered.kernel = lowered.module.kernel
        return lowered


def kernel(shipped: ShippedKernel) -> Lowered:
    """This process's compiled kernel for `shipped`: built and compiled on first use (the
    module and Numba's machine code come from the on-disk cache where they are there)."""
    with _LOCK:
        lowered = _KERNELS.get(shipped.key)
        if lowered is None:
            lowered = shipped.attach()
            lowered.compile()
            _KERNELS[shipped.key] = lowered
            _COMPILES[shipped.key] += 1
    return lowered


def compile_counts() -> dict[str, int]:
    """How many times this process built and compiled each shipped kernel, by its key
    (`ShippedKernel.key`); on a Dask cluster, `client.run(compile_counts)` asks every
    worker."""
    with _LOCK:
        return dict(_COMPILES)
