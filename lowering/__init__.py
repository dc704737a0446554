"""The back end: Program + Layout -> generated Python source -> Numba functions.

`lower(program, layout, target="cuda"|"cpu", precision=..., instrument=False)`
returns a `Lowered` holding the generated `.source`, the program's device
function and the batch kernel, and `.run(...)`, which maps the program over a
batch of runs (one thread per run on the GPU, one `prange` iteration on the CPU).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cubie_trace.core.program import Program
from cubie_trace.layout import Layout
from lowering import module
from lowering.kernel import BatchKernel, Interface
from lowering.memory import REGISTER_LIMIT, Memory
from lowering.targets import get_target

__all__ = ["Lowered", "lower"]


class Lowered:
    """A program compiled for one target and precision."""

    def __init__(self, program: Program, layout: Layout, target: str, precision: str,
                 instrument: bool, batched: tuple[bool, ...], log_capacity: int,
                 register_limit: int, lanes: int) -> None:
        self.program, self.layout = program, layout
        self.target, self.precision, self.instrument = target, precision, instrument
        self.memory = Memory(layout, precision, log_capacity if instrument else 0,
                             register_limit)
        self.signature = module.signature(program, batched)
        self.source = module.module_source(program, layout, self.memory, self.signature,
                                           get_target(target), precision, instrument,
                                           lanes)
        interface = Interface.of(program, layout, self.memory, self.signature, precision,
                                 instrument)
        self.batch = BatchKernel(self.source, interface, target)
        self.module, self.kernel = self.batch.module, self.batch.kernel
        self.device_function = getattr(self.module, module.function_name(program))

    @property
    def path(self) -> str:
        return str(self.module.__file__)

    @property
    def timings(self) -> dict[str, Any]:
        """Of the last run: launch configuration and seconds."""
        return self.batch.timings

    def run(self, *args: Any, out: Any = None, threads_per_block: int | None = None) -> Any:
        """Evaluate the program for every run of a batch.

        `args` are structured like the program's inputs; a batched input has a leading
        run axis, an input lowered with `batched=False` is shared by all runs. Returns
        the outputs with a leading run axis (structured like the program's outputs) and,
        when instrumented, a list with each run's log as `ct.interpret` returns it.
        `out`, structured like the outputs (C-contiguous arrays of their shapes and
        dtypes, such as rows of larger arrays), receives them instead of new arrays.
        """
        return self.batch.run(*args, out=out, threads_per_block=threads_per_block)

    def compile(self) -> float:
        """Compile the batch kernel now (a launch over no runs); returns the seconds it took."""
        return self.batch.compile()


def lower(program: Program, layout: Layout, target: str = "cuda", precision: str = "float64",
          instrument: bool = False, batched: Sequence[bool] | None = None,
          log_capacity: int = 256, register_limit: int = REGISTER_LIMIT,
          lanes: int = 1) -> Lowered:
    """Compile `program` with `layout` for `target` at `precision`.

    `batched[k]` says whether input k has one value per run (default: all do).
    With `instrument=True` every `ct.tap` records up to `log_capacity` values per run.
    Arrays of at most `register_limit` elements addressed only at constant indices
    are held in scalar locals (0: none). On the CPU, `lanes` > 1 integrates that many
    runs together in SIMD lanes (`lowering.lanes`).
    """
    if layout.program is not program:
        raise ValueError("lower: the layout was planned for a different program")
    if precision not in ("float32", "float64"):
        raise ValueError(f"precision must be 'float32' or 'float64', got {precision!r}")
    flags = tuple(batched) if batched is not None else (True,) * len(program.inputs)
    if len(flags) != len(program.inputs):
        raise ValueError(f"batched: one flag per input ({len(program.inputs)}), got {len(flags)}")
    if lanes < 1 or (lanes > 1 and target != "cpu"):
        raise ValueError(f"lanes: a positive count, above 1 only on the CPU; got {lanes} "
                         f"for target {target!r}")
    return Lowered(program, layout, target, precision, instrument, flags, log_capacity,
                   register_limit, lanes)
