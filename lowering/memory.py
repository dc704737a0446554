"""Storage: the one place that knows shared, local and persistent memory.

Each pool of a layout (a location and a dtype) is one array inside the
generated code: `local_<dtype>` is a thread-local array, `shared_<dtype>`
is this thread's window of the block's dynamic shared memory (on the CPU,
which has no shared memory, a thread-local array), `persist_<dtype>` is this
run's row of a kernel-owned array that outlives the call. A caller's input
or output k is the array `in<k>` / `out<k>`. Code elsewhere addresses a
buffer only through a `Ref` (an array name and an offset expression).

The CUDA simulator runs the CUDA code path: dynamic shared memory is one
byte buffer per block there as on the device, and local arrays are numpy
arrays. Its one difference handled here: the simulator sizes the dynamic
shared array from a numpy dtype instance, where compiled code takes a type.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import attrs

from cubie_trace.core.values import Atom, Var, itemsize
from cubie_trace.layout import Layout, Placement

if TYPE_CHECKING:
    from lowering.codegen import FunctionWriter

NUMPY_TYPE = {"float": "FLOAT", "float32": "np.float32", "float64": "np.float64",
              "int32": "np.int32", "bool": "np.bool_"}
POOL_PREFIX = {"shared": "shared", "local": "local", "persistent": "persist"}


def simulator_enabled() -> bool:
    """Whether numba's CUDA simulator stands in for the GPU in this process."""
    return os.environ.get("NUMBA_ENABLE_CUDASIM", "0") == "1"


@attrs.frozen
class Ref:
    """A buffer's storage: `array[offset + i]` for its elements."""

    array: str
    offset: str = "0"

    def at(self, index: str) -> str:
        if self.offset.isdigit() and index.isdigit():
            return f"{self.array}[{int(self.offset) + int(index)}]"
        if self.offset == "0":
            return f"{self.array}[{index}]"
        return f"{self.array}[{self.offset} + {index}]"

    def shifted(self, by: str) -> Ref:
        if self.offset.isdigit() and by.isdigit():
            return Ref(self.array, str(int(self.offset) + int(by)))
        return Ref(self.array, by if self.offset == "0" else f"{self.offset} + {by}")

    def same(self, other: Ref) -> bool:
        return self == other

    def view(self, shape: tuple[int, ...]) -> str:
        """An array view of the buffer (for calls that take arrays)."""
        n = 1
        for d in shape:
            n *= d
        end = str(n) if self.offset == "0" else f"{self.offset} + {n}"
        text = f"{self.array}[{self.offset}:{end}]"
        return text if len(shape) == 1 else f"{text}.reshape(({shape[0]}, {shape[1]}))"


@attrs.frozen
class Tap:
    """A log tap: its counter index, where its records start in the log, and their type."""

    index: int
    base: int
    shape: tuple[int, ...]
    dtype: str

    @property
    def size(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n


def pool_array(location: str, dtype: str) -> str:
    return f"{POOL_PREFIX[location]}_{dtype}"


class Memory:
    """Storage names, allocation code and log taps for one lowered program."""

    def __init__(self, layout: Layout, precision: str, log_capacity: int = 0) -> None:
        self.layout = layout
        self.precision = precision
        # larger items first, so each shared pool starts aligned for its type
        order = sorted(layout.pools.items(),
                       key=lambda kv: (kv[0][0], -itemsize(kv[0][1], precision), kv[0][1]))
        self.pools = {region: max(size, 1) for region, size in order
                      if size > 0 or region[0] != "persistent"}
        self.log_capacity = log_capacity
        self.taps: dict[str, Tap] = {}
        self.log_size = 0
        self.temporaries: list[tuple[str, int, str]] = []

    def ref(self, placement: Placement) -> Ref:
        if placement.location in POOL_PREFIX:
            return Ref(pool_array(placement.location, placement.dtype), str(placement.offset))
        prefix = "in" if placement.location == "input" else "out"
        return Ref(f"{prefix}{placement.index}", str(placement.offset))

    def pool_arrays(self) -> list[str]:
        """Names of the pool arrays a device function takes, in a fixed order."""
        return [pool_array(loc, dt) for loc, dt in self.pools]

    # ------------------------------------------------------------ allocation

    def allocate(self, target: str, run: str) -> list[str]:
        """Kernel lines creating this run's pools (persistent pools come as arrays)."""
        lines = []
        shared_offset = "0"
        for (location, dtype), size in self.pools.items():
            name = pool_array(location, dtype)
            numpy_type = NUMPY_TYPE[dtype]
            if location == "persistent":
                lines.append(f"{name} = {name}_all[{run}]")
            elif location == "shared" and target == "cuda":
                words = itemsize(dtype, self.precision)
                element = f"np.dtype({numpy_type})" if simulator_enabled() else numpy_type
                lines.append(f"_{name} = cuda.shared.array(0, {element})")
                lines.append(f"_{name}_start = {shared_offset} // {words} + "
                             f"cuda.threadIdx.x * {size}")
                lines.append(f"{name} = _{name}[_{name}_start:_{name}_start + {size}]")
                shared_offset = f"({shared_offset} + cuda.blockDim.x * {size * words})"
            elif target == "cuda":
                lines.append(f"{name} = cuda.local.array({size}, {numpy_type})")
            else:
                lines.append(f"{name} = np.empty({size}, {numpy_type})")
        return lines

    def shared_bytes_per_thread(self) -> int:
        return sum(size * itemsize(dt, self.precision)
                   for (loc, dt), size in self.pools.items() if loc == "shared")

    def persistent_sizes(self) -> dict[str, int]:
        return {dt: size for (loc, dt), size in self.pools.items() if loc == "persistent"}

    def temporary(self, writer: FunctionWriter, var: Var) -> Ref:
        """A scratch copy of `var`, for a permutation of loop carries."""
        name = writer.fresh("tmp")
        numpy_type = NUMPY_TYPE[var.dtype]
        writer.emit(f"{name} = {self.local_array_call(writer.target)}"
                    f"({var.aval.elements}, {numpy_type})")
        ref = Ref(name)
        i = writer.fresh("i")
        writer.emit(f"for {i} in range({var.aval.elements}):")
        writer.emit(f"    {ref.at(i)} = {writer.ref(var).at(i)}")
        return ref

    @staticmethod
    def local_array_call(target: str) -> str:
        return "cuda.local.array" if target == "cuda" else "np.empty"

    # ------------------------------------------------------------ log taps

    def log_write(self, writer: FunctionWriter, name: str, atom: Atom) -> None:
        """Append the value of `atom` to tap `name` in this run's log, while there is room."""
        if name not in self.taps:
            self.taps[name] = Tap(len(self.taps), self.log_size, atom.shape, atom.dtype)
            self.log_size += self.taps[name].size * self.log_capacity
        tap = self.taps[name]
        if (tap.shape, tap.dtype) != (atom.shape, atom.dtype):
            raise ValueError(f"log tap {name!r} records values of different shapes or dtypes "
                             f"({tap.shape} {tap.dtype} and {atom.shape} {atom.dtype}); "
                             "give each kind of value its own tap name")
        count = writer.fresh("n")
        writer.emit(f"{count} = log_count[{tap.index}]")
        writer.emit(f"if {count} < {self.log_capacity}:")
        if atom.shape:
            i = writer.fresh("i")
            writer.emit(f"    for {i} in range({tap.size}):")
            writer.emit(f"        log_data[{tap.base} + {count} * {tap.size} + {i}] = "
                        f"{writer.element(atom, i, 'float')}")
        else:
            writer.emit(f"    log_data[{tap.base} + {count}] = {writer.scalar(atom, 'float')}")
        writer.emit(f"log_count[{tap.index}] = {count} + 1")
