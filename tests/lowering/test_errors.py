"""Bad input to `lower` and `Lowered.run` fails with a message naming what was wrong."""

from __future__ import annotations

import numpy as np
import pytest

import cubie_trace as ct
from cubie_trace.layout import plan
from lowering import lower
from lowering.ptx import compile_ptx
from lowering.targets.cuda import SHARED_BYTES_PER_BLOCK, block_size
from tests.lowering.programs import program


@pytest.fixture(scope="module")
def swap() -> tuple[ct.Program, object]:
    prog = program("swap")
    return prog, plan(prog)


def test_layout_of_another_program(swap: tuple) -> None:
    prog, _ = swap
    other = program("swap")  # the same function traced again is another program
    with pytest.raises(ValueError, match="layout was planned for a different program"):
        lower(prog, plan(other), target="cpu")


@pytest.mark.parametrize("precision", ["float16", "double", None])
def test_bad_precision(swap: tuple, precision: object) -> None:
    with pytest.raises(ValueError, match="precision must be 'float32' or 'float64'"):
        lower(*swap, target="cpu", precision=precision)  # type: ignore[arg-type]


@pytest.mark.parametrize("target", ["opencl", "rocm", ""])
def test_bad_target(swap: tuple, target: str) -> None:
    with pytest.raises(ValueError, match=r"target must be one of \['cpu', 'cuda'\]"):
        lower(*swap, target=target)


@pytest.mark.parametrize("flags", [[True], [True, True, True, True], []])
def test_batched_needs_one_flag_per_input(swap: tuple, flags: list) -> None:
    with pytest.raises(ValueError, match=r"batched: one flag per input \(3\)"):
        lower(*swap, target="cpu", batched=flags)


@pytest.fixture(scope="module")
def lowered_swap(swap: tuple) -> object:
    return lower(*swap, target="cpu", batched=[True, True, False])


def test_wrong_number_of_run_inputs(lowered_swap: object) -> None:
    x = np.zeros((2, 2))
    with pytest.raises(TypeError, match="swap takes 3 inputs, got 2"):
        lowered_swap.run(x, x)  # type: ignore[attr-defined]
    with pytest.raises(TypeError, match="swap takes 3 inputs, got 4"):
        lowered_swap.run(x, x, np.int32(1), x)  # type: ignore[attr-defined]


def test_wrong_input_shapes(lowered_swap: object) -> None:
    run = lowered_swap.run  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match=r"x1 must have shape \(2, 2\) .*got \(3, 2\)"):
        run(np.zeros((2, 2)), np.zeros((3, 2)), np.int32(1))
    with pytest.raises(ValueError, match=r"x2 must have shape \(\) \(shared by 2 runs\)"):
        run(np.zeros((2, 2)), np.zeros((2, 2)), np.ones(2, np.int32))
    with pytest.raises(ValueError, match="batched inputs need a leading run axis"):
        run(np.float64(1.0), np.zeros((2, 2)), np.int32(1))
    with pytest.raises(ValueError, match=r"x0 must have shape \(2, 2\) .*got \(2,\)"):
        run(np.zeros(2), np.zeros((2, 2)), np.int32(1))


def test_no_batched_input(swap: tuple) -> None:
    low = lower(*swap, target="cpu", batched=[False, False, False])
    with pytest.raises(ValueError, match="at least one input must be batched"):
        low.run(np.zeros(2), np.zeros(2), np.int32(1))


def test_tap_with_values_of_two_shapes() -> None:
    def fn(x: object) -> object:
        ct.tap("t", x)
        ct.tap("t", ct.sum(x))  # type: ignore[arg-type]
        return x

    prog = ct.trace(fn, ct.buffer(2))
    layout = plan(prog)
    lower(prog, layout, target="cpu")  # fine without taps
    with pytest.raises(ValueError, match="log tap 't' records values of different shapes"):
        lower(prog, layout, target="cpu", instrument=True)


def test_compile_ptx_needs_the_cuda_target(lowered_swap: object) -> None:
    with pytest.raises(ValueError, match="lowered for the CPU"):
        compile_ptx(lowered_swap)  # type: ignore[arg-type]


def test_block_size_fits_shared_memory() -> None:
    assert block_size(1000, 0, None) == 128
    assert block_size(3, 0, None) == 3
    assert block_size(1000, 1024, None) == 32  # 48 KiB / 1 KiB, halving from 128
    assert block_size(1000, SHARED_BYTES_PER_BLOCK, 64) == 1
    with pytest.raises(ValueError, match="more than a block has"):
        block_size(10, SHARED_BYTES_PER_BLOCK + 8, None)


def test_pinned_shared_layout_too_big_for_a_block() -> None:
    """Pinning a 7000-element float64 buffer to shared memory needs 56 kB per thread: the
    launch refuses before touching a device."""
    def fn(x: object) -> object:
        y = ct.sin(x)  # type: ignore[arg-type]
        return y * ct.sum(y)

    n = 7000
    prog = ct.trace(fn, ct.buffer(n))
    stored = [p.name for p in plan(prog, reuse_outputs=False).placements.values()
              if p.location == "local"]
    assert stored
    layout = plan(prog, pin={stored[0]: "shared"}, reuse_outputs=False)
    assert layout.shared_bytes == 8 * n > SHARED_BYTES_PER_BLOCK
    low = lower(prog, layout, target="cuda")
    with pytest.raises(ValueError, match=f"needs {8 * n} bytes of shared memory per thread"):
        low.run(np.zeros((2, n)))
