"""Locations: pins, hints, the auto policy under a shared budget, and bad arguments."""

from __future__ import annotations

import re
from typing import Any

import pytest

import cubie_trace as ct
from cubie_trace.layout import plan
from cubie_trace.testing import check_layout
from tests.layout.checks import system3


def reads(x: Any) -> Any:
    """hot (4 floats) is read 4 times and cold (4 floats) once, both live together."""
    hot = ct.hint(ct.exp(x), name="hot")
    cold = ct.hint(ct.sin(x), name="cold")
    fused = ct.cos(x) * 2.0
    return ct.dot(hot, cold) + ct.sum(hot * hot) + ct.dot(hot, x) + ct.max(hot) + ct.sum(fused)


@pytest.fixture(scope="module")
def program() -> ct.Program:
    return ct.trace(reads, ct.buffer(4))


def test_pin_beats_policy(program: ct.Program) -> None:
    layout = plan(program, policy="local", pin={"cold": "shared"})
    layout.verify()
    assert layout["cold"].location == "shared" and layout["hot"].location == "local"
    assert layout.shared_elements == layout.local_elements == 4
    layout = plan(program, policy="shared", pin={"hot": "local"})
    assert layout["cold"].location == "shared" and layout["hot"].location == "local"


def test_hint_location_is_honoured() -> None:
    def fn(x: Any) -> Any:
        k1 = ct.hint(ct.exp(x), name="k1", location="shared")
        k2 = ct.hint(ct.sin(x), name="k2")
        return ct.dot(k1, k2)

    program = ct.trace(fn, ct.buffer(5))
    layout = plan(program)
    layout.verify()
    assert layout["k1"].location == "shared" and layout["k2"].location == "local"
    assert layout.shared_elements == layout.local_elements == 5
    # pin= wins over the program's hint
    assert plan(program, pin={"k1": "local"})["k1"].location == "local"


def test_hints_that_cannot_apply_are_ignored() -> None:
    def fn(x: Any) -> Any:
        ct.hint(x, location="shared")  # the caller's input
        s = ct.hint(ct.sum(x), name="s", location="shared")  # a scalar
        return ct.hint(x * s, name="y", location="shared")  # the caller's output

    program = ct.trace(fn, ct.buffer(3))
    layout = plan(program)
    layout.verify()
    assert layout.total_elements == 0
    # without output reuse, y is internal and the hint applies
    layout = plan(program, reuse_outputs=False)
    assert layout["y"].location == "shared" and layout.shared_elements == 3


@pytest.mark.parametrize("budget, shared", [(0, set()), (31, set()), (32, {"hot"}),
                                            (63, {"hot"}), (64, {"hot", "cold"})])
def test_auto_fills_the_budget_by_accesses_per_byte(program: ct.Program, budget: int,
                                                   shared: set[str]) -> None:
    # hot and cold are both 4 float64 = 32 bytes; hot is accessed more
    layout = plan(program, policy="auto", shared_budget_bytes=budget)
    layout.verify()
    check_layout(layout)
    assert {n for n in ("hot", "cold") if layout[n].location == "shared"} == shared
    assert layout.shared_bytes == 32 * len(shared) <= budget
    assert layout.shared_elements * 8 <= budget
    assert layout.local_elements == 8 - 4 * len(shared)


def test_auto_budget_in_float32(program: ct.Program) -> None:
    # float32 halves the bytes: 32 bytes hold both buffers
    layout = plan(program, policy="auto", shared_budget_bytes=32, precision="float32")
    assert layout.shared_elements == 8 and layout.shared_bytes == 32


def test_auto_default_budget_follows_threads_per_block(program: ct.Program) -> None:
    # 48 KiB per block: 384 bytes per thread at 128 threads, 32 at 1536
    assert plan(program, policy="auto").shared_elements == 8
    layout = plan(program, policy="auto", threads_per_block=1536)
    assert layout.shared_bytes == 32 and layout["hot"].location == "shared"


def test_auto_prefers_loop_buffers() -> None:
    def fn(x: Any) -> Any:
        inner = ct.hint(ct.exp(x), name="inner")
        outer = ct.hint(ct.sin(x), name="outer")
        total = ct.fori_loop(0, 5, lambda i, acc: acc + ct.dot(inner, inner), 0.0)
        return total + ct.sum(outer) + ct.max(outer) + ct.min(outer)

    program = ct.trace(fn, ct.buffer(4))
    layout = plan(program, policy="auto", shared_budget_bytes=32)
    assert layout["inner"].location == "shared" and layout["outer"].location == "local"


def test_pinned_shared_over_budget(program: ct.Program) -> None:
    with pytest.raises(ValueError, match="shared_budget_bytes=40") as err:
        plan(program, pin={"hot": "shared", "cold": "shared"}, shared_budget_bytes=40)
    assert "hot" in str(err.value) and "cold" in str(err.value)
    layout = plan(program, policy="auto", pin={"hot": "shared"}, shared_budget_bytes=40)
    assert layout.shared_bytes == 32


@pytest.mark.parametrize("pin, words", [
    ({"nope": "shared"}, ["nope"]),
    ({"hot": "global"}, ["hot", "global"]),
    ({"hot": None}, ["hot"]),
    ({"x0": "shared"}, ["x0", "input"]),
    ({"a": "shared"}, ["'a'", "fused"]),
    ({"c": "shared"}, ["'c'", "scalar"]),
])
def test_bad_pins(program: ct.Program, pin: dict, words: list[str]) -> None:
    with pytest.raises(ValueError) as err:
        plan(program, pin=pin)
    for word in words:
        assert word in str(err.value)


def test_pins_to_caller_and_carried_storage() -> None:
    @ct.step(order=1, state={"k": "n"})
    def step(f: Any, t: Any, dt: Any, y: Any, state: dict) -> Any:
        y_new = y + dt * state["k"]
        return y_new, None, {"k": f(t, y_new)}, ct.OK

    program = ct.trace(step, system=system3())
    with pytest.raises(ValueError, match="'k'.*persistent"):
        plan(program, pin={"k": "shared"})
    with pytest.raises(ValueError, match="'y'.*input"):
        plan(program, pin={"y": "local"})
    name = program.names[program.outputs[0]]
    with pytest.raises(ValueError, match=f"'{name}'.*output"):
        plan(program, pin={name: "shared"})
    assert plan(program, pin={name: "shared"}, reuse_outputs=False)[name].location == "shared"


@pytest.mark.parametrize("options, word", [
    ({"policy": "fast"}, "fast"), ({"precision": "float16"}, "float16"),
    ({"threads_per_block": 0}, "threads_per_block"),
    ({"shared_budget_bytes": -1}, "shared_budget_bytes")])
def test_bad_options(program: ct.Program, options: dict, word: str) -> None:
    with pytest.raises(ValueError, match=word):
        plan(program, **options)


def _sites(x: Any) -> Any:
    """A child called at two sites, each with a stored `scratch`; one nested `inner`."""
    @ct.function
    def inner(v: Any) -> Any:
        w = ct.hint(ct.cos(v) + 1.0, name="w")
        return v * ct.sum(w) + w

    @ct.function
    def child(v: Any) -> Any:
        s = ct.hint(ct.sin(v) * 2.0, name="scratch")
        return inner(v * ct.sum(s) + s)

    return child(child(x) + 1.0)


@pytest.fixture(scope="module")
def sites() -> ct.Program:
    return ct.trace(_sites, ct.buffer(4))


def test_hint_names_are_scoped_by_call_site(sites: ct.Program) -> None:
    names = set(sites.names.values())
    assert {"child/scratch", "child#2/scratch", "child/inner/w", "child#2/inner/w"} <= names
    assert "child/scratch:f[4] = mul" in str(sites)
    assert {"child/scratch", "child#2/scratch"} <= set(sites.graph.nodes)
    assert sites.var("child/inner/w") is not sites.var("child#2/inner/w")
    with pytest.raises(KeyError, match="names 2 variables"):
        sites.var("scratch")


def test_an_unscoped_pin_places_every_site(sites: ct.Program) -> None:
    layout = plan(sites, policy="local", pin={"scratch": "shared", "w": "shared"},
                  reuse_outputs=False)
    for name in ("child/scratch", "child#2/scratch", "child/inner/w", "child#2/inner/w"):
        assert layout[name].location == "shared", name
    check_layout(layout)


def test_a_scoped_pin_places_one_site(sites: ct.Program) -> None:
    layout = plan(sites, policy="local", reuse_outputs=False,
                  pin={"child#2/scratch": "shared", "child/inner/w": "shared"})
    assert layout["child#2/scratch"].location == "shared"
    assert layout["child/scratch"].location == "local"
    assert layout["child/inner/w"].location == "shared"
    assert layout["child#2/inner/w"].location == "local"
    # a partial scope from the leaf up names the nested child's buffer at both sites
    both = plan(sites, policy="local", pin={"inner/w": "shared"}, reuse_outputs=False)
    assert {both[n].location for n in ("child/inner/w", "child#2/inner/w")} == {"shared"}


@pytest.mark.parametrize("name", ["child#3/scratch", "other/scratch", "scratch_9"])
def test_a_pin_naming_no_site_raises(sites: ct.Program, name: str) -> None:
    with pytest.raises(ValueError, match=f"no buffer named '{re.escape(name)}'"):
        plan(sites, pin={name: "shared"})
