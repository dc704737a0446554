"""Liveness chart of a `Layout`: program position across, offset up.

One panel per storage region: the per-thread pools (shared, local and
persistent, one per dtype) and then each caller's output array that holds
scratch. Each buffer with storage of its own is one labelled rectangle over
its live interval and its elements, coloured by location; views and
sub-program names for a buffer (placements whose `root` is set) are not
drawn, nor are the caller's input arrays (they are read, never written).
A pool's panel shows its lower bound (the most elements live at once) as a
dashed line and its planned size as a dotted one. Above the panels, a curve
per pool gives the elements its buffers reserve at each position; in the integration
loop's layout every panel marks where the loop body (the step) begins and ends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

from cubie_trace.layout.layout import POOLS, Placement

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from cubie_trace.layout.layout import Layout

COLOURS = {"shared": "#4c72b0", "local": "#dd8452", "persistent": "#55a868",
           "output": "#b3a2d6"}
MIN_WIDTH = 0.35  # width of a buffer live at a single position


def _regions(layout: Layout) -> list[tuple[Any, list[Placement]]]:
    """Drawn regions in order (pools by location, then output arrays) with their buffers."""
    found: dict[Any, list[Placement]] = {region: [] for region in layout.pools}
    for p in layout.placements.values():
        if p.root is None and p.location != "input":
            found.setdefault(p.region, []).append(p)

    def order(region: Any) -> tuple[int, str]:
        loc, sub = region
        return (POOLS.index(loc) if loc in POOLS else len(POOLS), str(sub))

    return [(r, found[r]) for r in sorted(found, key=order) if found[r] or layout.pools.get(r)]


def _height(layout: Layout, region: Any, placed: list[Placement]) -> int:
    if region in layout.pools:
        return layout.pools[region]
    return max((p.offset + p.size for p in placed), default=0)


def _title(region: Any) -> str:
    loc, sub = region
    return f"{loc} {sub}" if loc in POOLS else f"{loc}[{sub}] (caller's)"


def _draw(ax: Axes, layout: Layout, region: Any, placed: list[Placement], base: float) -> None:
    """Draw one region's buffers with their lowest offset at height `base`."""
    for p in placed:
        lo, hi = p.interval
        width = max(hi - lo, MIN_WIDTH)
        ax.add_patch(Rectangle((lo, base + p.offset), width, p.size, alpha=0.85,
                               facecolor=COLOURS.get(p.location, "#999999"),
                               edgecolor="black", linewidth=0.8))
        ax.text(lo + width / 2, base + p.offset + p.size / 2, p.name, ha="center",
                va="center", fontsize=8, clip_on=True)
    height = _height(layout, region, placed)
    if region in layout.pools:
        bound = layout.lower_bounds.get(region, 0)
        ax.axhline(base + bound, color="black", linestyle="--", linewidth=1.0)
        ax.axhline(base + height, color="grey", linestyle=":", linewidth=1.0)
        note = f"{_title(region)}: {height} elements, lower bound {bound}"
    else:
        note = _title(region)
    ax.text(0.0, base + height, note, ha="left", va="bottom", fontsize=8)


def _decorate(ax: Axes, layout: Layout, top: float, legend: bool) -> None:
    ax.set_xlim(-0.5, max(layout.length, 1) + 0.5)
    ax.set_ylim(0, max(top, 1) * 1.2)
    ax.set_ylabel("offset (elements)")
    if not legend:
        return
    handles = [Patch(facecolor=c, edgecolor="black", label=loc) for loc, c in COLOURS.items()]
    handles += [ax.plot([], [], "k--", label="lower bound")[0],
                ax.plot([], [], ":", color="grey", label="pool size")[0]]
    ax.legend(handles=handles, loc="upper right", fontsize=7, ncols=3)


def plot_layout(layout: Layout, ax: Axes | None = None) -> Figure:
    """Draw `layout` as a liveness chart and return the figure.

    Without `ax`, a new figure gets one panel per region, stacked; with `ax`, every
    region is drawn into that axes, one band above another.
    """
    regions = _regions(layout)
    sizes = [layout.pools.get(r, 0) for r in layout.pools]
    summary = ", ".join(f"{loc} {layout.elements(loc)}" for loc in POOLS)
    title = f"{layout.program.name} ({layout.policy}): {summary} elements " \
            f"(lower bound {sum(layout.lower_bound.values())}, pools {sum(sizes)})"
    if ax is not None:
        fig = ax.get_figure()
        base = 0.0
        for region, placed in regions:
            _draw(ax, layout, region, placed, base)
            base += _height(layout, region, placed) + 1.5
        _decorate(ax, layout, base, legend=True)
        _mark_step(ax, layout)
        ax.set_xlabel("program position")
        ax.set_title(title, fontsize=9)
        return fig
    fig = Figure(figsize=(10, 2.6 + 2.2 * max(len(regions), 1)), layout="constrained")
    if not regions:
        ax = fig.add_subplot()
        ax.text(0.5, 0.5, "no stored buffers", ha="center", va="center")
        ax.set_axis_off()
    else:
        axes = fig.subplots(len(regions) + 1, 1, sharex=True, squeeze=False,
                            height_ratios=[0.45] + [1.0] * len(regions))[:, 0]
        _draw_live(axes[0], layout)
        for axis, (region, placed) in zip(axes[1:], regions):
            _draw(axis, layout, region, placed, 0.0)
            _decorate(axis, layout, _height(layout, region, placed), axis is axes[1])
        for axis in axes:
            _mark_step(axis, layout)
        axes[-1].set_xlabel("program position")
    fig.suptitle(title, fontsize=10)
    return fig


def _draw_live(ax: Axes, layout: Layout) -> None:
    """Elements reserved over program position, one step curve per pool."""
    for (loc, dtype), live in layout.reserved.items():
        ax.step(range(len(live)), live, where="post", linewidth=1.0,
                color=COLOURS.get(loc, "#999999"), label=f"{loc} {dtype}")
    ax.set_ylabel("live elements")
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper right", fontsize=7, ncols=3)


def _mark_step(ax: Axes, layout: Layout) -> None:
    """Lines where the integration loop's body begins and ends, if the program has one."""
    span = layout.step_span
    if span is None:
        return
    for x in span:
        ax.axvline(x, color="black", linestyle="-.", linewidth=0.9, alpha=0.7)
    top = ax.get_ylim()[1]
    ax.text(span[0], top, " step", ha="left", va="top", fontsize=7)
