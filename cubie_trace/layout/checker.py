"""An independent check of a Layout, for tests and for users checking their own steps.

Written apart from `Layout.verify`: it checks placements against the program's
structure (which buffers are stored, which inputs belong to the caller, which
equation reads what through fused chains, which overlaps are true in-place
updates). The lifetimes it compares are the layout's own intervals.
"""

from __future__ import annotations

from typing import Any


def check_layout(layout: Any) -> None:
    """Check a `Layout` independently of `Layout.verify`: every stored buffer placed,
    views inside their base, caller inputs never written, scratch within the caller's
    arrays and the pools, carried state in persistent storage of its own, and no two
    buffers live at once in overlapping storage (except an operand and the result
    written in place over it where it dies). Raises AssertionError."""
    program, places = layout.program, layout.placements
    names = program.names
    stored = {v for v in program.variables() if v.is_buffer}
    assert set(places) == stored - set(layout.inlined), "placed buffers != unfused buffers"
    by_name = {p.name: p for p in places.values()}
    inputs = {names[v]: k for k, v in enumerate(program.inputs)}
    for p in places.values():
        assert 0 <= p.interval[0] <= p.interval[1] <= layout.length, f"{p.name} interval"
        owner = by_name[p.root] if p.root else p
        assert (p.region, p.dtype) == (owner.region, owner.dtype), f"{p.name} off {owner.name}"
        if p.root and not p.dynamic_view:
            assert owner.offset <= p.offset and p.offset + p.size <= owner.offset + owner.size, \
                f"{p.name} outside {owner.name}"
        if p.location == "input":
            assert inputs.get(owner.name) == p.index, f"{p.name} written in input {p.index}"
        elif p.location == "output":
            limit = program.outputs[p.index].aval.elements
            assert p.offset + p.size <= limit, f"{p.name} outside output {p.index}"
        else:
            assert 0 <= p.offset and p.offset + p.size <= layout.pools[p.region], \
                f"{p.name} outside its pool"
    carried = [c for c in program.carried if c.input in places]
    for c in carried:
        assert places[c.input].location == "persistent", f"{c.name} not persistent"
        assert c.output not in places or layout.same_storage(c.input, c.output), c.name
    assert layout.persistent_elements == sum(places[c.input].size for c in carried)

    producer = {v: e for _, e in program.walk() for v in e.outputs}

    def reads(eqn: Any) -> set[Any]:  # operands, through fused elementwise chains
        return set().union(*(reads(producer[a]) if a in layout.inlined else {a}
                             for a in eqn.inputs))

    def extent(p: Any) -> tuple[int, int]:
        q = by_name[p.root] if p.dynamic_view else p
        return q.offset, q.offset + q.size

    items = [(v, p, extent(p)) for v, p in places.items() if p.location != "input"]
    for i, (a, pa, ea) in enumerate(items):
        for b, pb, eb in items[i + 1:]:
            if pa.region != pb.region or ea[1] <= eb[0] or eb[1] <= ea[0]:
                continue
            if (pa.root or pa.name) == (pb.root or pb.name):
                continue
            (x, px), (y, py) = sorted(((a, pa), (b, pb)), key=lambda q: q[1].interval)
            if px.interval[1] < py.interval[0]:
                continue
            in_place = (x, y) in layout.in_place and px.interval[1] == py.interval[0] \
                and extent(px) == extent(py) and x in reads(producer[y]) \
                and producer[y].primitive.kind in ("elementwise", "update")
            assert in_place, f"{px.name} {px.interval} and {py.name} {py.interval} overlap"
