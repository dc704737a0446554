"""Lowered random programs equal the reference interpreter on the CPU, for random layouts
(policy, shared budget, pins, output reuse), batches of 1..4 runs and instrumented runs."""

from __future__ import annotations

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

import cubie_trace as ct
from cubie_trace.layout import Layout
from cubie_trace.testing import RandomFunction, random_functions
from lowering import lower
from lowering.memory import REGISTER_LIMIT
from tests.lowering.strategies import batches, check_lowered, random_layouts, tapped_functions

# Numba compiles every new program (about a second each): CI examples are small programs.
CI_OPS = 4
CONTROL = {"while_loop", "fori_loop", "cond", "call", "tap"}


def check_random(fn: RandomFunction, data: st.DataObject, precision: str, rtol: float,
                 atol: float) -> None:
    instrument = data.draw(st.booleans(), label="instrument")
    if instrument:
        fn = data.draw(tapped_functions(fn), label="with taps")
    program = fn.trace()
    layout = data.draw(random_layouts(program, precision), label="layout")
    layout.verify()
    runs, flags = data.draw(batches(program, precision), label="runs")
    registers = data.draw(st.sampled_from([0, REGISTER_LIMIT]), label="register limit")
    low = lower(program, layout, target="cpu", precision=precision, instrument=instrument,
                batched=flags, register_limit=registers)
    for label in features(program, layout, instrument, len(runs)):
        event(label)
    event(f"{len(low.memory.registers.held)} arrays in registers")
    check_lowered(low, runs, flags, rtol=rtol, atol=atol)


def features(program: ct.Program, layout: Layout, instrument: bool, n_runs: int) -> list[str]:
    """What an example exercises (see pytest --hypothesis-show-statistics)."""
    names = {eqn.primitive.name for _, eqn in program.walk()}
    dtypes = {v.dtype for _, eqn in program.walk() for v in eqn.outputs}
    return [f"policy {layout.policy}", f"{n_runs} runs", *sorted(names & CONTROL),
            *(["int32 values"] if "int32" in dtypes else []),
            *(["shared pool"] if layout.shared_elements else []),
            *(["instrumented"] if instrument else [])]


@settings(max_examples=30)
@given(random_functions(max_ops=CI_OPS), st.data())
def test_cpu_matches_interpreter(fn: RandomFunction, data: st.DataObject) -> None:
    check_random(fn, data, "float64", rtol=1e-12, atol=0.0)


@settings(max_examples=30)
@given(random_functions(max_ops=CI_OPS), st.data())
def test_cpu_matches_interpreter_float32(fn: RandomFunction, data: st.DataObject) -> None:
    check_random(fn, data, "float32", rtol=1e-4, atol=1e-5)


@pytest.mark.slow
@settings(max_examples=300)
@given(random_functions(), st.data())
def test_cpu_matches_interpreter_thorough(fn: RandomFunction, data: st.DataObject) -> None:
    check_random(fn, data, "float64", rtol=1e-12, atol=0.0)


@pytest.mark.slow
@settings(max_examples=300)
@given(random_functions(), st.data())
def test_cpu_matches_interpreter_float32_thorough(fn: RandomFunction,
                                                 data: st.DataObject) -> None:
    check_random(fn, data, "float32", rtol=1e-4, atol=1e-5)
