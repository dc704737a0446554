"""`Layout.verify` (and the independent `check_layout`) catch tampered layouts."""

from __future__ import annotations

import re
from typing import Any

import attrs
import pytest

import cubie_trace as ct
from cubie_trace.layout import Layout, LayoutError, plan
from cubie_trace.testing import check_layout
from tests.layout.checks import system3


def two_live(x: Any) -> Any:
    u = ct.hint(ct.exp(x), name="u")
    v = ct.hint(ct.sin(x), name="v")
    w = ct.hint(u * v, name="w")  # in place over u or v
    return ct.sum(w) * x


@ct.step(order=1, state={"k": "n", "h": "n"})
def two_states(f: Any, t: Any, dt: Any, y: Any, state: dict) -> Any:
    y_new = y + dt * state["k"]
    return y_new, None, {"k": f(t, y_new), "h": state["h"] * 0.5}, ct.OK


@pytest.fixture
def layout() -> Layout:
    program = ct.trace(two_live, ct.buffer(3))
    layout = plan(program, reuse_outputs=False)
    layout.verify()
    check_layout(layout)
    return layout


def tampered(layout: Layout, name: str, **changes: Any) -> Layout:
    var = layout.program.var(name)
    placements = {**layout.placements, var: attrs.evolve(layout.placements[var], **changes)}
    return attrs.evolve(layout, placements=placements)


def assert_caught(layout: Layout, *names: str) -> None:
    with pytest.raises(LayoutError) as err:
        layout.verify()
    for name in names:
        assert re.search(rf"\b{name}\b", str(err.value)), (name, str(err.value))
    with pytest.raises(AssertionError):
        check_layout(layout)


def test_the_fixture_layout(layout: Layout) -> None:
    u, v = layout["u"], layout["v"]
    assert u.region == v.region == ("local", "float")
    assert {u.offset, v.offset} == {0, 3} and layout.local_elements == 6


def test_overlapping_live_buffers(layout: Layout) -> None:
    assert_caught(tampered(layout, "v", offset=layout["u"].offset), "u", "v")
    # a partial overlap too
    top = max(layout["u"].offset, layout["v"].offset)
    lower = "u" if layout["u"].offset < top else "v"
    assert_caught(tampered(layout, lower, offset=1), "u", "v")


def test_overlap_over_a_lifetime_stretched_by_tampering(layout: Layout) -> None:
    # w takes the storage of u or v when that one dies; stretching the one it took over
    # to w's end makes them live together
    w = layout["w"]
    old = "u" if layout["u"].offset == w.offset else "v"
    assert_caught(tampered(layout, old, interval=(layout[old].interval[0], w.interval[1])),
                  old, "w")


def test_shrunk_pool(layout: Layout) -> None:
    pools = {**layout.pools, ("local", "float"): 5}
    outside = "u" if layout["u"].offset == 3 else "v"
    assert_caught(attrs.evolve(layout, pools=pools), outside)


def test_negative_offset(layout: Layout) -> None:
    assert_caught(tampered(layout, "u", offset=-1), "u")


def test_carried_state_overlap() -> None:
    program = ct.trace(two_states, system=system3())
    layout = plan(program)
    layout.verify()
    check_layout(layout)
    assert layout.persistent_elements == 6 and layout["k"].location == "persistent"
    assert_caught(tampered(layout, "h", offset=layout["k"].offset), "k", "h")


def test_output_scratch_out_of_bounds() -> None:
    @ct.step(order=1)
    def euler(f: Any, t: Any, dt: Any, y: Any, state: dict) -> Any:
        return y + dt * f(t, y), None, state, ct.OK

    program = ct.trace(euler, system=system3())
    layout = plan(program)
    layout.verify()
    rhs = next(p.name for v, p in layout.placements.items()
               if p.location == "output" and v is not program.outputs[0])
    assert_caught(tampered(layout, rhs, offset=2), rhs)
