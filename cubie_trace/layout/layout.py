"""`Layout`: where every buffer of a program lives, and the report on it.

Locations: "shared", "local" and "persistent" are per-thread pools, one per
dtype (pools are typed: an int32 buffer sits in the int32 pool of its
location); "input" and "output" are the caller's arrays (`index` says which)
that the program reads, or writes and may use as scratch before writing.
A view has the placement of the part of its base it reads (`view_of` names
the base; a row chosen at run time has its base's offset and `dynamic_view`).
A sub-program input has the placement of the operand bound to it. `root`
names the buffer that owns the storage (None for owners themselves).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from cubie_trace.core.program import Program
from cubie_trace.core.values import Var, itemsize

if TYPE_CHECKING:
    import matplotlib.figure
    import networkx as nx

POOLS = ("shared", "local", "persistent")


class LayoutError(AssertionError):
    """A layout that breaks an invariant (found by `Layout.verify`)."""


@attrs.frozen
class Placement:
    """Storage of one buffer."""

    name: str
    location: str
    dtype: str
    offset: int
    size: int
    interval: tuple[int, int]
    group: int
    index: int | None = None
    view_of: str | None = None
    dynamic_view: bool = False
    root: str | None = None

    @property
    def region(self) -> tuple[Any, ...]:
        """Storage it is in: one pool per location and dtype, or a caller's array."""
        return (self.location, self.dtype) if self.location in POOLS else \
            (self.location, self.index)


@attrs.define(eq=False)
class Layout:
    """The planned storage of a program's buffers (see `ct.plan`)."""

    program: Program
    placements: dict[Var, Placement]
    pools: dict[tuple[str, str], int]
    lower_bounds: dict[tuple[str, str], int]
    in_place: set[tuple[Var, Var]]
    length: int
    precision: str = "float64"
    policy: str = "local"
    inlined: frozenset[Var] = frozenset()
    reserved: dict[tuple[str, str], np.ndarray] = attrs.field(factory=dict)

    # ------------------------------------------------------------ sizes

    def elements(self, location: str) -> int:
        return sum(n for (loc, _), n in self.pools.items() if loc == location)

    def bytes(self, location: str) -> int:
        return sum(n * itemsize(dt, self.precision)
                   for (loc, dt), n in self.pools.items() if loc == location)

    shared_elements = property(lambda self: self.elements("shared"))
    local_elements = property(lambda self: self.elements("local"))
    persistent_elements = property(lambda self: self.elements("persistent"))
    shared_bytes = property(lambda self: self.bytes("shared"))
    local_bytes = property(lambda self: self.bytes("local"))
    persistent_bytes = property(lambda self: self.bytes("persistent"))

    @property
    def total_elements(self) -> int:
        """Per-thread elements in all pools."""
        return sum(self.pools.values())

    @property
    def lower_bound(self) -> dict[str, int]:
        """Per location, the most elements live at any one position (no layout needs less)."""
        out = {loc: 0 for loc in POOLS}
        for (loc, _), n in self.lower_bounds.items():
            out[loc] += n
        return out

    def __getitem__(self, name_or_var: str | Var) -> Placement:
        var = self.program.var(name_or_var) if isinstance(name_or_var, str) else name_or_var
        return self.placements[var]

    def same_storage(self, a: Var, b: Var) -> bool:
        """Whether `a` and `b` were given one storage (no copy is needed between them)."""
        pa, pb = self.placements.get(a), self.placements.get(b)
        return pa is not None and pb is not None and pa.region == pb.region and \
            pa.offset == pb.offset and pa.size == pb.size and not pa.dynamic_view \
            and not pb.dynamic_view

    # ------------------------------------------------------------ checks

    def verify(self) -> None:
        """Raise `LayoutError` naming two buffers if ones live at the same time share
        storage (in-place pairs excepted), a buffer is out of its pool, or carried state
        shares storage with anything else."""
        items = list(self.placements.items())
        for _, p in items:
            if p.location in POOLS and p.offset + p.size > self.pools.get(p.region, 0) \
                    and not p.dynamic_view:
                raise LayoutError(f"{p.name} ({p.offset}+{p.size}) is outside the "
                                  f"{p.location} {p.dtype} pool of {self.pools.get(p.region)}")
            if p.location == "output" and not p.dynamic_view and \
                    p.offset + p.size > self.program.outputs[p.index].aval.elements:
                raise LayoutError(f"{p.name} ({p.offset}+{p.size}) is outside output {p.index}")
            if p.offset < 0:
                raise LayoutError(f"{p.name} has a negative offset")
        for i, (a, pa) in enumerate(items):
            for b, pb in items[i + 1:]:
                if pa.region != pb.region or not _overlap(pa.offset, pa.size, pb.offset, pb.size):
                    continue
                if pa.location == "persistent" and pa.group != pb.group:
                    raise LayoutError(f"carried state {pa.name} shares storage with {pb.name}")
                if (pa.root or pa.name) == (pb.root or pb.name):
                    continue  # one value: a view of it or a sub-program's name for it
                ia, ib = pa.interval, pb.interval
                live_together = ia[0] <= ib[1] and ib[0] <= ia[1]
                touching = ((a, b) in self.in_place and ia[1] == ib[0]) or \
                    ((b, a) in self.in_place and ib[1] == ia[0])
                exact = pa.offset == pb.offset and pa.size == pb.size
                if live_together and not (touching and exact):
                    raise LayoutError(f"{pa.name} {ia} and {pb.name} {ib} are live together "
                                      f"but share {pa.location} storage")

    # ------------------------------------------------------------ reports

    @property
    def step_span(self) -> tuple[int, int] | None:
        """The program positions of the integration loop's body (one step after another),
        for a program built by the integration loop; None for any other."""
        if self.program.meta.get("kind") != "loop":
            return None
        lin = self.program.linear
        loops = [eqn for eqn in self.program.eqns if eqn.is_loop]
        main = max(loops, key=lambda eqn: lin.end[eqn] - lin.start[eqn])
        return lin.start[main], lin.end[main]

    def table(self) -> str:
        """A text table: one buffer a row, then the pool sizes and lower bounds."""
        rows = [("buffer", "location", "dtype", "offset", "size", "live")]
        for p in sorted(self.placements.values(), key=lambda p: (p.interval, p.name)):
            loc = p.location + (f"[{p.index}]" if p.index is not None else "")
            if p.view_of:
                loc += f" (view of {p.view_of})"
            rows.append((p.name, loc, p.dtype, str(p.offset), str(p.size),
                         f"{p.interval[0]}..{p.interval[1]}"))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        bound = self.lower_bound
        for loc in POOLS:
            lines.append(f"{loc:<10} {self.elements(loc):>5} elements ({self.bytes(loc)} bytes), "
                         f"lower bound {bound[loc]}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    def plot(self, ax: Any = None) -> matplotlib.figure.Figure:
        """Liveness chart (see `cubie_trace.layout.plot`)."""
        from cubie_trace.layout.plot import plot_layout

        return plot_layout(self, ax)

    @property
    def graph(self) -> nx.DiGraph:
        """The program's buffer graph plus `kind="alias"` edges between buffers given
        overlapping storage."""
        graph = self.program.graph.copy()
        items = list(self.placements.values())
        for i, pa in enumerate(items):
            for pb in items[i + 1:]:
                if pa.region == pb.region and _overlap(pa.offset, pa.size, pb.offset, pb.size) \
                        and pa.name in graph and pb.name in graph \
                        and not graph.has_edge(pb.name, pa.name):
                    later, earlier = (pb, pa) if pb.interval >= pa.interval else (pa, pb)
                    if not graph.has_edge(later.name, earlier.name):
                        graph.add_edge(later.name, earlier.name, kind="alias")
        return graph


def _overlap(o1: int, s1: int, o2: int, s2: int) -> bool:
    return o1 < o2 + s2 and o2 < o1 + s1
