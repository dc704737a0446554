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
# arrays of at most this many elements may be held in registers (issue figures: Numba's
# compile time grows steeply with straight-line code over larger buffers)
REGISTER_LIMIT = 32
POOL_PREFIX = {"shared": "shared", "local": "local", "persistent": "persist"}


def simulator_enabled() -> bool:
    """Whether numba's CUDA simulator stands in for the GPU in this process."""
    return os.environ.get("NUMBA_ENABLE_CUDASIM", "0") == "1"


class Registers:
    """Arrays held as scalar locals (registers) rather than in memory: element k of array
    `a` is the local `a_k`. An array qualifies when it is small (at most `limit`
    elements) and every access to it is at a constant index: generation runs once to
    find the arrays accessed otherwise (`dynamic`), then again holding the rest."""

    def __init__(self, candidates: dict[str, tuple[int, str]], limit: int) -> None:
        self.candidates = candidates  # array -> (elements, dtype)
        self.limit = limit
        self.dynamic: set[str] = set()
        self.accessed: set[str] = set()
        self.held: set[str] = set(candidates)  # tentatively all, while finding `dynamic`
        self.final = False
        self.touched = False  # whether an element of a held array was addressed

    def settle(self) -> None:
        """Hold the candidates found to be accessed, and only at constant indices."""
        self.held = self.accessed - self.dynamic
        self.final = True

    def element(self, array: str, index: str | None) -> str | None:
        """The local holding element `index` (None: not constant) of `array`, if held."""
        if array not in self.candidates:
            return None
        if index is None or not index.isdigit():
            if self.final and array in self.held:
                raise AssertionError(f"{array} is held in registers but indexed by {index}")
            self.dynamic.add(array)
            return None
        self.accessed.add(array)
        if array not in self.held:
            return None
        self.touched = True
        return f"{array}_{index}"


@attrs.frozen
class Ref:
    """A buffer's storage: `array[offset + i]` for its elements, or the locals holding
    them where `registers` holds the array."""

    array: str
    offset: str = "0"
    registers: Registers | None = attrs.field(default=None, eq=False, repr=False)

    def at(self, index: str) -> str:
        constant = self.offset.isdigit() and index.isdigit()
        if self.registers is not None:
            local = self.registers.element(
                self.array, str(int(self.offset) + int(index)) if constant else None)
            if local is not None:
                return local
        if constant:
            return f"{self.array}[{int(self.offset) + int(index)}]"
        if self.offset == "0":
            return f"{self.array}[{index}]"
        return f"{self.array}[{self.offset} + {index}]"

    def shifted(self, by: str) -> Ref:
        if self.offset.isdigit() and by.isdigit():
            return Ref(self.array, str(int(self.offset) + int(by)), self.registers)
        return Ref(self.array, by if self.offset == "0" else f"{self.offset} + {by}",
                   self.registers)

    def same(self, other: Ref) -> bool:
        return self == other

    @property
    def held(self) -> bool:
        """Whether the buffer's elements are locals."""
        return self.registers is not None and self.array in self.registers.held

    def escape(self) -> str:
        """The array itself, for code that addresses it at run time (a child function)."""
        if self.registers is not None:
            self.registers.element(self.array, None)
        return self.array

    def view(self, shape: tuple[int, ...]) -> str:
        """An array view of the buffer (for calls that take arrays)."""
        n = 1
        for d in shape:
            n *= d
        self.escape()
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

    def __init__(self, layout: Layout, precision: str, log_capacity: int = 0,
                 register_limit: int = REGISTER_LIMIT) -> None:
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
        self.registers = Registers(self._register_candidates(register_limit), register_limit)

    def _register_candidates(self, limit: int) -> dict[str, tuple[int, str]]:
        """Arrays small enough to hold in registers: thread-local and persistent pools and
        the program's buffer inputs and outputs (shared pools stay where they were put)."""
        program = self.layout.program
        arrays = {pool_array(loc, dt): (size, dt) for (loc, dt), size in self.pools.items()
                  if loc != "shared"}
        arrays |= {f"in{k}": (v.aval.elements, v.dtype) for k, v in enumerate(program.inputs)
                   if v.is_buffer}
        arrays |= {f"out{k}": (a.aval.elements, a.dtype)
                   for k, a in enumerate(program.outputs) if a.shape}
        return {name: entry for name, entry in arrays.items() if entry[0] <= limit}

    def ref(self, placement: Placement) -> Ref:
        if placement.location in POOL_PREFIX:
            return Ref(pool_array(placement.location, placement.dtype), str(placement.offset),
                       self.registers)
        prefix = "in" if placement.location == "input" else "out"
        return Ref(f"{prefix}{placement.index}", str(placement.offset), self.registers)

    def array(self, name: str) -> Ref:
        """A whole input or output array (`in<k>`, `out<k>`)."""
        return Ref(name, "0", self.registers)

    def pool_arrays(self) -> list[str]:
        """Names of the pool arrays a device function takes, in a fixed order (thread-local
        and shared pools held in registers are not arrays at all)."""
        names = [pool_array(loc, dt) for loc, dt in self.pools]
        return [name for name in names
                if name.startswith("persist") or name not in self.registers.held]

    def scratch_held(self) -> bool:
        """Whether every thread-local and shared pool is held in registers (after the
        device function is written)."""
        return all(name.startswith("persist") for name in self.pool_arrays())

    def held_entry(self) -> list[str]:
        """Device function lines giving each held array's locals their first values:
        inputs, outputs and persistent storage as stored, scratch zero."""
        lines = []
        for name in sorted(self.registers.held):
            size, dtype = self.registers.candidates[name]
            scratch = name.startswith(("local", "shared"))
            lines += [f"{name}_{k} = " + (f"{NUMPY_TYPE[dtype]}(0)" if scratch
                                          else f"{name}[{k}]") for k in range(size)]
        return lines

    def held_exit(self) -> list[str]:
        """Device function lines storing held outputs and persistent storage back."""
        return [f"{name}[{k}] = {name}_{k}" for name in sorted(self.registers.held)
                if name.startswith(("out", "persist"))
                for k in range(self.registers.candidates[name][0])]

    # ------------------------------------------------------------ allocation

    def allocate(self, target: str, run: str) -> list[str]:
        """Kernel lines creating this run's pools (persistent pools come as arrays)."""
        lines = []
        shared_offset = "0"
        taken = set(self.pool_arrays())
        for (location, dtype), size in self.pools.items():
            name = pool_array(location, dtype)
            if name not in taken:
                continue
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
        writer.each(var.aval.elements, lambda i: [f"{ref.at(i)} = {writer.ref(var).at(i)}"])
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
        writer.depth += 1
        if atom.shape:
            writer.each(tap.size, lambda i: [
                f"log_data[{tap.base} + {count} * {tap.size} + {i}] = "
                f"{writer.element(atom, i, 'float')}"])
        else:
            writer.emit(f"log_data[{tap.base} + {count}] = {writer.scalar(atom, 'float')}")
        writer.depth -= 1
        writer.emit(f"log_count[{tap.index}] = {count} + 1")
