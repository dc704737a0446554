"""Events (`ct.Event`): zero crossings of a harmonic oscillator at their exact times for
every adaptive explicit method and a fixed-step one, terminal events, recording limits,
FitzHugh-Nagumo spike times against scipy, and the errors bad events raise."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp

import cubie_trace as ct
from cubie_trace.core.step import Status, get_method, methods
from cubie_trace.systems.library import fitzhugh_nagumo
from tests.integrators.simulated import simulated

W = np.array([1.0, 1.5, 2.0])
SPAN = (0.0, 5.0)
CI_METHODS = ("tsit5",)  # own dense output (rk4's fixed steps take the cubic Hermite)
# Fehlberg 4(5) propagates its 4th-order solution, whose own error at rtol 1e-10 is
# 2e-9 here: its events are checked against the zeros of that solution instead.
OWN_ZEROS = ("fehlberg45",)


def oscillator() -> ct.ODESystem:
    """x = cos(w t), v = -sin(w t): x crosses zero at (k + 1/2) pi / w."""
    return ct.ODESystem.from_equations(["dx = w*v", "dv = -w*x"], states={"x": 1.0, "v": 0.0},
                                       parameters={"w": 1.0}, name="oscillator")


def zeros_of_x(w: np.ndarray, count: int, t_end: float) -> np.ndarray:
    exact = (np.arange(count) + 0.5)[None, :] * np.pi / w[:, None]
    return np.where(exact <= t_end, exact, np.nan)


def adaptive_explicit() -> list[str]:
    system = oscillator()
    return [m for m in methods() if get_method(m, system).adaptive
            and not get_method(m, system).implicit]


def crossings(method: str, **options: object) -> ct.Solution:
    return ct.solve_ivp(oscillator(), SPAN, parameters={"w": W}, method=method, rtol=1e-10,
                        atol=1e-12, backend="cpu", events=[ct.Event("x", name="x0")],
                        max_events=5, max_steps=10**7, progress=False, **options)


@pytest.mark.parametrize("method", [
    *CI_METHODS, *(pytest.param(m, marks=pytest.mark.slow) for m in adaptive_explicit()
                   if m not in CI_METHODS)])
def test_crossings_at_exact_times(method: str) -> None:
    sol = crossings(method)
    occurred = sol.events["x0"]
    exact = zeros_of_x(W, 5, SPAN[1])
    np.testing.assert_array_equal(np.isnan(occurred.t), np.isnan(exact))
    if method in OWN_ZEROS:
        exact = exact + own_zero_shift(method, exact)
    np.testing.assert_allclose(occurred.t, exact, rtol=0, atol=1e-10)
    np.testing.assert_array_equal(occurred.count, np.sum(~np.isnan(exact), axis=1))
    # the state at an event: x = 0 there, v = -sin = -+1
    np.testing.assert_allclose(occurred.y[..., 0], np.where(np.isnan(exact), np.nan, 0.0),
                               atol=1e-9)
    np.testing.assert_allclose(occurred.y[..., 1], -np.sin(W[:, None] * exact), atol=1e-9)
    assert np.all(sol.status == int(Status.OK)) and not occurred.overflow.any()


def own_zero_shift(method: str, exact: np.ndarray) -> np.ndarray:
    """Where the method's own solution crosses zero, relative to the exact zeros: minus
    its x there over the slope, -w sin(w t) (which is -w and +w in turn)."""
    shift = np.full_like(exact, np.nan)
    for run, w in enumerate(W):
        times = exact[run][~np.isnan(exact[run])]
        sol = ct.solve_ivp(oscillator(), SPAN, parameters={"w": [w]}, method=method,
                           rtol=1e-10, atol=1e-12, backend="cpu", save_at=times,
                           max_steps=10**7, progress=False)
        shift[run, :len(times)] = sol.y[0, :, 0] / (w * np.sin(w * times))
    return shift


def test_fixed_step_crossings() -> None:
    sol = crossings("rk4", dt=2e-3)
    np.testing.assert_allclose(sol.events["x0"].t, zeros_of_x(W, 5, SPAN[1]), atol=1e-10)


@pytest.mark.parametrize("mode", ["dense", pytest.param("land", marks=pytest.mark.slow)])
def test_events_leave_the_trajectory_alone(mode: str) -> None:
    """Saves with events are those without, bit for bit (dense saves and landed ones)."""
    plain, searched = (ct.solve_ivp(
        oscillator(), SPAN, parameters={"w": W}, rtol=1e-8, backend="cpu",
        save_every=0.25, save_mode=mode, progress=False, events=events, max_events=5)
        for events in (None, [ct.Event("x", name="x0")]))
    np.testing.assert_array_equal(plain.y, searched.y)
    np.testing.assert_array_equal(plain.stats["accepted"], searched.stats["accepted"])
    np.testing.assert_allclose(searched.events["x0"].t, zeros_of_x(W, 5, SPAN[1]),
                               atol=1e-7)


def test_direction_and_terminal() -> None:
    """v = -sin(w t) rises through zero at (2k + 1) pi / w; the second rise ends the run,
    which stops there (status TERMINATED, state (-1, 0)) and saves nothing after it."""
    events = [ct.Event("v", direction=1, terminal=2, name="rise"),
              ct.Event("x", direction=-1, name="fall")]
    sol = ct.solve_ivp(oscillator(), (0.0, 20.0), parameters={"w": W}, rtol=1e-10,
                       atol=1e-12, backend="cpu", events=events, save_every=0.5,
                       progress=False)
    stop = 3 * np.pi / W
    np.testing.assert_allclose(sol.t_final, stop, atol=1e-10)
    np.testing.assert_allclose(sol.y_final, np.tile([-1.0, 0.0], (3, 1)), atol=1e-9)
    assert np.all(sol.status == int(Status.TERMINATED)) and np.all(sol.ok)
    np.testing.assert_allclose(sol.events["rise"].t[:, :2],
                               np.stack([np.pi / W, stop], axis=1), atol=1e-10)
    np.testing.assert_array_equal(sol.events["rise"].count, 2)
    # x falls through zero at (2k + 1/2) pi / w: at pi/2 and 5pi/2 before 3pi
    np.testing.assert_allclose(sol.events["fall"].t[:, :2],
                               np.stack([0.5 * np.pi / W, 2.5 * np.pi / W], axis=1),
                               atol=1e-10)
    assert np.all(np.isnan(sol.events["fall"].t[:, 2:]))
    after = sol.t[None, :] > stop[:, None]
    assert np.all(np.isnan(sol.y[after])) and not np.any(np.isnan(sol.y[~after]))
    np.testing.assert_allclose(sol.y[~after][:, 0], np.cos(W[:, None] * sol.t)[~after],
                               atol=1e-8)


def test_overflow_keeps_the_first_occurrences() -> None:
    sol = ct.solve_ivp(oscillator(), (0.0, 20.0), parameters={"w": W}, rtol=1e-10,
                       atol=1e-12, backend="cpu", events=ct.Event("x", name="x0"),
                       max_events=2, progress=False)
    occurred = sol.events["x0"]
    assert occurred.t.shape == (3, 2) and occurred.y.shape == (3, 2, 2)
    np.testing.assert_allclose(occurred.t, zeros_of_x(W, 2, 20.0), atol=1e-10)
    np.testing.assert_array_equal(occurred.count, np.floor(20.0 * W / np.pi + 0.5))
    assert occurred.overflow.all()


def test_python_function_events_and_xarray() -> None:
    """An event as a function with attribute access (w x has the zeros of x)."""
    def late_fall(t, y, p):  # noqa: ANN001, ANN202
        return p.w * y.x

    sol = ct.solve_ivp(oscillator(), SPAN, parameters={"w": W}, rtol=1e-10, atol=1e-12,
                       backend="cpu", events=[late_fall, ct.Event("x - 0.5", name="half")],
                       progress=False)
    assert sol.event_names == ("late_fall", "half")
    np.testing.assert_allclose(sol.events["late_fall"].t[:, 0], 0.5 * np.pi / W, atol=1e-10)
    np.testing.assert_allclose(sol.events["half"].t[:, 0], np.pi / 3 / W, atol=1e-10)
    ds = sol.to_xarray()
    assert ds["event_t"].dims == ("run", "event", "occurrence")
    assert ds["event_y"].dims == ("run", "event", "occurrence", "state")
    assert list(ds["event"].values) == ["late_fall", "half"]
    np.testing.assert_array_equal(ds["event_count"].sel(event="half").values,
                                  sol.events["half"].count)


def fhn_scipy_spikes(current: float, t_end: float) -> np.ndarray:
    a, b, tau = 0.7, 0.8, 12.5

    def rhs(t: float, u: np.ndarray) -> list[float]:
        v, w = u
        return [v - v**3 / 3 - w + current, (v + a - b * w) / tau]

    def spike(t: float, u: np.ndarray) -> float:
        return u[0] - 1.0

    spike.direction = 1
    sol = solve_ivp(rhs, (0.0, t_end), [-1.1994, -0.6243], method="DOP853", rtol=1e-13,
                    atol=1e-13, events=spike)
    return sol.t_events[0]


@pytest.mark.parametrize("rtol", [1e-10, *(pytest.param(r, marks=pytest.mark.slow)
                                           for r in (1e-8, 1e-6))])
def test_fitzhugh_nagumo_spikes_match_scipy(rtol: float) -> None:
    """Spike times (v rising through 1) over a current sweep, against scipy's events on
    a much tighter solve: within 1e-6 at rtol 1e-10, and within rtol's reach above."""
    currents = np.array([0.4, 0.5, 0.8])
    t_end = 200.0
    sol = ct.solve_ivp(fitzhugh_nagumo(), (0.0, t_end), parameters={"I": currents},
                       rtol=rtol, atol=rtol, backend="cpu", max_events=32,
                       events=ct.Event("v - 1", direction=1, name="spike"), progress=False)
    spikes = sol.events["spike"]
    for run, current in enumerate(currents):
        expected = fhn_scipy_spikes(current, t_end)
        assert spikes.count[run] == len(expected) > 3
        np.testing.assert_allclose(spikes.t[run, :len(expected)], expected, rtol=0,
                                   atol=1e-6 if rtol <= 1e-10 else 1e4 * rtol)
        np.testing.assert_allclose(spikes.y[run, :len(expected), 0], 1.0, atol=1e-9)


@pytest.mark.parametrize("bad, match", [
    (lambda: ct.Event("x", direction=2), "direction"),
    (lambda: ct.Event(lambda t, y, p: y.x), "name"),
    (lambda: ct.Event("x", terminal=-1), "terminal"),
    (lambda: ct.Solver(oscillator(), events=["x", "x"], backend="cpu"), "repeat"),
    (lambda: ct.Solver(oscillator(), events=["x + nope"], backend="cpu"), "nope"),
    (lambda: ct.Solver(oscillator(), events=["x"], max_events=0, backend="cpu"),
     "max_events"),
    (lambda: ct.solve_ivp(oscillator(), (1.0, 0.0), events=["x"], backend="cpu"),
     "backward"),
])
def test_bad_events(bad: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        bad()  # type: ignore[operator]


@pytest.mark.slow
def test_cuda_simulator_agrees_with_cpu() -> None:
    """Events and sensitivities through the CUDA code path, in numba's simulator, match
    the CPU target's to 1e-12 (three runs, each stopped by its terminal event)."""
    out = simulated("tests.integrators.events_sim_script")
    assert out["simulator"]
    cuda, cpu = out["cuda"], out["cpu"]
    assert cuda["status"] == cpu["status"] == [int(Status.TERMINATED)] * 3
    assert cuda["event_count"] == cpu["event_count"]
    for key in ("t_final", "y", "sensitivities", "event_t", "event_y"):
        np.testing.assert_allclose(cuda[key], cpu[key], rtol=1e-12, atol=1e-13, err_msg=key)
    np.testing.assert_allclose(cpu["t_final"], 3 * np.pi / np.array([1.0, 1.5, 2.5]),
                               atol=1e-7)


@pytest.mark.slow
def test_lanes_locate_the_same_events() -> None:
    """The lane-blocked CPU kernel (8 runs per step) records the scalar kernel's events,
    bit for bit, with runs stopping by a terminal event at different steps."""
    events = [ct.Event("x", name="x0"),
              ct.Event(lambda t, y, p: y.v - 0.5 * p.w, direction=-1, terminal=3, name="down")]
    w = np.linspace(1.0, 1.9, 11)  # v = -sin(w t) reaches w / 2 < 1
    found = [ct.solve_ivp(oscillator(), (0.0, 20.0), parameters={"w": w}, rtol=1e-9,
                          atol=1e-12, backend="cpu", events=events, max_events=4,
                          save_every=0.5, lanes=lanes, progress=False) for lanes in (1, 8)]
    for key in ("event_t", "event_y", "event_count", "y", "t_final", "status"):
        np.testing.assert_array_equal(getattr(found[0], key), getattr(found[1], key),
                                      err_msg=key)
    assert np.all(found[0].status == int(Status.TERMINATED))
