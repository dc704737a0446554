"""Instrumented runs write every `log` tap, and reproduce the interpreter's log value by
value: taps in loops, branches and child calls, int32 and float values, every run."""

from __future__ import annotations

import numpy as np
import pytest

import cubie_trace as ct
from cubie_trace.layout import plan
from lowering import lower
from tests.lowering.programs import program, sample_runs
from tests.lowering.strategies import assert_logs_equal, check_lowered, stacked


@pytest.mark.parametrize("policy", ["local", "shared"])
@pytest.mark.parametrize("name", ["counters", "heun_fsal", "stages"])
def test_logs_match_interpreter(name: str, policy: str) -> None:
    prog = program(name)
    runs = sample_runs(name, 4, seed=7)
    _, log = ct.interpret(prog, *runs[0], log=True)
    assert log and all(len(values) > 0 for values in log.values())
    low = lower(prog, plan(prog, policy=policy), target="cpu", instrument=True)
    check_lowered(low, runs, (True,) * len(prog.inputs))


def test_logs_differ_per_run_and_keep_int32() -> None:
    prog = program("counters")
    runs = [(np.array([0.5, -1.0, 2.0, 0.25]), np.int32(k)) for k in (0, 2, 6)]
    want = [ct.interpret(prog, *run, log=True)[1] for run in runs]
    counts = [len(log.get("i", [])) for log in want]
    assert counts[0] == 0 and counts[2] > counts[1] > 0
    low = lower(prog, plan(prog), target="cpu", instrument=True)
    _, logs = low.run(*stacked(runs, (True, True)))
    assert [len(log.get("i", [])) for log in logs] == counts
    assert "i" not in logs[0]  # a tap never reached is absent, as in the interpreter
    assert all(value.dtype == np.int32 for value in logs[2]["i"])
    for got, expected in zip(logs, want):
        assert_logs_equal(got, expected, rtol=1e-12, atol=0.0)


def test_log_capacity_keeps_the_first_values() -> None:
    prog = program("counters")
    run = (np.array([0.5, -1.0, 2.0, 0.25]), np.int32(6))
    _, want = ct.interpret(prog, *run, log=True)
    assert len(want["i"]) > 2
    low = lower(prog, plan(prog), target="cpu", instrument=True, log_capacity=2)
    _, logs = low.run(*stacked([run], (True, True)))
    assert_logs_equal(logs[0], {k: v[:2] for k, v in want.items()}, rtol=1e-12, atol=0.0)


def test_uninstrumented_source_has_no_log() -> None:
    prog = program("counters")
    layout = plan(prog)
    assert "log_data" not in lower(prog, layout, target="cpu").source
    assert "log_data" in lower(prog, layout, target="cpu", instrument=True).source
