"""Honest failures and the outputs that fit the work: NaN where a run never got, the
time each run stopped, decoded statuses, one warning, NONFINITE at once, saves by
name, no trajectories at all, a settling time and parameters matched by name."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import cubie_trace as ct


@pytest.fixture(scope="module")
def blowup() -> ct.ODESystem:
    """dx = sqrt(c - t): real until t = c, NaN after; x = x0 + (2/3)(c^1.5 - (c - t)^1.5)."""
    return ct.ODESystem.from_equations(["dx = sqrt(c - t)"], states={"x": 0.0},
                                       parameters={"c": 10.0}, name="blowup")


def test_nonfinite_rhs_ends_the_run_at_once(blowup: ct.ODESystem) -> None:
    """An adaptive run meeting NaN in f ends as NONFINITE where it appears, within a few
    steps, instead of rejecting down to dt_min; saves after it are NaN, those before are
    right, and t_final says where the run stopped. (Its rejections are the controller
    meeting the sqrt's steepening slope, not a descent to dt_min.)"""
    times = np.linspace(0.0, 2.0, 9)
    with pytest.warns(RuntimeWarning, match=r"^1 of 2 runs failed: 1 NONFINITE; see sol"):
        sol = ct.solve_ivp(blowup, (0.0, 2.0), parameters={"c": [10.0, 0.9]},
                           method="tsit5", save_at=times, backend="cpu", progress=False)
    assert list(sol.status_names) == ["OK", "NONFINITE"]
    assert sol.failures() == {"NONFINITE": 1}
    assert int(sol.stats["rejected"][1]) + int(sol.stats["accepted"][1]) < 40
    assert 0.0 < sol.t_final[1] < 0.9 and sol.t_final[0] == 2.0
    reached = times <= sol.t_final[1]
    assert np.all(np.isnan(sol.y[1, ~reached])) and not np.any(np.isnan(sol.y[1, reached]))
    closed = (2 / 3) * (0.9 ** 1.5 - (0.9 - times[reached]) ** 1.5)
    np.testing.assert_allclose(sol.y[1, reached, 0], closed, rtol=1e-4)


def test_failure_warning_points_at_the_callers_line(blowup: ct.ODESystem) -> None:
    """The warning names the user's call, forward through solve_ivp and backward alike."""
    solver = ct.Solver(blowup, "rk4", dt=0.01, max_steps=5, backend="cpu")
    for call in (lambda: ct.solve_ivp(blowup, (0.0, 1.0), method="rk4", dt=0.01,
                                      max_steps=5, backend="cpu", progress=False),
                 lambda: solver.solve((1.0, 0.0), progress=False)):
        with pytest.warns(RuntimeWarning, match="1 of 1 runs failed") as caught:
            call()
        assert caught[0].filename == __file__


def test_max_steps_leaves_nan_not_zeros(blowup: ct.ODESystem) -> None:
    times = np.linspace(0.0, 1.0, 11)
    with pytest.warns(RuntimeWarning, match="2 of 2 runs failed: 2 MAX_STEPS"):
        sol = ct.solve_ivp(blowup, (0.0, 1.0), parameters={"c": [10.0, 20.0]}, method="rk4",
                           dt=0.01, max_steps=25, save_at=times, backend="cpu",
                           progress=False)
    np.testing.assert_allclose(sol.t_final, 0.25)
    assert np.all(np.isnan(sol.y[:, times > 0.25])) and np.all(sol.y[:, times <= 0.25] >= 0)


def test_float32_tolerance_warning() -> None:
    system = ct.ODESystem.from_equations(["dx = -x"], states={"x": 1.0})
    with pytest.warns(RuntimeWarning, match="rtol 1e-08 is below what float32 resolves"):
        ct.Solver(system, "tsit5", rtol=1e-8, precision="float32", backend="cpu")


@pytest.fixture(scope="module")
def observed() -> ct.ODESystem:
    """x = e^-t, v = 2 e^-2t; observable s = x + v."""
    return ct.ODESystem.from_equations(["dx = -x", "dv = -2*v"], states={"x": 1.0, "v": 2.0},
                                       observables=["s = x + v"], name="observed")


def test_save_by_name_and_settling_time(observed: ct.ODESystem) -> None:
    sol = ct.solve_ivp(observed, (0.0, 2.0), method="tsit5", rtol=1e-9, atol=1e-12,
                       save=["v", "s"], save_every=0.5, settling_time=1.0, backend="cpu",
                       progress=False)
    np.testing.assert_allclose(sol.t, [1.0, 1.5, 2.0])
    assert sol.saved_states == ("v",) and sol.observable_names == ("s",)
    np.testing.assert_allclose(sol.y[0, :, 0], 2 * np.exp(-2 * sol.t), rtol=1e-7)
    np.testing.assert_allclose(sol.observables[0, :, 0],
                               np.exp(-sol.t) + 2 * np.exp(-2 * sol.t), rtol=1e-7)
    with pytest.raises(ValueError, match="unknown.*'w'"):
        ct.Solver(observed, "tsit5", save=["w"])


def test_save_none_keeps_summaries_and_final_states(observed: ct.ODESystem) -> None:
    sol = ct.solve_ivp(observed, (0.0, 2.0), method="tsit5", rtol=1e-9, atol=1e-12,
                       save=None, summaries=["max", "min"], summarise_every=1.0,
                       save_every=0.25, backend="cpu", progress=False)
    assert sol.y is None and sol.observables is None
    np.testing.assert_allclose(sol.y_final[0], [np.exp(-2.0), 2 * np.exp(-4.0)], rtol=1e-7)
    assert sol.summarised_states == ("x", "v")
    np.testing.assert_allclose(sol.summaries["max"][0, :, 0],
                               [1.0, np.exp(-1.0), np.exp(-2.0)], rtol=1e-7)


def test_dataframe_parameters_match_by_name() -> None:
    """Columns in another order give the same runs; a column naming nothing raises."""
    system = ct.ODESystem.from_equations(["dx = a - b*x"], states={"x": 0.0},
                                         parameters={"a": 1.0, "b": 1.0})
    frame = pd.DataFrame({"b": [1.0, 2.0, 4.0], "a": [3.0, 1.0, 2.0]})
    sol = ct.solve_ivp(system, (0.0, 1.0), parameters=frame, method="tsit5", rtol=1e-10,
                       atol=1e-10, backend="cpu", progress=False)
    a, b = frame["a"].to_numpy(), frame["b"].to_numpy()
    np.testing.assert_allclose(sol.y[:, -1, 0], a / b * (1 - np.exp(-b)), rtol=1e-8)
    with pytest.raises(ValueError, match="unknown names.*'c'"):
        ct.solve_ivp(system, (0.0, 1.0), parameters=frame.assign(c=1.0), backend="cpu")
