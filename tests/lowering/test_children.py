"""Child programs become device functions: one per distinct child, called at every site,
at any depth, in loops, with the footprint of writing them in place."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest

import cubie_trace as ct
from cubie_trace.layout import plan
from lowering import lower
from tests.lowering.programs import lorenz, sample_runs, sdirk_like
from tests.lowering.strategies import check_lowered, stacked


def _sdirk_runs(n: int, seed: int) -> list[tuple[Any, ...]]:
    """Inputs of an sdirk_like step (of any number of stages)."""
    return sample_runs("sdirk_like2", n, seed)


def _functions(source: str) -> list[str]:
    return re.findall(r"^def (child_\w+)\(", source, flags=re.M)


def _lorenz_rhs(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    sigma, rho, beta = p
    return np.array([sigma * (y[1] - y[0]), y[0] * (rho - y[2]) - y[1], y[0] * y[1] - beta * y[2]])


@pytest.fixture(scope="module")
def lowered_sdirk() -> dict[int, Any]:
    out = {}
    for stages in (1, 4):
        prog = ct.trace(sdirk_like(stages), system=lorenz())
        out[stages] = lower(prog, plan(prog), target="cpu")
    return out


def test_one_function_per_child_however_many_stages(lowered_sdirk: dict[int, Any]) -> None:
    """Newton, called at every stage, is one function; BiCGSTAB, called at one place in
    Newton, and a child of a one-stage step, called once, are written in place."""
    one, four = (_functions(lowered_sdirk[k].source) for k in (1, 4))
    assert one == []
    assert four == ["child_newton"]
    calls = re.findall(r"\bchild_newton\(", lowered_sdirk[4].source)
    assert len(calls) == 1 + 4  # its definition and one call per stage


def test_numba_compiles_each_child_once(lowered_sdirk: dict[int, Any]) -> None:
    """Sites pass their offsets as typed constants: one signature, whatever the offsets."""
    low = lowered_sdirk[4]
    check_lowered(low, _sdirk_runs(2, seed=9), (True,) * 4)
    assert len(low.module.child_newton.signatures) == 1


def test_stages_add_calls_not_code(lowered_sdirk: dict[int, Any]) -> None:
    prog = ct.trace(sdirk_like(8), system=lorenz())
    eight = lower(prog, plan(prog), target="cpu").source.count("\n")
    assert eight <= 1.5 * lowered_sdirk[1].source.count("\n")


def test_a_stage_solve_solves_its_equation(lowered_sdirk: dict[int, Any]) -> None:
    """One stage: y1 = y + gamma h f(t1, y1), checked with numpy's Lorenz."""
    runs = _sdirk_runs(3, seed=1)
    low = lowered_sdirk[1]
    y1 = low.run(*stacked(runs, (True,) * 4))[0]
    for (_t, dt, y, p), got in zip(runs, y1):
        residual = got - y - 0.3 * dt * _lorenz_rhs(got, p)
        assert np.max(np.abs(residual)) < 1e-9 * (1 + np.max(np.abs(got)))


@pytest.mark.parametrize("stages", [1, 4])
def test_sdirk_matches_the_interpreter(lowered_sdirk: dict[int, Any], stages: int) -> None:
    low = lowered_sdirk[stages]
    check_lowered(low, _sdirk_runs(3, seed=stages), (True,) * 4)


def _nested(x: Any, n: Any) -> tuple:
    """Three levels of children: `outer` loops over `middle`, which calls `inner` twice;
    `outer` is called at two sites, the second with a buffer chosen at run time."""
    @ct.function
    def inner(v: Any, s: Any) -> tuple:
        w = ct.hint(ct.sin(v) * s + 1.0, "w")
        return w, ct.sum(w)

    @ct.function
    def middle(v: Any, s: Any) -> tuple:
        a, sa = inner(v, s)
        b, sb = inner(a * 0.5, sa * 0.1)
        return ct.stack([a, b]), sb

    @ct.function
    def outer(v: Any, k: Any) -> tuple:
        def body(c: tuple) -> tuple:
            i, u, acc = c
            rows, s = middle(u, acc * 0.01)
            return i + 1, rows[ct.minimum(i, 1)] * 0.3, acc + s
        _, u, acc = ct.while_loop(lambda c: c[0] < k, body, (np.int32(0), v, 0.0))
        return u, acc

    u1, a1 = outer(x, n)
    rows = ct.stack([x, u1 * 2.0])
    u2, a2 = outer(rows[ct.minimum(n, 1)], n + 1)
    return u1 + u2, a1 + a2


@pytest.mark.parametrize("policy", ["local", "shared"])
def test_nested_children_in_loops_match_the_interpreter(policy: str) -> None:
    prog = ct.trace(_nested, ct.buffer(3), ct.scalar("int32"))
    layout = plan(prog, policy=policy)
    layout.verify()
    low = lower(prog, layout, target="cpu")
    # outer and inner are called at two sites each (inner's sites store differently, so
    # it may have two variants); middle, called at one, is written in place
    assert {re.sub(r"_\d+$", "", f) for f in _functions(low.source)} == \
        {"child_inner", "child_outer"}
    rng = np.random.default_rng(5)
    runs = [(rng.uniform(-2, 2, 3), np.int32(k)) for k in range(4)]
    check_lowered(low, runs, (True, True))


@pytest.mark.parametrize("stages", [1, 8])
def test_a_step_of_children_is_packed_to_its_bound(stages: int) -> None:
    """Each site's clone of a child is planned like code written in place: its buffers
    pack into the caller's free space, so the layout meets its lower bound."""
    layout = plan(ct.trace(sdirk_like(stages), system=lorenz()))
    layout.verify()
    assert layout.total_elements <= 1.1 * sum(layout.lower_bound.values())
