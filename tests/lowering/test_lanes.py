"""The lane-blocked CPU target (`lowering.lanes`): W runs integrated together in SIMD
lanes give the same results as one run at a time, for random programs against the
interpreter and for whole solves against the scalar kernel, with a remainder of runs
that fills no whole block."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cubie_trace as ct
from cubie_trace.integrators.tableaus import ERK_TABLEAUS
from cubie_trace.systems import library
from cubie_trace.testing import RandomFunction, random_functions
from lowering import lower
from lowering.lanes import LaneFunction
from lowering.targets.cpu import default_lanes, vector_bits
from tests.lowering.strategies import batches, check_lowered, random_layouts

LANES = 4
RUNS = 2 * LANES + 3  # two whole blocks and a remainder
CI_METHODS = ["rk4", "tsit5"]
METHODS = [m if m in CI_METHODS else pytest.param(m, marks=pytest.mark.slow)
           for m in ERK_TABLEAUS]


def check_random(fn: RandomFunction, data: st.DataObject) -> None:
    program = fn.trace()
    layout = data.draw(random_layouts(program), label="layout")
    runs, flags = data.draw(batches(program, n_runs=LANES + 1), label="runs")
    low = lower(program, layout, target="cpu", batched=flags, lanes=LANES)
    check_lowered(low, runs, flags, rtol=1e-12, atol=0.0)


@settings(max_examples=6)
@given(random_functions(max_ops=4), st.data())
def test_random_programs_match_interpreter(fn: RandomFunction, data: st.DataObject) -> None:
    check_random(fn, data)


@pytest.mark.slow
@settings(max_examples=100)
@given(random_functions(max_ops=8), st.data())
def test_larger_random_programs_match_interpreter(fn: RandomFunction,
                                                  data: st.DataObject) -> None:
    check_random(fn, data)


def fixed(method: str) -> bool:
    return ERK_TABLEAUS[method].b_error is None


def solve(method: str, lanes: int, precision: str = "float64") -> ct.Solution:
    tol = 1e-8 if ERK_TABLEAUS[method].order >= 4 else 1e-5
    solver = ct.Solver(library.lorenz(), method, dt=1e-3 if fixed(method) else None,
                       rtol=tol, atol=tol, backend="cpu", lanes=lanes, precision=precision)
    # runs whose step counts differ, so that adaptive lanes finish at different passes
    return solver.solve((0.0, 1.0), parameters={"rho": np.linspace(0.0, 40.0, RUNS)},
                        save_every=0.25, progress=False)


@pytest.mark.parametrize("method", METHODS)
def test_every_explicit_method_matches_the_scalar_kernel(method: str) -> None:
    scalar, lanes = solve(method, 1), solve(method, LANES)
    assert np.all(scalar.ok) and np.all(lanes.ok)
    np.testing.assert_allclose(lanes.y, scalar.y, rtol=1e-12, atol=0.0)
    np.testing.assert_array_equal(lanes.stats["accepted"], scalar.stats["accepted"])
    np.testing.assert_array_equal(lanes.stats["rejected"], scalar.stats["rejected"])
    if not fixed(method):
        assert len(set(np.asarray(scalar.stats["accepted"]).tolist())) > 1


@pytest.mark.slow
def test_float32_rk4_matches_the_scalar_kernel() -> None:
    scalar, lanes = solve("rk4", 1, "float32"), solve("rk4", LANES, "float32")
    np.testing.assert_array_equal(lanes.y, scalar.y)


def test_implicit_method_with_newton_loops_matches_the_scalar_kernel() -> None:
    def run(lanes: int) -> ct.Solution:
        solver = ct.Solver(library.robertson(), "rodas4", rtol=1e-6, atol=1e-10,
                           backend="cpu", lanes=lanes)
        k1 = np.linspace(0.02, 0.06, RUNS)
        return solver.solve((0.0, 1e3), parameters={"k1": k1}, save_every=250.0,
                            progress=False)

    scalar, lanes = run(1), run(LANES)
    assert np.all(scalar.ok)
    np.testing.assert_allclose(lanes.y, scalar.y, rtol=1e-12, atol=0.0)


@pytest.mark.slow
def test_scratch_arrays_in_memory_match_the_scalar_kernel() -> None:
    """A system too large for registers: its scratch pools get a row per lane."""
    def run(lanes: int) -> ct.Solution:
        solver = ct.Solver(library.linear_chain(40), "tsit5", rtol=1e-8, atol=1e-8,
                           backend="cpu", lanes=lanes)
        return solver.solve((0.0, 1.0), parameters={"k": np.linspace(0.5, 2.0, RUNS)},
                            save_every=0.5, progress=False)

    scalar, lanes = run(1), run(LANES)
    assert not ct.Solver(library.linear_chain(40), "tsit5", backend="cpu") \
        .lowered(3, lanes=LANES).memory.scratch_held()
    np.testing.assert_allclose(lanes.y, scalar.y, rtol=1e-12, atol=0.0)


def test_a_finished_lane_keeps_its_state_and_status() -> None:
    """Runs that fail (max_steps) next to runs that finish: each lane stops on its own."""
    solver = ct.Solver(library.lorenz(), "tsit5", rtol=1e-10, atol=1e-10, max_steps=200,
                       backend="cpu", lanes=LANES)
    rho = np.where(np.arange(RUNS) % 2 == 0, 0.0, 28.0)  # 119 steps and 370
    with pytest.warns(RuntimeWarning, match="MAX_STEPS"):
        lanes = solver.solve((0.0, 1.0), parameters={"rho": rho}, progress=False)
    with pytest.warns(RuntimeWarning, match="MAX_STEPS"):
        scalar = solver.replace(lanes=1).solve((0.0, 1.0), parameters={"rho": rho},
                                                progress=False)
    np.testing.assert_array_equal(lanes.status, scalar.status)
    assert len(set(np.asarray(lanes.status).tolist())) == 2
    np.testing.assert_array_equal(lanes.y_final, scalar.y_final)


def test_lane_count_follows_the_batch_and_the_option() -> None:
    solver = ct.Solver(library.lorenz(), "tsit5", backend="cpu")
    assert solver.lanes_for(10) == 1
    assert solver.lanes_for(1 << 20) == default_lanes("float64")
    assert solver.replace(lanes=1).lanes_for(1 << 20) == 1
    assert solver.replace(lanes=8).lanes_for(3) == 8
    assert default_lanes("float32") == 2 * default_lanes("float64")
    # scratch arrays too large to hold would be addressed lane by lane: the scalar kernel
    chain = ct.Solver(library.linear_chain(16), "tsit5", backend="cpu")
    assert chain.lanes_for(1 << 20) == 1
    assert default_lanes("float64") * 64 == 8 * vector_bits()


@pytest.mark.parametrize("bad", [0, -2, 2.5, True, "8"])
def test_lanes_must_be_a_positive_int(bad: object) -> None:
    with pytest.raises(ValueError, match="lanes"):
        ct.Solver(library.lorenz(), "tsit5", lanes=bad)


def test_lanes_are_a_cpu_formulation() -> None:
    program = ct.trace(lambda x: x * 2.0, ct.buffer(3))
    from cubie_trace.layout import plan

    with pytest.raises(ValueError, match="only on the CPU"):
        lower(program, plan(program), target="cuda", lanes=4)


def test_lock_step_masks_and_lane_rows() -> None:
    """A loop carried in lanes: the condition sets the mask, carried values are stored
    back through it, values used within one segment stay scalars."""
    source = "\n".join([
        "def f(in0, s1):",
        "    v_a = in0[0]",
        "    v_n = 0",
        "    while True:",
        "        v_c = v_a < s1",
        "        if not v_c:",
        "            break",
        "        v_t = v_a * 2.0",
        "        v_a = v_t + 1.0",
        "        v_n = v_n + 1",
        "    return (v_a, v_n,)"])
    fn = LaneFunction(source, {"v_a": "float", "v_n": "int32", "v_c": "bool", "v_t": "float"},
                      {"in0"}, set(), ["float", "int32"])
    text = "\n".join(fn.source("f_lanes", 4))
    assert "act0[l] = v_c" in text
    assert "_live = act0[l]" in text and "lane_select(_live, v_a, _old_v_a)" in text
    assert "v_t" not in fn.lane_arrays and {"v_a", "v_n"} <= fn.lane_arrays
    assert "in0[l, 0]" in text
