"""A Solution as a scientist reads it: xarray with swept names as the run index (sel,
unstack over a product grid), run selection, window times and plots labelled by swept
values. Trajectories are checked against the closed form of x' = b - a x."""

from __future__ import annotations

import numpy as np
import pytest

import cubie_trace as ct

A_VALUES, B_VALUES = [0.5, 1.0, 2.0], [-1.0, 3.0]
SPAN, EVERY = (0.0, 2.0), 0.25


def relaxation(t: np.ndarray, a: float, b: float, x0: float = 1.0) -> np.ndarray:
    """x' = b - a x from x0: x = b/a + (x0 - b/a) e^{-a t}."""
    return b / a + (x0 - b / a) * np.exp(-a * np.asarray(t))


@pytest.fixture(scope="module")
def grid() -> ct.Solution:
    system = ct.ODESystem.from_equations(["dx = b - a*x", "dv = -v"],
                                         states={"x": 1.0, "v": 1.0},
                                         parameters={"a": 1.0, "b": 0.0},
                                         observables=["e = x*x"], name="relax",
                                         units={"x": "mV", "a": "1/s", "e": "mV^2"},
                                         descriptions={"x": "membrane potential"})
    solver = ct.Solver(system, "dopri5", rtol=1e-10, atol=1e-12, backend="cpu",
                       summaries=["mean", "max"], summarise_every=1.0)
    return solver.solve(SPAN, parameters={"a": A_VALUES, "b": B_VALUES}, grid="product",
                        save_every=EVERY, progress=False)


def test_unstacked_product_grid_matches_the_closed_form(grid: ct.Solution) -> None:
    ds = grid.to_xarray().unstack("run")
    x = ds["y"].sel(state="x").transpose("a", "b", "time")
    assert list(ds["a"].values) == A_VALUES and list(ds["b"].values) == B_VALUES
    expected = np.array([[relaxation(grid.t, a, b) for b in B_VALUES] for a in A_VALUES])
    np.testing.assert_allclose(x.values, expected, rtol=1e-8, atol=1e-10)


def test_sel_by_swept_value(grid: ct.Solution) -> None:
    ds = grid.to_xarray()
    picked = ds["y"].sel(a=2.0, b=3.0, state="x")
    np.testing.assert_allclose(picked.values.ravel(), relaxation(grid.t, 2.0, 3.0),
                               rtol=1e-8, atol=1e-10)
    one_b = ds["y"].sel(b=-1.0)  # selecting one level leaves the other as the index
    np.testing.assert_array_equal(one_b["a"].values, A_VALUES)
    np.testing.assert_array_equal(ds["status"].values, 0)


def test_select_by_value_and_predicate(grid: ct.Solution) -> None:
    runs = grid.select({"a": 1.0})
    np.testing.assert_array_equal(grid.parameters[runs, 0], 1.0)
    assert len(runs) == len(B_VALUES)
    runs = grid.select(lambda a, b: (a > 0.7) & (b > 0))
    assert {(grid.swept["a"][r], grid.swept["b"][r]) for r in runs} == {(1.0, 3.0),
                                                                        (2.0, 3.0)}
    with pytest.raises(ValueError, match="unknown names"):
        grid.select({"c": 1.0})
    with pytest.raises(ValueError, match="unknown names"):
        grid.select(lambda a, c: a > c)


def test_windows_carry_their_save_times(grid: ct.Solution) -> None:
    start, end = grid.window_times
    np.testing.assert_allclose(start, [0.0, 1.0, 2.0])
    np.testing.assert_allclose(end, [0.75, 1.75, 2.0])
    ds = grid.to_xarray()
    np.testing.assert_allclose(ds["window_start"].values, start)
    # the mean over the first window is the mean of the closed form at its four saves
    run = int(grid.select({"a": 0.5, "b": 3.0})[0])
    expected = relaxation(grid.t[:4], 0.5, 3.0).mean()
    np.testing.assert_allclose(grid.summaries["mean"][run, 0, 0], expected, rtol=1e-8)


def test_plot_labels_runs_by_swept_values(grid: ct.Solution) -> None:
    fig = grid.plot(variables="x", where={"b": 3.0})
    lines = fig.axes[0].lines
    assert [line.get_label() for line in lines] == [f"a = {a:.4g}, b = 3" for a in A_VALUES]
    np.testing.assert_allclose(lines[2].get_ydata(), relaxation(grid.t, 2.0, 3.0),
                               rtol=1e-8, atol=1e-10)
    assert fig.axes[0].get_ylabel() == "x [mV]"
    assert len(grid.plot().axes[0].lines) == 5 * 2  # first five runs, both states


def test_plot_observables_and_errors(grid: ct.Solution) -> None:
    fig = grid.plot(variables=["e"], runs=[0])
    np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(), grid.y[0, :, 0] ** 2,
                               rtol=1e-12)
    with pytest.raises(ValueError, match="not saved"):
        grid.plot(variables="z")
    with pytest.raises(ValueError, match="no run matches"):
        grid.plot(where={"a": 7.0})


def test_many_variables_get_one_panel_each() -> None:
    names = tuple(f"s{i}" for i in range(40))
    t = np.linspace(0.0, 1.0, 5)
    y = np.arange(2 * 5 * 40, dtype=float).reshape(2, 5, 40)
    sol = ct.Solution(t=t, y=y, status=np.zeros(2, int), stats={}, state_names=names,
                      parameters=np.zeros((2, 0)), parameter_names=(), y0=y[:, 0],
                      swept={}, t_final=np.ones(2), y_final=y[:, -1], saved_states=names)
    fig = sol.plot()
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 40
    assert [ax.get_ylabel() for ax in visible] == list(names)
    np.testing.assert_array_equal(visible[39].lines[1].get_ydata(), y[1, :, 39])
    assert visible[0].lines[0].get_label() == "run 0"


def test_units_and_descriptions_travel_with_the_names(grid: ct.Solution) -> None:
    ds = grid.to_xarray()
    assert list(ds["state_units"].values) == ["mV", ""]
    assert list(ds["state_description"].values) == ["membrane potential", ""]
    assert list(ds["parameter_units"].values) == ["1/s", ""]
    assert list(ds["observable_units"].values) == ["mV^2"]
    assert ds["y"].sel(state="x")["state_units"].item() == "mV"
    fig = grid.plot(variables=["x", "e"], runs=[0])
    assert [ax.get_ylabel() for ax in fig.axes] == ["x [mV], e [mV^2]"]
    with pytest.raises(ValueError, match=r"units: unknown names \['q'\]"):
        ct.ODESystem.from_equations(["dx = -x"], states={"x": 1.0}, units={"q": "m"})
    with pytest.raises(TypeError, match="descriptions.*strings"):
        ct.ODESystem.from_equations(["dx = -x"], states={"x": 1.0}, descriptions={"x": 1})
