"""A generated module's batch kernel and how a batch is handed to it.

`Interface` is everything a call needs to know about the program beyond the module:
each input's and output's shape, dtype and parameter, which inputs are batched, where
carried state lives in the persistent pools, the pools themselves and the log taps.
It is plain data (it pickles), so a `BatchKernel` can be rebuilt from the source and
its interface in another process, with no program or layout there.
"""

from __future__ import annotations

import time
from typing import Any

import attrs
import numpy as np

from cubie_trace.core.program import Program
from cubie_trace.core.tree import TreeDef, flatten, unflatten
from cubie_trace.core.values import numpy_dtype
from cubie_trace.layout import Layout
from lowering import cache
from lowering.memory import Memory, Tap
from lowering.targets import get_target


@attrs.frozen
class Port:
    """One input or output of the program as the kernel takes it."""

    name: str
    shape: tuple[int, ...]  # of one run's value
    dtype: np.dtype
    param: str  # the kernel's parameter ("" for carried state, kept in persistent storage)
    batched: bool = True  # an input with a value per run (outputs always are)
    place: tuple[str, int, int] | None = None  # carried state: (pool, offset, size)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))


@attrs.frozen
class Interface:
    """What a batch call needs beyond the generated module."""

    name: str
    precision: str
    inputs: tuple[Port, ...]
    outputs: tuple[Port, ...]
    out_tree: TreeDef | None
    persistent: dict[str, tuple[int, np.dtype]]  # pool dtype -> (elements, numpy dtype)
    persist_arrays: tuple[str, ...]  # the persistent pools the kernel takes, in order
    shared_bytes_per_thread: int
    taps: dict[str, Tap]  # instrumented: every tap, and the log's size and capacity
    log_size: int
    log_capacity: int
    instrument: bool

    @classmethod
    def of(cls, program: Program, layout: Layout, memory: Memory, signature: Any,
           precision: str, instrument: bool) -> Interface:
        def place(var: Any) -> tuple[str, int, int]:
            p = layout.placements[var]
            return (p.dtype, p.offset, p.size)

        names = program.input_names
        inputs = tuple(
            Port(names[k] if k < len(names) else f"input {k}", tuple(v.shape),
                 numpy_dtype(v.dtype, precision), param, batched,
                 None if param else place(v))
            for k, (v, param, batched) in enumerate(zip(program.inputs, signature.inputs,
                                                        signature.batched)))
        outputs = tuple(
            Port(f"output {k}", tuple(a.shape), numpy_dtype(a.dtype, precision), param,
                 place=place(signature.carried[k]) if k in signature.carried else None)
            for k, (a, param) in enumerate(zip(program.outputs, signature.outputs)))
        persistent = {dt: (size, numpy_dtype(dt, precision))
                      for dt, size in memory.persistent_sizes().items()}
        persist_arrays = tuple(name for name in memory.pool_arrays()
                               if name.startswith("persist"))
        return cls(program.name, precision, inputs, outputs, program.out_tree, persistent,
                   persist_arrays, memory.shared_bytes_per_thread(), dict(memory.taps),
                   memory.log_size, memory.log_capacity, instrument)


class BatchKernel:
    """The batch kernel of a generated module, called on whole batches of runs."""

    def __init__(self, source: str, interface: Interface, target: str) -> None:
        self.source, self.interface, self.target = source, interface, target
        self.target_module = get_target(target)
        self.module = cache.load(source, owner=self)
        self.kernel = self.module.kernel
        self.timings: dict[str, Any] = {}  # of the last run: launch configuration, seconds

    def run(self, *args: Any, out: Any = None, threads_per_block: int | None = None) -> Any:
        """Evaluate the program for every run of a batch (see `Lowered.run`)."""
        face = self.interface
        leaves, _ = flatten(list(args))
        if len(leaves) != len(face.inputs):
            raise TypeError(f"run: {face.name} takes {len(face.inputs)} inputs, "
                            f"got {len(leaves)}")
        n_runs = self._n_runs(leaves)
        persist = {dt: np.zeros((n_runs, size), dtype)
                   for dt, (size, dtype) in face.persistent.items()}
        arrays: list[Any] = []
        for port, value in zip(face.inputs, leaves):
            shape = ((n_runs,) if port.batched else ()) + port.shape
            arr = np.array(value, dtype=port.dtype)
            if arr.shape != shape:
                raise ValueError(f"run: {port.name} must have shape {shape} "
                                 f"({'batched over' if port.batched else 'shared by'} "
                                 f"{n_runs} runs), got {arr.shape}")
            if not shape:
                arr = arr[()]  # a scalar shared by all runs is passed by value
            if port.place is not None:
                pool, offset, size = port.place
                persist[pool][:, offset:offset + size] = arr.reshape(n_runs, size)
            else:  # the device code indexes buffers flat: one row of elements per run
                flat = (n_runs, port.size) if port.batched else (port.size,)
                arrays.append(arr.reshape(flat) if len(port.shape) > 1 else arr)
        n_read = len(arrays)
        outputs = self._given_outputs(out, n_runs)
        for port, arr in zip(face.outputs, outputs):
            if port.param:  # written in full by the kernel: never initialised here
                arrays.append(arr.reshape(n_runs, port.size) if len(port.shape) > 1 else arr)
        n_fresh = len(arrays) - n_read
        arrays += [persist[name.split("_", 1)[1]] for name in face.persist_arrays]
        log_data = log_count = None
        if face.instrument:
            log_data = np.zeros((n_runs, max(face.log_size, 1)), np.float64)
            log_count = np.zeros((n_runs, max(len(face.taps), 1)), np.int32)
            arrays += [log_data, log_count]
        self.timings = self.target_module.launch(
            self.kernel, arrays, n_read, n_fresh, n_runs, face.shared_bytes_per_thread,
            threads_per_block)
        for port, arr in zip(face.outputs, outputs):
            if port.place is not None:
                pool, offset, size = port.place
                arr[...] = persist[pool][:, offset:offset + size].reshape(arr.shape)
        structured = unflatten(face.out_tree, outputs) if face.out_tree is not None \
            else tuple(outputs)
        if not face.instrument:
            return structured
        return structured, self._logs(log_data, log_count, n_runs)

    def compile(self) -> float:
        """Compile the batch kernel now (a launch over no runs); returns the seconds it took."""
        started = time.perf_counter()
        self.run(*[np.zeros(((0,) if port.batched else ()) + port.shape)
                   for port in self.interface.inputs])
        return time.perf_counter() - started

    def _given_outputs(self, out: Any, n_runs: int) -> list[np.ndarray]:
        """The arrays the outputs are written to: `out`'s leaves, checked, or new ones."""
        shapes = [((n_runs, *port.shape), port.dtype) for port in self.interface.outputs]
        if out is None:
            return [np.empty(shape, dtype) for shape, dtype in shapes]
        leaves, _ = flatten(out)
        if len(leaves) != len(shapes):
            raise ValueError(f"run: out has {len(leaves)} arrays, the program "
                             f"{len(shapes)} outputs")
        for k, (arr, (shape, dtype)) in enumerate(zip(leaves, shapes)):
            if not (isinstance(arr, np.ndarray) and arr.shape == shape and arr.dtype == dtype
                    and arr.flags.c_contiguous and arr.flags.writeable):
                raise ValueError(f"run: out array {k} must be a writeable C-contiguous "
                                 f"{np.dtype(dtype).name} array of shape {shape}")
        return leaves

    def _n_runs(self, leaves: list[Any]) -> int:
        for value, port in zip(leaves, self.interface.inputs):
            if port.batched:
                arr = np.asarray(value)
                if arr.ndim == 0:
                    raise ValueError("run: batched inputs need a leading run axis")
                return int(arr.shape[0])
        raise ValueError("run: at least one input must be batched")

    def _logs(self, data: Any, count: Any, n_runs: int) -> list[dict[str, list[np.ndarray]]]:
        logs = []
        capacity = self.interface.log_capacity
        for r in range(n_runs):
            log: dict[str, list[np.ndarray]] = {}
            for name, tap in self.interface.taps.items():
                n = min(int(count[r, tap.index]), capacity)
                if n == 0:  # a tap never reached is absent, as in the interpreter's log
                    continue
                values = data[r, tap.base:tap.base + n * tap.size].reshape(n, tap.size)
                log[name] = [v.astype(self.dtype(tap.dtype)).reshape(tap.shape)
                             for v in values]
            logs.append(log)
        return logs

    def dtype(self, dtype: str) -> np.dtype:
        """The numpy dtype of an IR dtype at this kernel's precision."""
        return numpy_dtype(dtype, self.interface.precision)
