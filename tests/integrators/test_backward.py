"""Integration backward in time (t_end < t0): closed forms, a driven non-autonomous
system against scipy's backward solve_ivp, summaries stated in t, save times given
in decreasing order, and one compile for every backward solve."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.interpolate import CubicSpline

import cubie_trace as ct


@pytest.fixture(scope="module")
def decay() -> ct.ODESystem:
    """x' = -k x: from x(t0) = x0, x(t) = x0 exp(-k (t - t0)) either way in time."""
    return ct.ODESystem.from_equations(["dx = -k*x"], states={"x": 1.0},
                                       parameters={"k": 1.0}, name="decay")


def test_backward_decay_closed_form(decay: ct.ODESystem) -> None:
    solver = ct.Solver(decay, "tsit5", rtol=1e-10, atol=1e-12, backend="cpu")
    sol = solver.solve((2.0, 0.0), y0={"x": [1.0, 0.5]}, parameters={"k": [1.0, 0.3]},
                       save_every=0.25, progress=False)
    np.testing.assert_allclose(sol.t, 2.0 - 0.25 * np.arange(9), atol=1e-14)
    k = np.array([1.0, 0.3])[:, None]
    x0 = np.array([1.0, 0.5])[:, None]
    np.testing.assert_allclose(sol.y[:, :, 0], x0 * np.exp(-k * (sol.t - 2.0)), rtol=1e-8)
    np.testing.assert_allclose(sol.t_final, 0.0, atol=1e-14)
    np.testing.assert_allclose(sol.y_final[:, 0], x0[:, 0] * np.exp(2.0 * k[:, 0]), rtol=1e-8)
    assert sol.info["direction"] == "backward"
    assert np.all(sol.status == 0)


def test_backward_driven_against_scipy() -> None:
    """x' = -a x + u(t) + sin(t), u a cubic spline: the time flip reaches the explicit t
    and the driver alike."""
    knots = np.linspace(0.0, 3.0, 7)
    samples = np.array([0.0, 1.0, 0.5, -0.5, 2.0, 1.0, 0.0])
    system = ct.ODESystem.from_equations(["dx = -a*x + u + sin(t)"], states={"x": 0.3},
                                         parameters={"a": 0.8},
                                         drivers={"u": (knots, samples)}, name="driven")
    spline = CubicSpline(knots, samples)
    save_at = [3.0, 2.5, 1.0, 0.3, 0.0]
    ref = solve_ivp(lambda t, x: -0.8 * x + spline(t) + np.sin(t), (3.0, 0.0), [0.3],
                    t_eval=save_at, rtol=1e-12, atol=1e-14, method="DOP853")
    solver = ct.Solver(system, "dop853", rtol=1e-11, atol=1e-13, backend="cpu")
    sol = solver.solve((3.0, 0.0), save_at=save_at, progress=False)
    np.testing.assert_allclose(sol.t, save_at)
    np.testing.assert_allclose(sol.y[0, :, 0], ref.y[0], rtol=1e-8, atol=1e-10)
    forward = solver.solve((0.0, 3.0), y0={"x": sol.y_final[0, 0]}, progress=False)
    np.testing.assert_allclose(forward.y_final[0, 0], 0.3, rtol=1e-8)


def test_backward_summaries_in_t(decay: ct.ODESystem) -> None:
    """Over windows of x = exp(-(t - 2)) saved backward from t = 2: extremes, their times
    and the slopes between saves, all in t, against numpy on the closed form."""
    stats = ("mean", "max", "min", "time_of_max", "time_of_min", "dxdt_max", "dxdt_min",
             "d2xdt2_max")
    solver = ct.Solver(decay, "tsit5", rtol=1e-11, atol=1e-13, backend="cpu",
                       summaries=stats, summarise_every=0.5, save=None)
    sol = solver.solve((2.0, 0.0), save_every=0.125, progress=False)
    t = 2.0 - 0.125 * np.arange(17)
    x = np.exp(-(t - 2.0))
    windows = [slice(4 * j, 4 * j + 4) for j in range(4)] + [slice(16, 17)]
    for j, w in enumerate(windows):
        got = {name: sol.summaries[name][0, j, 0] for name in stats}
        ys, ts = x[w], t[w]
        slopes = np.diff(ys) / np.diff(ts)
        np.testing.assert_allclose(got["mean"], ys.mean(), rtol=1e-9)
        np.testing.assert_allclose(got["max"], ys.max(), rtol=1e-9)
        np.testing.assert_allclose(got["min"], ys.min(), rtol=1e-9)
        np.testing.assert_allclose(got["time_of_max"], ts[np.argmax(ys)], atol=1e-12)
        np.testing.assert_allclose(got["time_of_min"], ts[np.argmin(ys)], atol=1e-12)
        if len(ys) > 1:
            np.testing.assert_allclose(got["dxdt_max"], slopes.max(), rtol=1e-7)
            np.testing.assert_allclose(got["dxdt_min"], slopes.min(), rtol=1e-7)
            second = 2 * np.diff(slopes) / (ts[2:] - ts[:-2])
            np.testing.assert_allclose(got["d2xdt2_max"], second.max(), rtol=1e-5)
        else:
            assert np.isnan(got["dxdt_max"]) and np.isnan(got["d2xdt2_max"])
    assert set(sol.summaries) == set(stats)


def test_backward_solves_compile_once(decay: ct.ODESystem) -> None:
    solver = ct.Solver(decay, "tsit5", backend="cpu")
    first = solver.solve((1.0, 0.0), save_at=[1.0, 0.5, 0.0], progress=False)
    again = solver.solve((5.0, 2.0), save_at=[4.0, 3.0, 2.5], progress=False)
    assert first.info["compile_s"] > 0 and again.info["compile_s"] == 0.0
    np.testing.assert_allclose(again.y[0, :, 0], np.exp([1.0, 2.0, 2.5]), rtol=1e-5)
    tight = solver.replace(rtol=1e-11, atol=1e-13).solve((5.0, 2.0), save_at=[4.0, 3.0, 2.5],
                                                         progress=False)
    assert tight.info["compile_s"] == 0.0
    assert tight.stats["accepted"][0] > again.stats["accepted"][0]
    np.testing.assert_allclose(tight.y[0, :, 0], np.exp([1.0, 2.0, 2.5]), rtol=1e-9)
    with pytest.raises(ValueError, match="save_at must be strictly decreasing"):
        solver.solve((1.0, 0.0), save_at=[0.0, 0.5], progress=False)
    with pytest.raises(ValueError, match="save_at.*t_span"):
        solver.solve((1.0, 0.0), save_at=[2.0, 0.5], progress=False)
