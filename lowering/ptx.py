"""Compile lowered CUDA kernels to PTX and run ptxas on it, without a GPU.

`numba.cuda.compile_ptx` type-checks and compiles the real CUDA code path, and
nvJitLink's ptxas reports registers, stack
frame and spills per thread. Device functions ask the driver for the current
device's compute capability while compiling; with no driver present, a
stand-in device reporting the requested capability answers that question.
`sass` disassembles the machine code ptxas makes (with `nvdisasm`, from the
`nvidia-cuda-nvdisasm` wheel or the CUDA toolkit) and `loop_instructions`
counts the instructions of one iteration of a kernel's main loop.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
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


@contextlib.contextmanager
def _linked(ptx: str, options: list[str]) -> Iterator[Any]:
    """An nvJitLink handle that has run ptxas on `ptx` (freed on leaving)."""
    from cuda.bindings import nvjitlink

    handle = nvjitlink.create(len(options), options)
    try:
        data = ptx.encode()
        nvjitlink.add_data(handle, nvjitlink.InputType.PTX, data, len(data), "kernel.ptx")
        nvjitlink.complete(handle)
        yield handle
    finally:
        nvjitlink.destroy(handle)


def ptxas(ptx: str, arch: str = "sm_90") -> dict[str, int]:
    """Run ptxas (through nvJitLink) on `ptx`; registers, stack bytes and spills of the
    kernel entry."""
    from cuda.bindings import nvjitlink

    with _linked(ptx, [f"-arch={arch}", "-Xptxas=-v"]) as handle:
        log = bytearray(nvjitlink.get_info_log_size(handle))
        nvjitlink.get_info_log(handle, log)
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


def cubin(ptx: str, arch: str = "sm_90") -> bytes:
    """The machine code ptxas (through nvJitLink) makes of `ptx`."""
    from cuda.bindings import nvjitlink

    with _linked(ptx, [f"-arch={arch}"]) as handle:
        out = bytearray(nvjitlink.get_linked_cubin_size(handle))
        nvjitlink.get_linked_cubin(handle, out)
    return bytes(out)


def nvdisasm() -> str | None:
    """The nvdisasm executable: on PATH, or from the `nvidia-cuda-nvdisasm` wheel."""
    found = shutil.which("nvdisasm")
    if found:
        return found
    try:
        import nvidia
    except ImportError:
        return None
    for root in nvidia.__path__:
        for candidate in sorted(Path(root).glob("*/bin/nvdisasm")):
            return str(candidate)
    return None


def sass(ptx: str, arch: str = "sm_90") -> str:
    """The SASS of `ptx` as nvdisasm prints it (raises where nvdisasm is missing)."""
    tool = nvdisasm()
    if tool is None:
        raise FileNotFoundError("sass: nvdisasm not found (pip install nvidia-cuda-nvdisasm)")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "kernel.cubin"
        path.write_bytes(cubin(ptx, arch))
        return subprocess.run([tool, "-c", str(path)], capture_output=True, text=True,
                              check=True).stdout


_INSTRUCTION = re.compile(r"/\*[0-9a-f]{4,}\*/\s+(?:@!?U?P\w+\s+)?([A-Z][A-Z0-9_]*)")
_LABEL = re.compile(r"^\s*(\.L_x_\d+):")
_BRANCH = re.compile(r"BRA[^`]*`\((\.L_x_\d+)\)")


def loop_instructions(text: str) -> dict[str, int]:
    """Instructions of one pass through the longest loop of SASS `text`, not counting
    the loops nested in it (which a pass need not enter), by opcode and in `total`."""
    labels: dict[str, int] = {}
    opcodes: list[str] = []
    back: list[tuple[str, int]] = []
    for line in text.splitlines():
        label = _LABEL.match(line)
        if label:
            labels[label.group(1)] = len(opcodes)
            continue
        op = _INSTRUCTION.search(line)
        if op is None:
            continue
        branch = _BRANCH.search(line)
        if branch:
            back.append((branch.group(1), len(opcodes)))
        opcodes.append(op.group(1))
    loops = [(labels[name], end) for name, end in back if labels.get(name, end + 1) <= end]
    if not loops:
        return {"total": 0}
    start, end = max(loops, key=lambda span: span[1] - span[0])
    inner = [(a, b) for a, b in loops if (a, b) != (start, end) and start <= a and b <= end]
    counts: dict[str, int] = {}
    for k in range(start, end + 1):
        if not any(a <= k <= b for a, b in inner):
            counts[opcodes[k]] = counts.get(opcodes[k], 0) + 1
    return {"total": sum(counts.values()), **dict(sorted(counts.items()))}
