"""Small arrays addressed only at constant indices live in scalar locals: the generated
source shows it, large or dynamically indexed arrays stay arrays, and results do not
change (bit for bit) whether arrays are held or not."""

from __future__ import annotations

import re

import numpy as np
import pytest

import cubie_trace as ct
from cubie_trace.core.tree import flatten
from cubie_trace.systems.library import linear_chain, lorenz
from lowering import lower
from lowering.memory import REGISTER_LIMIT


def loop_source(system: ct.ODESystem, method: str) -> tuple[str, object]:
    options = {"dt": 1e-3} if method == "rk4" else {"rtol": 1e-8, "atol": 1e-8}
    solver = ct.Solver(system, method, backend="cpu", **options)
    lowered = solver.compiled(1)[2]
    return lowered.source, lowered


def device_function(source: str) -> str:
    return source[source.index("def program_"):source.index("def kernel")]


@pytest.mark.parametrize("method", ["rk4", "tsit5"])
def test_lorenz_step_keeps_everything_in_locals(method: str) -> None:
    source, lowered = loop_source(lorenz(), method)
    body = device_function(source)
    held = lowered.memory.registers.held  # type: ignore[attr-defined]
    assert {"in0", "in1", "out1", "local_float"} <= held
    # no scratch array at all: not taken, not allocated, not indexed
    assert "local_float[" not in body and "local_float = np.empty" not in source
    # the right-hand side is written in place, not called on array views
    assert "system0_rhs(" not in body and "# rhs of system" in body
    # parameters are read once per run, the state written back once
    assert re.findall(r"in1\[(\d+)\]", body) == ["0", "1", "2"]
    assert len(re.findall(r"out1\[\d+\] = ", body)) == 3


def test_dynamically_indexed_and_large_arrays_stay_arrays() -> None:
    source, lowered = loop_source(lorenz(), "rk4")
    held = lowered.memory.registers.held  # type: ignore[attr-defined]
    assert "out7" not in held and "out7[v_" in device_function(source)  # saves, by index
    big, lowered = loop_source(linear_chain(REGISTER_LIMIT + 8), "rk4")
    body = device_function(big)
    assert "local_float" not in lowered.memory.registers.held  # type: ignore[attr-defined]
    assert "system0_rhs(" in body and "for _i" in body


@pytest.mark.parametrize("system, method", [(lorenz(), "tsit5"), (linear_chain(16), "rk4")])
def test_results_do_not_depend_on_registers(system: ct.ODESystem, method: str,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The loop a solve runs, lowered again with no arrays in registers, on the same inputs."""
    options = {"dt": 1e-2} if method == "rk4" else {"rtol": 1e-6, "atol": 1e-6}
    solver = ct.Solver(system, method, backend="cpu", **options)
    program, layout, held = solver.compiled(1)
    inputs = []
    run = held.run

    def recorded(*args: object, **kwargs: object) -> object:
        inputs.append(args)
        return run(*args, **kwargs)

    monkeypatch.setattr(held, "run", recorded)
    solver.solve((0.0, 1.0), parameters={system.parameter_names[0]: np.linspace(0.5, 1.5, 5)},
                 progress=False)
    plain = lower(program, layout, target="cpu", precision="float64",
                  batched=held.signature.batched, register_limit=0)
    assert plain.memory.registers.held == set() and held.memory.registers.held
    assert "local_float" in plain.memory.pool_arrays()
    ours, _ = flatten(run(*inputs[0]))
    theirs, _ = flatten(plain.run(*inputs[0]))
    assert len(ours) == len(theirs) > 1
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a, b)
