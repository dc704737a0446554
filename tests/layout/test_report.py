"""`Layout.table()` and `Layout.plot()`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.image
import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

import cubie_trace as ct
from cubie_trace.layout import Layout, plan
from cubie_trace.layout.plot import COLOURS
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
