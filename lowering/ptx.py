"""Compile lowered CUDA kernels to PTX and run ptxas on it, without a GPU.

`numba.cuda.compile_ptx` type-checks and compiles the real CUDA code path, and
nvJitLink's ptxas reports registers, stack
frame and spills per thread. Device functions ask the driver for the current
device's compute capability while compiling; with no driver present, a
stand-in device reporting the requested capability answers that question.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any

from numba import types
from numba.np.numpy_support import from_dtype

from cubie_trace.core.values import numpy_dtype
from lowering import Lowered


def kernel_types(lowered: Lowered) -> tuple[Any, ...]:
    """Numba argument types of the batch kernel, in its parameter order."""
    def scalar_type(dtype: str) -> Any:
        return from_dtype(numpy_dtype(dtype, lowered.precision))

    def array(dtype: str, ndim: int) -> Any:
        return types.Array(scalar_type(dtype), ndim, "C")

    sig = lowered.signature
    out: list[Any] = [types.int64]
    for var, param, batched in zip(lowered.program.inputs, sig.inputs, sig.batched):
        if param:
            ndim = min(len(var.shape), 1) + int(batched)  # buffers are passed flat
            out.append(array(var.dtype, ndim) if ndim else scalar_type(var.dtype))
    for atom, param in zip(lowered.program.outputs, sig.outputs):
        if param:
            out.append(array(atom.dtype, min(len(atom.shape), 1) + 1))
    for dtype in lowered.memory.persistent_sizes():
        out.append(array(dtype, 2))
    if lowered.instrument:
        out += [types.Array(types.float64, 2, "C"), types.Array(types.int32, 2, "C")]
    return tuple(out)


@contextlib.contextmanager
def _device_capability(cc: tuple[int, int]) -> Iterator[None]:
    from numba.cuda import dispatcher

    class StandIn:
        compute_capability = cc

    original = dispatcher.get_current_device
    dispatcher.get_current_device = lambda: StandIn()  # type: ignore[assignment]
    try:
        yield
    finally:
        dispatcher.get_current_device = original  # type: ignore[assignment]


def compile_ptx(lowered: Lowered, cc: tuple[int, int] = (9, 0)) -> str:
    """PTX of a CUDA-lowered program's batch kernel for compute capability `cc`."""
    from numba import cuda

    if lowered.target != "cuda":
        raise ValueError("compile_ptx: the program was lowered for the CPU")
    with _device_capability(cc):
        ptx, _ = cuda.compile_ptx(lowered.kernel.py_func, kernel_types(lowered), cc=cc)
    return ptx


def ptxas(ptx: str, arch: str = "sm_90") -> dict[str, int]:
    """Run ptxas (through nvJitLink) on `ptx`; registers, stack bytes and spills of the
    kernel entry."""
    from cuda.bindings import nvjitlink

    handle = nvjitlink.create(2, [f"-arch={arch}", "-Xptxas=-v"])
    try:
        data = ptx.encode()
        nvjitlink.add_data(handle, nvjitlink.InputType.PTX, data, len(data), "kernel.ptx")
        nvjitlink.complete(handle)
        log = bytearray(nvjitlink.get_info_log_size(handle))
        nvjitlink.get_info_log(handle, log)
    finally:
        nvjitlink.destroy(handle)
    return parse_ptxas_log(log.decode(errors="replace"))


def parse_ptxas_log(log: str) -> dict[str, int]:
    """Figures for the last function ptxas reports (the kernel entry)."""
    def last(pattern: str) -> int:
        found = re.findall(pattern, log)
        return int(found[-1]) if found else 0

    return {"registers": last(r"Used (\d+) registers"),
            "stack_bytes": last(r"(\d+) bytes stack frame"),
            "spill_stores": last(r"(\d+) bytes spill stores"),
            "spill_loads": last(r"(\d+) bytes spill loads"),
            "log": log}  # type: ignore[dict-item]
