"""Hand-written programs whose layouts are derived by hand: steps, carried state, loops,
branches, child functions and int32 buffers."""

from __future__ import annotations

from typing import Any

import pytest

import cubie_trace as ct
from cubie_trace.core.linear import linearize
from cubie_trace.layout import plan
from cubie_trace.testing import check_layout
from tests.layout.checks import pool_sizes, system3

NONE = {"shared": 0, "local": 0, "persistent": 0}


@ct.step(order=1)
def euler(f: Any, t: Any, dt: Any, y: Any, state: dict) -> Any:
    return y + dt * f(t, y), None, state, ct.OK


@ct.step(order=2, error_order=1)
def heun(f: Any, t: Any, dt: Any, y: Any, state: dict) -> Any:
    k1 = f(t, y)
    k2 = f(t + dt, y + dt * k1)
    return y + dt / 2 * (k1 + k2), dt / 2 * (k2 - k1), state, ct.OK


@ct.step(order=1, state={"k": "n", "count": ct.buffer(2, "int32")})
def carried(f: Any, t: Any, dt: Any, y: Any, state: dict) -> Any:
    y_new = y + dt * state["k"]
    return y_new, None, {"k": f(t + dt, y_new), "count": state["count"] + 1}, ct.OK


def planned(program: ct.Program, **options: Any) -> Any:
    layout = plan(program, **options)
    layout.verify()
    check_layout(layout)
    return layout


def test_explicit_euler_needs_no_scratch() -> None:
    # f(t, y) is written into y_new's storage and updated there in place
    program = ct.trace(euler, system=system3())
    layout = planned(program)
    assert pool_sizes(layout) == NONE == layout.lower_bound
    assert layout.total_elements == 0
    y_new = program.outputs[0]
    assert layout.placements[y_new].location == "output"
    # without the output as scratch, f(t, y) needs n elements of its own
    assert pool_sizes(planned(program, reuse_outputs=False)) == {**NONE, "local": 3}


@pytest.mark.skipif("euler" not in ct.methods(), reason="no registered euler step")
def test_registered_euler_needs_no_scratch() -> None:
    assert pool_sizes(planned(ct.trace("euler", system=system3()))) == NONE


def test_heun() -> None:
    # y_new is written while k1 and k2 are both still needed for the error estimate, and
    # only the error output is still free: one more buffer of n = 3 elements is needed
    program = ct.trace(heun, system=system3())
    layout = planned(program)
    assert pool_sizes(layout) == {**NONE, "local": 3}
    assert layout.lower_bound == {**NONE, "local": 3}
    before = {(u, v) for u, v, kind in program.graph.edges(data="kind") if kind == "alias"}
    after = {(u, v) for u, v, kind in layout.graph.edges(data="kind") if kind == "alias"}
    planned_aliases = after - before
    assert planned_aliases
    by_name = {p.name: p for p in layout.placements.values()}
    for u, v in planned_aliases:
        a, b = by_name[u], by_name[v]
        assert a.region == b.region
        assert a.offset < b.offset + b.size and b.offset < a.offset + a.size
    assert set(layout.program.graph.nodes) <= set(layout.graph.nodes)


def test_carried_state_is_persistent() -> None:
    program = ct.trace(carried, system=system3())
    layout = planned(program)
    k, count = program.inputs[3], program.inputs[4]
    assert layout.placements[k].location == "persistent"
    assert layout.placements[k].size == 3
    assert layout.pools[("persistent", "float")] == 3
    assert layout.pools[("persistent", "int32")] == 2
    assert layout.persistent_elements == 5
    assert layout.persistent_bytes == 3 * 8 + 2 * 4
    k_new, count_new = program.outputs[1], program.outputs[2]
    assert layout.same_storage(k, k_new) and layout.same_storage(count, count_new)
    # y_new = y + dt*k lands in its output, f(t + dt, y_new) directly in k's storage
    assert layout.local_elements == layout.shared_elements == 0


def captured_loop(x: Any, y: Any) -> Any:
    cap = ct.hint(x * 2.0 + 1.0, name="cap")
    start = ct.hint(ct.exp(y), name="start")

    def body(carry: Any) -> Any:
        i, v = carry
        return i + 1, ct.hint(ct.sin(v * cap) - cap, name="new")

    _, v = ct.while_loop(lambda carry: carry[0] < 3, body, (0, start))
    return ct.hint(v + 1.0, name="after") * 2.0


def captured_fori(x: Any, y: Any) -> Any:
    cap = ct.hint(x * 2.0 + 1.0, name="cap")
    start = ct.hint(ct.exp(y), name="start")
    v = ct.fori_loop(0, 3, lambda i, v: ct.hint(ct.sin(v * cap) - cap, name="new"), start)
    return ct.hint(v + 1.0, name="after") * 2.0


@pytest.mark.parametrize("fn", [captured_loop, captured_fori])
@pytest.mark.parametrize("reuse", [True, False])
def test_loops(fn: Any, reuse: bool) -> None:
    program = ct.trace(fn, ct.buffer(4), ct.buffer(4))
    layout = planned(program, reuse_outputs=reuse)
    (loop,) = [e for e in program.eqns if e.primitive.name in ("while_loop", "fori_loop")]
    lin = linearize(program)
    cap = program.var("cap")
    # the body's (and condition's) names for `cap` live to the end of the loop
    names = [p for p in layout.placements.values() if p.root == "cap"]
    assert names and all(p.interval[1] == lin.end[loop] for p in names)
    assert all(layout.placements[cap].offset == p.offset for p in names)
    start, end = lin.start[loop], lin.end[loop]
    home = layout.placements[cap]
    for p in layout.placements.values():
        if p.root != "cap" and p.name != "cap" and p.region == home.region \
                and p.interval[0] <= end and start <= p.interval[1]:
            assert p.offset + p.size <= home.offset or home.offset + home.size <= p.offset, p
    # the carry is updated in place: initial value, body input and result, loop result
    slot = loop.outputs[-1]
    body = loop.params["body"]
    for var in (program.var("start"), body.inputs[-2 if fn is captured_loop else 1],
                body.outputs[-1]):
        assert layout.same_storage(var, slot), program.names[var]
    # cap, and the carry (start, new, v, after) in one more buffer: 2 x 4 elements; with
    # the output as scratch the carry lives in the output
    assert layout.local_elements == (4 if reuse else 8)


def branches(x: Any, s: Any) -> Any:
    a = ct.hint(ct.exp(x), name="a")

    def yes(v: Any) -> Any:
        w = ct.hint(v * 2.0, name="tw")
        return ct.hint(w * w + v, name="tr")

    def no(v: Any) -> Any:
        w = ct.hint(ct.sin(v), name="ew")
        return ct.hint(w - v, name="er")

    return ct.cond(s > 0.0, yes, no, a) + x


def test_cond_branches_share_storage() -> None:
    program = ct.trace(branches, ct.buffer(5), ct.scalar())
    layout = planned(program, reuse_outputs=False)
    tw, ew = layout["tw"], layout["ew"]
    assert tw.interval[1] < ew.interval[0]
    assert layout.same_storage(program.var("tw"), program.var("ew"))
    # a (the branch operand) and one temporary at a time: 2 x 5, not 3 x 5
    assert layout.local_elements == 10


def test_child_scratch_packs_into_parent_free_space() -> None:
    child = ct.function(lambda v: ct.hint(ct.hint(ct.exp(v), name="c1")
                                          * ct.hint(ct.sin(v), name="c2"), name="cr"),
                        name="child")

    def parent(x: Any) -> Any:
        u = ct.hint(ct.exp(x), name="u")
        v = ct.hint(ct.sin(x), name="v")
        s = ct.dot(u, v)
        return child(x) * s

    program = ct.trace(parent, ct.buffer(3))
    layout = planned(program, reuse_outputs=False)
    # u and v (dead before the call), then c1 and c2: two buffers of 3 at any time
    assert layout.local_elements == 6 == layout.lower_bound["local"]
    parent_cells = {(layout[n].offset, layout[n].size) for n in ("u", "v")}
    child_cells = {(layout[n].offset, layout[n].size) for n in ("c1", "c2")}
    assert parent_cells == child_cells


def counters(x: Any) -> Any:
    zeros = ct.full(4, 0, "int32")
    count = ct.hint(zeros + ct.astype(x[0], "int32"), name="count")
    twice = ct.hint(count * 2, name="twice")
    scaled = ct.hint(x * 3.0, name="scaled")
    return scaled + ct.astype(ct.sum(twice), "float")


@pytest.mark.parametrize("policy", ["local", "shared"])
def test_int32_buffers_get_their_own_pool(policy: str) -> None:
    program = ct.trace(counters, ct.buffer(4))
    layout = planned(program, policy=policy, reuse_outputs=False)
    # int32: zeros, count and twice, each dying where the next is computed, one buffer;
    # float: scaled, updated in place into the result
    assert layout.pools == {(policy, "int32"): 4, (policy, "float"): 4}
    assert layout.bytes(policy) == 4 * 4 + 4 * 8
    assert layout["count"].dtype == "int32" and layout["count"].region == (policy, "int32")


def test_int32_pins_mix_locations() -> None:
    program = ct.trace(counters, ct.buffer(4))
    layout = planned(program, pin={"twice": "shared"}, reuse_outputs=False)
    # count is updated in place into twice, so it follows twice's pin; the float stays local
    assert layout["twice"].region == layout["count"].region == ("shared", "int32")
    assert layout["scaled"].region == ("local", "float")
    assert layout.pools == {("shared", "int32"): 4, ("local", "float"): 4}


def test_output_view_of_another_output() -> None:
    # c is row 0 of the stack b; both are outputs: b's storage is output 2 (two rows),
    # and c, a view into it, is copied to its own output 1 (one row), not stored there
    def fn(x: Any) -> Any:
        a = x + x
        b = ct.stack([a, x])
        return a, b[0], b

    program = ct.trace(fn, ct.buffer(2))
    layout = planned(program)
    b, c = program.outputs[2], program.outputs[1]
    assert layout.placements[b].region == ("output", 2)
    assert layout.placements[c].region == ("output", 2) and layout.placements[c].root
    assert layout.total_elements == 0


def test_layouts_do_not_depend_on_object_ids() -> None:
    # the same program traced again (new variables, new ids) plans the same way
    programs = [ct.trace(heun, system=system3()) for _ in range(20)]
    tables = {plan(p).table() for p in programs}
    assert len(tables) == 1
