"""The batch API end to end on the CPU backend: save times, summaries, counters and
status codes, batch grids, float32, observables and drivers, xarray export and plots.

Every reference is independent of the code under test: scipy at 1e-13, exact
solutions, or numpy statistics of the saved trajectory.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.interpolate import CubicSpline

import cubie_trace as ct
from tests.integrators.problems import (
    LORENZ_EVERY,
    LORENZ_RHO,
    LORENZ_SAVES,
    LORENZ_SPAN,
    SUMMARIES,
    VDP_EVERY,
    VDP_SAVES,
    VDP_SPAN,
    VDP_WINDOW,
    VDP_Y0,
    assert_relative,
    lorenz_reference,
    reference,
)

# --- save times (the adaptive Lorenz solver: always LORENZ_SAVES saves) -------------


def test_save_every_on_grid(lorenz_tsit5: ct.Solver) -> None:
    rho = [14.0, 28.0]
    sol = lorenz_tsit5.solve(LORENZ_SPAN, parameters={"rho": rho}, save_every=LORENZ_EVERY,
                             progress=False)
    np.testing.assert_allclose(sol.t, np.arange(LORENZ_SAVES) * LORENZ_EVERY, rtol=0,
                               atol=1e-15)
    assert sol.t[0] == LORENZ_SPAN[0] and sol.t[-1] == LORENZ_SPAN[1]
    assert sol.y.shape == (2, LORENZ_SAVES, 3) and sol.y.dtype == np.float64
    np.testing.assert_array_equal(sol.y[:, 0], [[1.0, 0.0, 0.0]] * 2)  # y0 is saved as is
    assert_relative(sol.y, lorenz_reference(sol.t, rho), 1e-7)


def test_save_every_with_t_end_off_the_grid(lorenz_tsit5: ct.Solver) -> None:
    """t0 = 0.5, h = 0.1, t_end = 1.45: 0.5, 0.6, ..., 1.4 and then 1.45."""
    span = (0.5, 1.45)
    sol = lorenz_tsit5.solve(span, parameters={"rho": [28.0]}, save_every=0.1,
                             progress=False)
    expected = np.append(0.5 + 0.1 * np.arange(10), 1.45)
    assert sol.t.shape == (LORENZ_SAVES,)
    np.testing.assert_allclose(sol.t, expected, rtol=0, atol=1e-14)
    assert sol.t[-1] == 1.45
    assert np.all(sol.ok)
    assert_relative(sol.y, lorenz_reference(sol.t, [28.0], t_span=span), 1e-7)


def test_save_at_records_exactly_the_given_times(lorenz_tsit5: ct.Solver) -> None:
    """Irregular times, neither t0 nor t_end among them: saved exactly there."""
    times = [0.05, 0.12, 0.2, 0.33, 0.41, 0.5, 0.58, 0.66, 0.79, 0.8, 0.93]
    rho = [7.0, 28.0]
    sol = lorenz_tsit5.solve(LORENZ_SPAN, parameters={"rho": rho}, save_at=times,
                             progress=False)
    np.testing.assert_array_equal(sol.t, times)
    assert np.all(sol.ok)
    assert_relative(sol.y, lorenz_reference(np.array(times), rho), 1e-7)


def test_neither_keeps_only_t_end(lorenz_rk4: ct.Solver) -> None:
    sol = lorenz_rk4.solve((0.0, 0.5), parameters={"rho": [10.0, 28.0]}, progress=False)
    np.testing.assert_array_equal(sol.t, [0.5])
    assert sol.y.shape == (2, 1, 3)
    np.testing.assert_array_equal(sol.stats["accepted"], 500)
    assert_relative(sol.y, lorenz_reference(sol.t, [10.0, 28.0], t_span=(0.0, 0.5)), 1e-8)


# --- batch grids ---------------------------------------------------------------------


def test_product_grid(lorenz_tsit5: ct.Solver) -> None:
    xs, rhos, betas = [1.0, 2.0], [5.0, 28.0], [2.0, 8 / 3, 3.0]
    sol = lorenz_tsit5.solve(LORENZ_SPAN, y0={"x": xs},
                             parameters={"rho": rhos, "beta": betas, "sigma": 9.0},
                             grid="product", save_every=LORENZ_EVERY, progress=False)
    assert sol.n_runs == len(xs) * len(rhos) * len(betas)
    got = {(r[0], p[1], p[2]) for r, p in zip(sol.y0, sol.parameters)}
    assert got == set(itertools.product(xs, rhos, betas))
    np.testing.assert_array_equal(sol.y0[:, 1:], 0.0)  # unswept values keep defaults
    np.testing.assert_array_equal(sol.parameters[:, 0], 9.0)  # a scalar broadcasts
    assert set(sol.swept) == {"x", "rho", "beta"}
    np.testing.assert_array_equal(sol.swept["x"], sol.y0[:, 0])
    np.testing.assert_array_equal(sol.swept["rho"], sol.parameters[:, 1])
    np.testing.assert_array_equal(sol.swept["beta"], sol.parameters[:, 2])
    # each run integrated the values it reports
    expected = np.stack([lorenz_reference(sol.t, [p[1]], y0=[y0], sigma=p[0], beta=p[2])[0]
                         for y0, p in zip(sol.y0, sol.parameters)])
    assert_relative(sol.y, expected, 1e-7)


def test_verbatim_grid_pairs_values(lorenz_tsit5: ct.Solver) -> None:
    y0 = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 2.0], [-1.0, 0.5, 1.0]])
    sol = lorenz_tsit5.solve(LORENZ_SPAN, y0=y0, parameters={"rho": [5.0, 15.0, 28.0]},
                             save_every=LORENZ_EVERY, progress=False)
    np.testing.assert_array_equal(sol.y0, y0)
    np.testing.assert_array_equal(sol.parameters[:, 1], [5.0, 15.0, 28.0])
    assert_relative(sol.y, lorenz_reference(sol.t, [5.0, 15.0, 28.0], y0=y0), 1e-7)


# --- summaries -------------------------------------------------------------------------


def numpy_summaries(y: np.ndarray, window: int) -> dict[str, np.ndarray]:
    """Statistics over windows of `window` saved samples, (n_runs, n_windows, n_states)."""
    n_windows = -(-y.shape[1] // window)
    out: dict[str, list] = {s: [] for s in SUMMARIES}
    for j in range(n_windows):
        w = y[:, j * window:(j + 1) * window]
        out["mean"].append(w.mean(axis=1))
        out["max"].append(w.max(axis=1))
        out["min"].append(w.min(axis=1))
        out["rms"].append(np.sqrt((w ** 2).mean(axis=1)))
        out["std"].append(w.std(axis=1))
        inner = w[:, 1:-1]
        out["peaks"].append(((inner > w[:, :-2]) & (inner > w[:, 2:])).sum(axis=1))
    return {s: np.stack(v, axis=1) for s, v in out.items()}


def test_summaries_match_numpy_statistics(vdp_tsit5_solution: ct.Solution) -> None:
    """Windows of 7 saves over 101 saves: 15 windows, the last one partial (3 saves)."""
    sol = vdp_tsit5_solution
    assert sol.summaries is not None and set(sol.summaries) == set(SUMMARIES)
    expected = numpy_summaries(sol.y, VDP_WINDOW)
    assert expected["mean"].shape == (len(VDP_Y0), 15, 2)
    for stat in SUMMARIES:
        got = sol.summaries[stat]
        assert got.shape == expected[stat].shape, stat
        if stat == "peaks":
            np.testing.assert_array_equal(got, expected[stat])
        else:
            np.testing.assert_allclose(got, expected[stat], rtol=1e-12, atol=1e-12,
                                       err_msg=stat)
    assert expected["peaks"].sum() >= 20  # the oscillation does peak inside windows


# --- counters and status codes -------------------------------------------------------


@pytest.fixture(scope="module")
def blowup() -> ct.ODESystem:
    """dx = p*x**2 from x0: x = x0 / (1 - p*x0*t), infinite at t = 1/(p*x0)."""
    return ct.ODESystem.from_equations(["dx = p*x**2"], states={"x": 1.0},
                                       parameters={"p": 1.0}, name="blowup")


def blowup_exact(t: np.ndarray, p: float, x0: float = 1.0) -> np.ndarray:
    return x0 / (1 - p * x0 * np.asarray(t))


def test_one_run_blows_up_adaptive(blowup: ct.ODESystem) -> None:
    """The p = 2 run (singular at t = 0.5) ends with DT_UNDERFLOW after saving t = 0.25;
    the others are untouched and exact."""
    p = np.array([0.5, -1.0, 2.0, 0.9])
    times = [0.25, 0.5, 1.0]
    sol = ct.solve_ivp(blowup, (0.0, 1.0), parameters={"p": p}, method="tsit5",
                       rtol=1e-10, atol=1e-10, save_at=times, backend="cpu", progress=False)
    expected_status = [ct.OK, ct.OK, ct.Status.DT_UNDERFLOW, ct.OK]
    np.testing.assert_array_equal(sol.status, [int(s) for s in expected_status])
    np.testing.assert_array_equal(sol.ok, [True, True, False, True])
    good = sol.ok
    exact = np.stack([blowup_exact(times, pi) for pi in p[good]])[:, :, None]
    np.testing.assert_allclose(sol.y[good], exact, rtol=1e-8)
    np.testing.assert_allclose(sol.y[2, 0, 0], 2.0, rtol=1e-8)  # saved before the failure
    accepted, rejected = sol.stats["accepted"], sol.stats["rejected"]
    assert np.all(accepted[good] > 5) and np.all(accepted[good] < 2000)
    assert np.all(rejected[good] <= accepted[good] // 4)
    assert accepted[2] > accepted[good].max()  # steps shrank towards the singularity


@pytest.fixture(scope="module")
def rk4_limited(blowup: ct.ODESystem) -> ct.Solver:
    """Fixed RK4, dt = 0.01, at most 10 steps; one save (t_end)."""
    return ct.Solver(blowup, "rk4", dt=0.01, max_steps=10, backend="cpu")


def test_fixed_step_counts_and_nonfinite(rk4_limited: ct.Solver) -> None:
    """Exactly max_steps steps to t_end is success; an overflowing run is NONFINITE
    and leaves the others exact."""
    p = np.array([0.5, -1.0, 1e200])
    sol = rk4_limited.solve((0.0, 0.1), parameters={"p": p}, progress=False)
    np.testing.assert_array_equal(sol.status, [0, 0, int(ct.Status.NONFINITE)])
    np.testing.assert_array_equal(sol.stats["accepted"], [10, 10, 0])
    np.testing.assert_array_equal(sol.stats["rejected"], [0, 0, 1])
    np.testing.assert_allclose(sol.y[:2, 0, 0], [blowup_exact(0.1, 0.5),
                                                 blowup_exact(0.1, -1.0)], rtol=1e-9)


def test_max_steps(rk4_limited: ct.Solver) -> None:
    sol = rk4_limited.solve((0.0, 0.2), parameters={"p": [0.5, -1.0]}, progress=False)
    np.testing.assert_array_equal(sol.status, int(ct.Status.MAX_STEPS))
    assert not np.any(sol.ok)
    np.testing.assert_array_equal(sol.stats["accepted"], 10)
    np.testing.assert_array_equal(sol.stats["rejected"], 0)


# --- precision -------------------------------------------------------------------------


def test_float32(lorenz_tsit5: ct.Solver, lorenz: ct.ODESystem) -> None:
    solver = ct.Solver(lorenz, "tsit5", rtol=1e-6, atol=1e-6, precision="float32",
                       backend="cpu")
    kwargs = dict(parameters={"rho": LORENZ_RHO}, save_every=LORENZ_EVERY, progress=False)
    sol = solver.solve(LORENZ_SPAN, **kwargs)
    assert sol.y.dtype == np.float32
    assert np.all(sol.ok)
    assert_relative(sol.y, lorenz_reference(sol.t), 1e-4)
    assert_relative(sol.y, lorenz_tsit5.solve(LORENZ_SPAN, **kwargs).y, 1e-4)


# --- observables and drivers -----------------------------------------------------------

KNOTS = np.array([0.0, 0.3, 0.5, 1.2, 1.6, 2.0])
U_SAMPLES = np.array([1.0, -0.5, 0.25, 2.0, 1.5, -1.0])
W_KNOTS = np.linspace(0.0, 2.0, 5)
W_SAMPLES = np.array([0.0, 1.0, 0.5, 0.0, 2.0])
DRIVEN_SPAN = (0.0, 2.5)  # past the last knot: drivers hold their end values
DRIVEN_EVERY = 0.25
OMEGA = np.array([1.5, 2.0, 3.0])


@pytest.fixture(scope="module")
def driven_solver() -> ct.Solver:
    system = ct.ODESystem.from_equations(
        ["dx = v", "dv = -omega**2*x - c*v + u + w"],
        states={"x": 1.0, "v": 0.0}, parameters={"omega": 2.0, "c": 0.1},
        drivers={"u": {"t": KNOTS, "values": U_SAMPLES},
                 "w": {"t": W_KNOTS, "values": W_SAMPLES, "kind": "linear"}},
        observables=["energy = v**2/2 + omega**2*x**2/2", "drive = u + w"], name="driven")
    return ct.Solver(system, "tsit5", rtol=1e-10, atol=1e-10, backend="cpu")


def drive(t: np.ndarray, u_samples: np.ndarray) -> np.ndarray:
    """scipy's not-a-knot spline plus numpy's linear interpolation, held outside."""
    u = CubicSpline(KNOTS, u_samples)(np.clip(t, KNOTS[0], KNOTS[-1]))
    return u + np.interp(t, W_KNOTS, W_SAMPLES)


def driven_reference(times: np.ndarray, u_samples: np.ndarray) -> np.ndarray:
    def rhs(t: float, y: np.ndarray, omega: float) -> np.ndarray:
        return np.array([y[1], -omega ** 2 * y[0] - 0.1 * y[1] + drive(t, u_samples)])

    return np.stack([reference(rhs, DRIVEN_SPAN, (1.0, 0.0), times, (om,)) for om in OMEGA])


@pytest.mark.parametrize("resample", [False, True])
def test_drivers_and_observables(driven_solver: ct.Solver, resample: bool) -> None:
    """Driven oscillator vs scipy; observables vs numpy on the saved states. With
    `resample`, new samples for u are passed to `solve` (same compiled loop)."""
    u = U_SAMPLES[::-1].copy() if resample else U_SAMPLES
    drivers = {"u": {"t": KNOTS, "values": u},
               "w": {"t": W_KNOTS, "values": W_SAMPLES, "kind": "linear"}} if resample else None
    sol = driven_solver.solve(DRIVEN_SPAN, parameters={"omega": OMEGA}, drivers=drivers,
                              save_every=DRIVEN_EVERY, progress=False)
    assert np.all(sol.ok)
    assert_relative(sol.y, driven_reference(sol.t, u), 1e-7)
    assert sol.observable_names == ("energy", "drive")
    assert sol.observables is not None and sol.observables.shape == (3, len(sol.t), 2)
    x, v = sol.y[..., 0], sol.y[..., 1]
    energy = v ** 2 / 2 + OMEGA[:, None] ** 2 * x ** 2 / 2
    np.testing.assert_allclose(sol.observables[..., 0], energy, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(sol.observables[..., 1], np.tile(drive(sol.t, u), (3, 1)),
                               rtol=1e-12, atol=1e-12)


# --- Solution: program, layout, xarray, plot ------------------------------------------


def test_solver_program_and_layout(lorenz_tsit5: ct.Solver) -> None:
    lorenz_tsit5.solve(LORENZ_SPAN, save_every=LORENZ_EVERY, progress=False)
    program, layout = lorenz_tsit5.program, lorenz_tsit5.layout
    assert isinstance(program, ct.Program) and isinstance(layout, ct.Layout)
    assert program.meta["kind"] == "loop" and program.meta["n_saves"] == LORENZ_SAVES
    assert layout.program is program
    layout.verify()


def test_to_xarray(vdp_tsit5_solution: ct.Solution) -> None:
    sol = vdp_tsit5_solution
    ds = sol.to_xarray()
    assert ds["y"].dims == ("run", "time", "state")
    assert ds.sizes == {"run": 3, "time": VDP_SAVES, "state": 2, "parameter": 1,
                        "window": 15}
    np.testing.assert_array_equal(ds["time"].values, sol.t)
    assert list(ds["state"].values) == ["x", "y"]
    assert list(ds["parameter"].values) == ["mu"]
    np.testing.assert_array_equal(ds["y"].sel(state="y").values, sol.y[..., 1])
    np.testing.assert_array_equal(ds["status"].values, sol.status)
    np.testing.assert_array_equal(ds["accepted"].values, sol.stats["accepted"])
    assert ds["summary_peaks"].dims == ("run", "window", "state")
    np.testing.assert_array_equal(ds["summary_mean"].values, sol.summaries["mean"])
    assert ds.attrs["method"] == "tsit5"
    assert float(ds["time"][-1]) == VDP_SPAN[1] and float(ds["time"][1]) == VDP_EVERY


def test_to_xarray_observables(driven_solver: ct.Solver) -> None:
    sol = driven_solver.solve(DRIVEN_SPAN, save_every=DRIVEN_EVERY, progress=False)
    ds = sol.to_xarray()
    assert ds["observables"].dims == ("run", "time", "observable")
    assert list(ds["observable"].values) == ["energy", "drive"]


def test_plot_returns_a_figure(vdp_tsit5_solution: ct.Solution) -> None:
    from matplotlib.figure import Figure

    fig = vdp_tsit5_solution.plot()
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert len(ax.lines) == 3 * 2  # three runs, two states
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), vdp_tsit5_solution.t)
    fig = vdp_tsit5_solution.plot(variables="x", runs=1)
    assert len(fig.axes[0].lines) == 1
    np.testing.assert_array_equal(fig.axes[0].lines[0].get_ydata(),
                                  vdp_tsit5_solution.y[1, :, 0])
