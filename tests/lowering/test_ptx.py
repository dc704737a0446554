"""The real CUDA code path compiles without a GPU: PTX for sm_90 in float32 and float64,
and ptxas accepts it (any compile error fails the test)."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cubie_trace.layout import plan
from cubie_trace.testing import RandomFunction, examples, random_functions
from lowering import lower
from lowering.ptx import compile_ptx, loop_instructions, nvdisasm, ptxas, sass
from tests.lowering.programs import PROGRAMS, program
from tests.lowering.strategies import random_layouts, tapped_functions

pytestmark = pytest.mark.skipif(os.environ.get("NUMBA_ENABLE_CUDASIM") == "1",
                                reason="the simulator replaces the CUDA compiler")
PRECISIONS = ("float32", "float64")


def check_compiles(low: object) -> dict:
    ptx = compile_ptx(low)  # type: ignore[arg-type]
    assert ".visible .entry" in ptx and ".target sm_90" in ptx
    report = ptxas(ptx)
    assert report["registers"] > 0, report["log"]
    assert "error" not in str(report["log"]).lower(), report["log"]
    return {"ptx": ptx, **report}


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("name", list(PROGRAMS))
def test_hand_written_programs_compile(name: str, precision: str) -> None:
    prog = program(name)
    low = lower(prog, plan(prog, precision=precision), target="cuda", precision=precision)
    check_compiles(low)


@pytest.mark.parametrize("precision", PRECISIONS)
def test_shared_memory_and_taps_compile(precision: str) -> None:
    """A layout with shared memory uses the block's dynamic shared array; taps compile."""
    prog = program("stages")
    layout = plan(prog, policy="shared", precision=precision)
    assert layout.shared_elements > 0
    low = lower(prog, layout, target="cuda", precision=precision, instrument=True)
    ptx = check_compiles(low)["ptx"]
    assert ".extern .shared" in ptx and "st.shared" in ptx


@settings(max_examples=examples(4, 40))
@given(random_functions(max_ops=5), st.data())
def test_random_programs_compile(fn: RandomFunction, data: st.DataObject) -> None:
    instrument = data.draw(st.booleans(), label="instrument")
    if instrument:
        fn = data.draw(tapped_functions(fn), label="with taps")
    prog = fn.trace()
    for precision in PRECISIONS:
        layout = data.draw(random_layouts(prog, precision), label=f"{precision} layout")
        check_compiles(lower(prog, layout, target="cuda", precision=precision,
                             instrument=instrument))


SASS = """
        /*0000*/                   MOV R1, c[0x0][0x28] ;
.L_x_0:
        /*0010*/                   DADD R2, R2, R4 ;
        /*0020*/                   DMUL R2, R2, R4 ;
.L_x_1:
        /*0030*/                   IADD3 R6, R6, 0x1, RZ ;
        /*0040*/              @!P0 BRA `(.L_x_1) ;
        /*0050*/                   DFMA R2, R2, R4, R2 ;
        /*0060*/               @P1 BRA `(.L_x_0) ;
        /*0070*/                   EXIT ;
.L_x_2:
        /*0080*/                   BRA `(.L_x_2);
"""


def test_loop_instructions_count_one_pass_of_the_longest_loop() -> None:
    # the loop at .L_x_0 spans DADD .. BRA (6 instructions), of which its inner loop
    # (IADD3, BRA) is not part of a pass; the self-loop at .L_x_2 is shorter
    counts = loop_instructions(SASS)
    assert counts == {"total": 4, "BRA": 1, "DADD": 1, "DFMA": 1, "DMUL": 1}
    assert loop_instructions("        /*0000*/  EXIT ;") == {"total": 0}


@pytest.mark.skipif(nvdisasm() is None, reason="needs nvdisasm (nvidia-cuda-nvdisasm)")
def test_sass_of_a_lowered_program_has_its_loop() -> None:
    prog = program("churn")  # a fori_loop over a buffer update
    low = lower(prog, plan(prog, policy="local"), target="cuda", precision="float64")
    text = sass(compile_ptx(low))
    assert "EXIT" in text
    counts = loop_instructions(text)
    assert counts["total"] > 0 and counts.get("BRA", 0) >= 1
