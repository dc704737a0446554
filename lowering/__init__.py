"""The back end: Program + Layout -> generated Python source -> Numba functions.

`lower(program, layout, target="cuda"|"cpu", precision=..., instrument=False)`
returns a `Lowered` holding the generated `.source`, the program's device
function and the batch kernel, and `.run(...)`, which maps the program over a
batch of runs (one thread per run on the GPU, one `prange` iteration on the CPU).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from cubie_trace.core.program import Program
from cubie_trace.core.tree import flatten, unflatten
from cubie_trace.core.values import numpy_dtype
from cubie_trace.layout import Layout
from lowering import cache, module
from lowering.memory import REGISTER_LIMIT, Memory
from lowering.targets import get_target

__all__ = ["Lowered", "lower"]


class Lowered:
    """A program compiled for one target and precision."""

    def __init__(self, program: Program, layout: Layout, target: str, precision: str,
                 instrument: bool, batched: tuple[bool, ...], log_capacity: int,
                 register_limit: int) -> None:
        self.program, self.layout = program, layout
        self.target, self.precision, self.instrument = target, precision, instrument
        self.target_module = get_target(target)
        self.memory = Memory(layout, precision, log_capacity if instrument else 0,
                             register_limit)
        self.signature = module.signature(program, batched)
        self.source = module.module_source(program, layout, self.memory, self.signature,
                                           self.target_module, precision, instrument)
        self.module = cache.load(self.source, owner=self)
        self.kernel = self.module.kernel
        self.device_function = getattr(self.module, module.function_name(program))
        self.timings: dict[str, Any] = {}  # of the last run: launch configuration, seconds

    @property
    def path(self) -> str:
        return str(self.module.__file__)

    def run(self, *args: Any, out: Any = None, threads_per_block: int | None = None) -> Any:
        """Evaluate the program for every run of a batch.

        `args` are structured like the program's inputs; a batched input has a leading
        run axis, an input lowered with `batched=False` is shared by all runs. Returns
        the outputs with a leading run axis (structured like the program's outputs) and,
        when instrumented, a list with each run's log as `ct.interpret` returns it.
        `out`, structured like the outputs (C-contiguous arrays of their shapes and
        dtypes, such as rows of larger arrays), receives them instead of new arrays.
        """
        leaves, _ = flatten(list(args))
        program, sig = self.program, self.signature
        if len(leaves) != len(program.inputs):
            raise TypeError(f"run: {program.name} takes {len(program.inputs)} inputs, "
                            f"got {len(leaves)}")
        n_runs = self._n_runs(leaves)
        arrays: list[Any] = []
        persist = {dt: np.zeros((n_runs, size), numpy_dtype(dt, self.precision))
                   for dt, size in self.memory.persistent_sizes().items()}
        for k, (var, value, param) in enumerate(zip(program.inputs, leaves, sig.inputs)):
            dtype = numpy_dtype(var.dtype, self.precision)
            shape = ((n_runs,) if sig.batched[k] else ()) + var.shape
            arr = np.array(value, dtype=dtype)
            if arr.shape != shape:
                name = program.input_names[k] if k < len(program.input_names) else f"input {k}"
                raise ValueError(f"run: {name} must have shape {shape} "
                                 f"({'batched over' if sig.batched[k] else 'shared by'} "
                                 f"{n_runs} runs), got {arr.shape}")
            if not shape:
                arr = arr[()]  # a scalar shared by all runs is passed by value
            if not param:
                place = self.layout.placements[var]
                persist[place.dtype][:, place.offset:place.offset + place.size] = \
                    arr.reshape(n_runs, place.size)
            else:  # the device code indexes buffers flat: one row of elements per run
                size = int(np.prod(var.shape))
                flat = (n_runs, size) if sig.batched[k] else (size,)
                arrays.append(arr.reshape(flat) if len(var.shape) > 1 else arr)
        n_read = len(arrays)
        given = self._given_outputs(out, n_runs)
        outputs: list[np.ndarray] = []
        for atom, param, arr in zip(program.outputs, sig.outputs, given):
            if param:
                arr[...] = 0
                arrays.append(arr.reshape(n_runs, int(np.prod(atom.shape)))
                              if len(atom.shape) > 1 else arr)
            outputs.append(arr)
        arrays += [persist[name.split("_", 1)[1]] for name in self.memory.pool_arrays()
                   if name.startswith("persist")]
        log_data = log_count = None
        if self.instrument:
            log_data = np.zeros((n_runs, max(self.memory.log_size, 1)), np.float64)
            log_count = np.zeros((n_runs, max(len(self.memory.taps), 1)), np.int32)
            arrays += [log_data, log_count]
        self.timings = self.target_module.launch(
            self.kernel, arrays, n_read, n_runs, self.memory.shared_bytes_per_thread(),
            threads_per_block)
        for k, arr in enumerate(outputs):
            if not sig.outputs[k]:
                carried = sig.carried[k]
                place = self.layout.placements[carried]
                block = persist[place.dtype][:, place.offset:place.offset + place.size]
                arr[...] = block.reshape((n_runs, *carried.shape))
        structured = unflatten(program.out_tree, outputs) if program.out_tree is not None \
            else tuple(outputs)
        if not self.instrument:
            return structured
        return structured, self._logs(log_data, log_count, n_runs)

    def _given_outputs(self, out: Any, n_runs: int) -> list[np.ndarray]:
        """The arrays the outputs are written to: `out`'s leaves, checked, or new ones."""
        shapes = [((n_runs, *atom.shape), numpy_dtype(atom.dtype, self.precision))
                  for atom in self.program.outputs]
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

    def compile(self) -> float:
        """Compile the batch kernel now (a launch over no runs); returns the seconds it took."""
        started = time.perf_counter()
        zero = [np.zeros(((0,) if batched else ()) + var.shape)
                for var, batched in zip(self.program.inputs, self.signature.batched)]
        self.run(*zero)
        return time.perf_counter() - started

    def _n_runs(self, leaves: Sequence[Any]) -> int:
        for value, batched in zip(leaves, self.signature.batched):
            if batched:
                arr = np.asarray(value)
                if arr.ndim == 0:
                    raise ValueError("run: batched inputs need a leading run axis")
                return int(arr.shape[0])
        raise ValueError("run: at least one input must be batched")

    def _logs(self, data: Any, count: Any, n_runs: int) -> list[dict[str, list[np.ndarray]]]:
        logs = []
        capacity = self.memory.log_capacity
        for r in range(n_runs):
            log: dict[str, list[np.ndarray]] = {}
            for name, tap in self.memory.taps.items():
                n = min(int(count[r, tap.index]), capacity)
                if n == 0:  # a tap never reached is absent, as in the interpreter's log
                    continue
                values = data[r, tap.base:tap.base + n * tap.size].reshape(n, tap.size)
                np_type = numpy_dtype(tap.dtype, self.precision)
                log[name] = [v.astype(np_type).reshape(tap.shape) for v in values]
            logs.append(log)
        return logs


def lower(program: Program, layout: Layout, target: str = "cuda", precision: str = "float64",
          instrument: bool = False, batched: Sequence[bool] | None = None,
          log_capacity: int = 256, register_limit: int = REGISTER_LIMIT) -> Lowered:
    """Compile `program` with `layout` for `target` at `precision`.

    `batched[k]` says whether input k has one value per run (default: all do).
    With `instrument=True` every `ct.tap` records up to `log_capacity` values per run.
    Arrays of at most `register_limit` elements addressed only at constant indices
    are held in scalar locals (0: none).
    """
    if layout.program is not program:
        raise ValueError("lower: the layout was planned for a different program")
    if precision not in ("float32", "float64"):
        raise ValueError(f"precision must be 'float32' or 'float64', got {precision!r}")
    flags = tuple(batched) if batched is not None else (True,) * len(program.inputs)
    if len(flags) != len(program.inputs):
        raise ValueError(f"batched: one flag per input ({len(program.inputs)}), got {len(flags)}")
    return Lowered(program, layout, target, precision, instrument, flags, log_capacity,
                   register_limit)
