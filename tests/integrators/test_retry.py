"""Retryable step outcomes and solver counters in the loop.

A user step (Euler, with Heun's difference as its error estimate) counts with
`ct.count` and fails with NEWTON_FAILED whenever dt > LIMIT: the loop must
shrink dt until it succeeds. Counts and results are checked against a plain
Python re-implementation of the retry rule (fixed controller: sub-steps of the
shrunk dt up to the end of the failed step, then the nominal dt again; the I
controller otherwise) and against the closed form exp(-k t). A fatal status ends
only the runs that return it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import cubie_trace as ct
from cubie_trace.core.step import RETRYABLE, Status, is_retryable
from cubie_trace.integrators.controllers import Controller
from cubie_trace.integrators.loop import (
    SOLVER_COUNTERS,
    LoopSpec,
    RunOptions,
    build_loop,
    loop_inputs,
)

LIMIT = 0.1  # the step fails for dt above this
FATAL_RATE = 4.0  # runs with k above this fail fatally once t >= FATAL_FROM
FATAL_FROM = 0.25
SAVES = [0.5, 1.0]


def fragile(adaptive: bool, failure: Status = Status.NEWTON_FAILED,
            fatal: bool = False) -> ct.Step:
    """Euler for dx = -k x that fails (`failure`) when dt > LIMIT and counts 2 for a
    failing attempt, 1 for any other; with `fatal`, NONFINITE once t >= FATAL_FROM on runs
    whose k exceeds FATAL_RATE (seen through f, the step has no other access to k)."""

    def fn(f: Any, t: Any, dt: Any, y: Any, state: dict) -> Any:
        k0 = f(t, y)
        y_new = y + dt * k0
        err = 0.5 * dt * (f(t + dt, y_new) - k0) if adaptive else None
        too_long = dt > LIMIT
        ct.count("my_counter", ct.astype(too_long, "int32") + 1)
        status = ct.where(too_long, int(failure), int(ct.OK))
        if fatal:
            doomed = (k0[0] < -FATAL_RATE * y[0]) & (t >= FATAL_FROM)
            status = ct.where(doomed, int(Status.NONFINITE), status)
        return y_new, err, state, status

    return ct.Step(fn, 1, 2 if adaptive else None, name="fragile")


def reference(k: float, dt: float, controller: Controller, saves: list[float],
              tol: float = 0.0) -> dict:
    """The loop's rule re-implemented for `fragile` on dx = -k x from x = 1 at t = 0."""
    t, h, goal, y = 0.0, dt, math.inf, 1.0
    accepted = rejected = counted = isave = 0
    e_prev = 1.0
    ys = []
    while isave < len(saves):
        target = saves[isave] if controller.adaptive else min(saves[isave], goal)
        remaining = target - t
        hit = h * (1.0 + 1e-9) >= remaining
        h_try = remaining if hit else h
        failed = h_try > LIMIT
        counted += 2 if failed else 1
        k0 = -k * y
        y_new = y + h_try * k0
        accept = True
        if controller.adaptive:
            err = 0.5 * h_try * (-k * y_new - k0)
            norm = abs(err) / (tol + tol * max(abs(y), abs(y_new)))
            accept = norm <= 1.0
            e = max(norm, 1e-10)
            factor = min(max(controller.safety * e ** (-1.0 / 2), controller.min_factor),
                         controller.max_factor)
            h_next = h_try * (factor if accept else min(factor, 1.0))
            if accept and hit:
                h_next = max(h_next, h)
            e_prev = e if accept and not failed else e_prev
        else:
            h_next = dt if hit else h
            goal = (goal if goal < math.inf else t + h_try) if failed else \
                (math.inf if hit else goal)
        if failed:
            h_next = h_try * controller.retry_factor
        if accept and not failed:
            t, y = (target if hit else t + h_try), y_new
            accepted += 1
        else:
            rejected += 1
        h = h_next
        while isave < len(saves) and saves[isave] <= t:
            ys.append(y)
            isave += 1
    return {"y": np.array(ys), "accepted": accepted, "rejected": rejected,
            "my_counter": counted}


@pytest.fixture(scope="module")
def decay() -> ct.ODESystem:
    return ct.ODESystem.from_equations(["dx = -k*x"], states={"x": 1.0},
                                       parameters={"k": 1.0}, name="decay")


def run(system: ct.ODESystem, step: ct.Step, controller: Controller, k: float, dt: float,
        saves: list[float] = SAVES, tol: float = 1e-6, max_steps: int = 100_000,
        dt_min: float = 1e-12) -> dict:
    program = build_loop(system, LoopSpec(step, controller, len(saves), save_mode="land"))
    options = RunOptions(rtol=tol, atol=tol, first_step=dt, max_steps=max_steps,
                         dt_min=dt_min)
    return ct.interpret(program, *loop_inputs(system, np.array([1.0]), np.array([k]), 0.0,
                                              saves, options))


def test_retryable_statuses() -> None:
    assert set(RETRYABLE) == {Status.NEWTON_FAILED, Status.LINEAR_FAILED}
    assert [bool(is_retryable(s)) for s in Status] == [False] * 4 + [True] * 2 + [False]


def test_fixed_step_retries_by_hand(decay: ct.ODESystem) -> None:
    """dt = 0.5 to saves 0.5 and 1: each nominal step fails at 0.5 and 0.125, then 16
    sub-steps of 0.03125 reach its end: 32 accepted, 4 rejected, my_counter 32 + 4*2."""
    out = run(decay, fragile(False), Controller("fixed"), 1.0, 0.5)
    assert int(out["status"]) == int(ct.OK)
    assert int(out["accepted"]) == 32 and int(out["rejected"]) == 4
    assert int(out["counters"]["my_counter"]) == 40
    assert {name: int(v) for name, v in out["counters"].items() if name in SOLVER_COUNTERS} \
        == dict.fromkeys(SOLVER_COUNTERS, 0)
    np.testing.assert_allclose(out["y"][:, 0], (1 - 1 / 32) ** np.array([16, 32]), rtol=1e-14)


@pytest.mark.parametrize(("k", "dt", "saves"), [(1.0, 0.5, SAVES), (2.0, 0.3, [0.35, 1.0]),
                                                (0.5, 0.07, [0.2, 0.9, 1.4])])
def test_fixed_step_matches_the_rule(decay: ct.ODESystem, k: float, dt: float,
                                     saves: list[float]) -> None:
    controller = Controller("fixed")
    out = run(decay, fragile(False), controller, k, dt, saves)
    expected = reference(k, dt, controller, saves)
    assert int(out["status"]) == int(ct.OK)
    for name in ("accepted", "rejected"):
        assert int(out[name]) == expected[name]
    assert int(out["counters"]["my_counter"]) == expected["my_counter"]
    np.testing.assert_allclose(out["y"][:, 0], expected["y"], rtol=1e-14)
    assert_euler_accuracy(out["y"][:, 0], k, saves)


def assert_euler_accuracy(y: np.ndarray, k: float, saves: list[float]) -> None:
    """Euler's global error on dx = -k x with steps of at most LIMIT (k * LIMIT <= 1/2):
    below k^2 * LIMIT * t * exp(-k t)."""
    exact = np.exp(-k * np.array(saves))
    assert np.all(np.abs(y - exact) <= k * k * LIMIT * np.array(saves) * exact)


@pytest.mark.parametrize(("k", "tol"), [(1.0, 1e-2), (2.0, 3e-2), (0.5, 1e-3)])
def test_adaptive_retries_match_the_rule(decay: ct.ODESystem, k: float, tol: float) -> None:
    """The I controller keeps proposing steps above LIMIT at these loose tolerances, so
    retries and error rejections alternate; counts follow the rule exactly."""
    controller = Controller("i")
    out = run(decay, fragile(True), controller, k, 0.5, tol=tol)
    expected = reference(k, 0.5, controller, SAVES, tol)
    assert int(out["status"]) == int(ct.OK)
    assert expected["rejected"] > 4
    for name in ("accepted", "rejected"):
        assert int(out[name]) == expected[name]
    assert int(out["counters"]["my_counter"]) == expected["my_counter"]
    np.testing.assert_allclose(out["y"][:, 0], expected["y"], rtol=1e-12)
    assert_euler_accuracy(out["y"][:, 0], k, SAVES)


@pytest.mark.parametrize("failure", RETRYABLE)
@pytest.mark.parametrize("kind", ["fixed", "pi"])
def test_underflow_through_failures_keeps_the_cause(decay: ct.ODESystem, kind: str,
                                                    failure: Status) -> None:
    """dt_min = 0.05: 0.5 and 0.125 fail and the retry 0.03125 is below dt_min, so the
    run ends after two rejections with the step's own status."""
    out = run(decay, fragile(kind != "fixed", failure), Controller(kind), 1.0, 0.5,
              dt_min=0.05)
    assert int(out["status"]) == int(failure)
    assert int(out["accepted"]) == 0 and int(out["rejected"]) == 2


def test_max_steps_during_retries_keeps_the_cause(decay: ct.ODESystem) -> None:
    out = run(decay, fragile(False), Controller("fixed"), 1.0, 0.5, max_steps=2)
    assert int(out["status"]) == int(Status.NEWTON_FAILED) and int(out["rejected"]) == 2


def test_retry_factor_is_the_controllers(decay: ct.ODESystem) -> None:
    """retry_factor 0.5: 0.5 fails, 0.25 fails, 0.125 fails, then 8 sub-steps of 0.0625
    per nominal step."""
    controller = Controller("fixed", retry_factor=0.5)
    out = run(decay, fragile(False), controller, 1.0, 0.5)
    assert int(out["accepted"]) == 16 and int(out["rejected"]) == 6
    with pytest.raises(ValueError, match="retry_factor"):
        Controller(retry_factor=1.0)


def test_counter_names_are_checked(decay: ct.ODESystem) -> None:
    def clashing(f: Any, t: Any, dt: Any, y: Any, state: dict) -> Any:
        ct.count("accepted", 1)
        return y, None, state, ct.OK

    with pytest.raises(ValueError, match="accepted"):
        build_loop(decay, LoopSpec(ct.Step(clashing, 1), Controller("fixed"), 1))


# --- compiled: stats per run and fatal failures ---------------------------------------

K_OK = [0.5, 1.0, 2.0]
K_MIXED = [0.5, 8.0, 1.0, 8.0, 2.0]


@pytest.mark.parametrize("kind", ["fixed", "i"])
def test_solver_stats_and_fatal_runs(decay: ct.ODESystem, kind: str) -> None:
    """Per-run stats through `Solver.solve`; runs returning NONFINITE end with it while
    the others are bit-identical to a batch without them."""
    adaptive = kind != "fixed"
    options = {"rtol": 1e-2, "atol": 1e-2} if adaptive else {}
    solver = ct.Solver(decay, fragile(adaptive, fatal=True), controller=kind, dt=0.5,
                       backend="cpu", save_mode="land", **options)
    with pytest.warns(RuntimeWarning, match="2 of 5 runs failed: 2 NONFINITE"):
        both = solver.solve((0.0, 1.0), y0={"x": 1.0}, parameters={"k": K_MIXED},
                            save_at=SAVES, progress=False)
    alone = solver.solve((0.0, 1.0), y0={"x": 1.0}, parameters={"k": K_OK}, save_at=SAVES,
                         progress=False)
    good = [K_MIXED.index(k) for k in K_OK]
    bad = [i for i, k in enumerate(K_MIXED) if k > FATAL_RATE]
    assert np.all(alone.ok) and list(both.status[bad]) == [int(Status.NONFINITE)] * 2
    np.testing.assert_array_equal(both.y[good], alone.y)
    for name in ("accepted", "rejected", "my_counter", *SOLVER_COUNTERS):
        np.testing.assert_array_equal(both.stats[name][good], alone.stats[name])
    for i, k in enumerate(K_OK):
        expected = reference(k, 0.5, solver.controller, SAVES, 1e-2)
        assert [alone.stats[name][i] for name in ("accepted", "rejected", "my_counter")] \
            == [expected[name] for name in ("accepted", "rejected", "my_counter")]
        np.testing.assert_allclose(alone.y[i, :, 0], expected["y"], rtol=1e-12)
    np.testing.assert_array_equal(alone.stats["newton_iterations"], 0)
    if not adaptive:  # k = 8: 2 failures, 8 sub-steps of 0.03125 to t = 0.25, fatal ninth
        np.testing.assert_array_equal(both.stats["accepted"][bad], 8)
        np.testing.assert_array_equal(both.stats["rejected"][bad], 3)
        np.testing.assert_array_equal(both.stats["my_counter"][bad], 13)
