"""Hand-written programs on the CPU equal the interpreter under each location policy, with
and without output reuse: system calls and carried state, seven Runge-Kutta stages, int32
counters, a child called twice, stage stacks with rows chosen at run time, and loop
carries that trade places."""

from __future__ import annotations

import pytest

from cubie_trace.layout import plan
from lowering import lower
from tests.lowering.programs import PROGRAMS, program, sample_runs
from tests.lowering.strategies import check_lowered

CASES = [("local", True), ("shared", False), ("auto", True)]


@pytest.mark.parametrize(("policy", "reuse"), CASES)
@pytest.mark.parametrize("name", [n for n in PROGRAMS if n != "dopri_like"] + [
    pytest.param("dopri_like", marks=pytest.mark.slow)])
def test_hand_written_program(name: str, policy: str, reuse: bool) -> None:
    prog = program(name)
    layout = plan(prog, policy=policy, reuse_outputs=reuse, shared_budget_bytes=64)
    layout.verify()
    runs = sample_runs(name, 4, seed=3)
    check_lowered(lower(prog, layout, target="cpu"), runs, (True,) * len(prog.inputs))


def test_seven_stage_step() -> None:
    """dopri_like once in CI (each of its layouts takes Numba several seconds)."""
    prog = program("dopri_like")
    runs = sample_runs("dopri_like", 3, seed=5)
    check_lowered(lower(prog, plan(prog, policy="auto", shared_budget_bytes=48), target="cpu"),
                  runs, (True,) * len(prog.inputs))
