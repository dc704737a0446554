"""Hand-written programs on the CPU equal the interpreter under each location policy, with
and without output reuse: system calls and carried state, seven Runge-Kutta stages, int32
counters, a child called twice, stage stacks with rows chosen at run time, and loop
carries that trade places."""

from __future__ import annotations

import numpy as np
import pytest

from cubie_trace.core.tree import flatten, unflatten
from cubie_trace.layout import plan
from lowering import lower
from tests.lowering.programs import PROGRAMS, program, sample_runs
from tests.lowering.strategies import check_lowered, stacked

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


def test_outputs_written_into_given_rows() -> None:
    """`run(out=...)` writes each output, carried state included, into the given arrays
    (rows of larger ones here) and leaves the rest of those arrays alone."""
    prog = program("heun_fsal")
    low = lower(prog, plan(prog), target="cpu")
    runs = sample_runs("heun_fsal", 3, seed=7)
    args = stacked(runs, (True,) * len(prog.inputs))
    fresh = low.run(*args)
    leaves, tree = flatten(fresh)
    whole = [np.full((7, *leaf.shape[1:]), -7.0, leaf.dtype) for leaf in leaves]
    rows = unflatten(tree, [arr[2:5] for arr in whole])
    low.run(*args, out=rows)
    for arr, leaf in zip(whole, leaves):
        np.testing.assert_array_equal(arr[2:5], leaf)
        assert np.all(arr[:2] == -7.0) and np.all(arr[5:] == -7.0)
    with pytest.raises(ValueError, match="out array 0 must be .* shape"):
        low.run(*args, out=unflatten(tree, [arr[1:5] for arr in whole]))
    with pytest.raises(ValueError, match="out has 1 arrays"):
        low.run(*args, out=[whole[0][2:5]])
