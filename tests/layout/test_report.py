"""`Layout.table()` and `Layout.plot()`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import matplotlib.image
import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

import cubie_trace as ct
from cubie_trace.integrators.loop import build_loop
from cubie_trace.layout import Layout, plan
from cubie_trace.layout.layout import POOLS
from cubie_trace.layout.plot import COLOURS
from cubie_trace.systems import library
from tests.layout.checks import system3


@ct.step(order=2, error_order=1)
def heun(f: Any, t: Any, dt: Any, y: Any, state: dict) -> Any:
    k1 = f(t, y)
    k2 = f(t + dt, y + dt * k1)
    return y + dt / 2 * (k1 + k2), dt / 2 * (k2 - k1), state, ct.OK


@ct.step(order=1, state={"k": "n"})
def fsal(f: Any, t: Any, dt: Any, y: Any, state: dict) -> Any:
    y_new = y + dt * (f(t, y) + state["k"]) / 2
    return y_new, None, {"k": f(t + dt, y_new)}, ct.OK


@pytest.fixture(scope="module")
def heun_layout() -> Layout:
    return plan(ct.trace(heun, system=system3()))


def stored(layout: Layout) -> list[str]:
    return [p.name for p in layout.placements.values() if p.root is None]


def test_table_lists_every_buffer_and_pool(heun_layout: Layout) -> None:
    text = heun_layout.table()
    lines = text.splitlines()
    names = {line.split()[0] for line in lines[2:]}
    assert set(stored(heun_layout)) <= names
    for location in ("shared", "local", "persistent"):
        (line,) = [row for row in lines if row.startswith(location + " ")]
        assert f"{heun_layout.elements(location)} elements" in line
        assert f"lower bound {heun_layout.lower_bound[location]}" in line
    assert str(heun_layout) == text


def test_plot_draws_each_stored_buffer(heun_layout: Layout) -> None:
    fig = heun_layout.plot()
    assert isinstance(fig, Figure)
    rectangles = [p for ax in fig.axes for p in ax.patches if isinstance(p, Rectangle)]
    labels = [t.get_text() for ax in fig.axes for t in ax.texts]
    drawn = [p for p in heun_layout.placements.values()
             if p.root is None and p.location != "input"]
    assert len(rectangles) == len(drawn)
    assert {p.name for p in drawn} <= set(labels)
    assert "local 3" in fig.get_suptitle()


def test_plot_into_given_axes() -> None:
    layout = plan(ct.trace(fsal, system=system3()), policy="shared", reuse_outputs=False)
    fig = Figure()
    ax = fig.add_subplot()
    assert layout.plot(ax) is fig
    colours = {tuple(np.round(p.get_facecolor()[:3], 3)) for p in ax.patches}
    expected = {tuple(np.round(matplotlib.colors.to_rgb(COLOURS[loc]), 3))
                for loc in ("shared", "persistent")}
    assert expected <= colours
    # one dashed lower-bound line per pool
    dashed = [line for line in ax.lines if line.get_linestyle() == "--" and line.get_xydata().size]
    assert len(dashed) == len(layout.pools)


def test_plot_png(heun_layout: Layout, tmp_path: Path) -> None:
    path = tmp_path / "heun.png"
    heun_layout.plot().savefig(path, dpi=80)
    assert path.stat().st_size > 10_000
    image = matplotlib.image.imread(path)[..., :3]
    colours = {tuple(c) for c in np.round(image.reshape(-1, 3), 2)}
    assert len(colours) > 20
    not_white = np.any(image < 0.95, axis=-1)
    assert 0.05 < not_white.mean() < 0.9
    fill = np.array(matplotlib.colors.to_rgb(COLOURS["local"]))
    assert np.any(np.all(np.abs(image - fill) < 0.1, axis=-1))


def test_plot_empty_layout() -> None:
    layout = plan(ct.trace(lambda x: ct.sum(x), ct.buffer(2)))
    fig = layout.plot()
    assert not [p for ax in fig.axes for p in ax.patches]


@pytest.fixture(scope="module")
def loop_layout() -> Layout:
    """The integration loop of tsit5 on Lorenz with dense output to 11 saves."""
    lorenz = library.lorenz()
    solver = ct.Solver(lorenz, "tsit5", backend="cpu")
    return plan(build_loop(lorenz, solver.spec(11)), scratch_in_outputs=False)


def test_loop_buffers_are_named_for_what_they_hold(loop_layout: Layout) -> None:
    """Stage derivatives, stage inputs, the solution, FSAL state, the saves and the starting
    step's evaluations carry names; no buffer in a pool is left with a generated one."""
    stored_names = {p.name for p in loop_layout.placements.values()
                    if p.root is None and p.location in POOLS}
    bases = {re.sub(r"_\d+$", "", name) for name in stored_names}
    assert {"k2", "k3", "k4", "k5", "k6", "k7", "stage_y", "y_new", "fsal_k", "f0",
            "scale"} <= bases
    assert {"ys", "y"} <= {re.sub(r"_\d+$", "", p.name)
                           for p in loop_layout.placements.values()}
    assert not [name for name in stored_names if re.fullmatch("[a-z]{1,2}", name)]


@pytest.mark.parametrize("which", ["heun", "loop"])
def test_reserved_curve_covers_every_live_buffer(heun_layout: Layout, loop_layout: Layout,
                                                 which: str) -> None:
    """At each position the curve counts at least the elements its live buffers occupy,
    at most the pool, and peaks at the lower bound."""
    layout = heun_layout if which == "heun" else loop_layout
    assert set(layout.reserved) == set(layout.pools)
    for region, curve in layout.reserved.items():
        assert curve.shape == (layout.length + 1,)
        used = np.zeros((layout.length + 1, layout.pools[region]), dtype=bool)
        for p in layout.placements.values():
            if p.region == region and p.root is None:
                used[p.interval[0]:p.interval[1] + 1, p.offset:p.offset + p.size] = True
        assert np.all(curve >= used.sum(axis=1))
        assert np.all(curve <= layout.pools[region])
        assert curve.max() == layout.lower_bounds[region]


def test_plot_shows_the_curve_and_the_step(heun_layout: Layout, loop_layout: Layout) -> None:
    fig = loop_layout.plot()
    top = fig.axes[0]
    assert top.get_ylabel() == "live elements"
    (curve,) = [line for line in top.lines if line.get_label() == "local float"]
    np.testing.assert_array_equal(curve.get_ydata(), loop_layout.reserved[("local", "float")])
    span = loop_layout.step_span
    assert span is not None and 0 < span[0] < span[1] <= loop_layout.length
    for ax in fig.axes:
        marks = sorted(line.get_xdata()[0] for line in ax.lines
                       if line.get_linestyle() == "-.")
        assert marks == list(span)
    assert heun_layout.step_span is None
    assert not [line for ax in heun_layout.plot().axes for line in ax.lines
                if line.get_linestyle() == "-."]
