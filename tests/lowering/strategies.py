"""Random layouts and batches for lowering tests, and the check against `ct.interpret`."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st

import cubie_trace as ct
from cubie_trace.layout import Layout, plan
from cubie_trace.testing import RandomFunction, assert_close_structured, random_inputs
from lowering import Lowered

# hypothesis leans towards the first choice: put the layouts that exercise most first
POLICIES = ("auto", "shared", "local")
RUNS = (3, 1, 4, 2)


@st.composite
def random_layouts(draw: st.DrawFn, program: ct.Program, precision: str = "float64") -> Layout:
    """A layout of `program`: a random policy, shared budget, pins of stored buffers (chosen
    from a first plan's placements, at most one per storage group) and `reuse_outputs`."""
    policy = draw(st.sampled_from(POLICIES))
    reuse = draw(st.booleans())
    first = plan(program, reuse_outputs=reuse, precision=precision)
    stored: dict[int, list[Any]] = {}
    for p in first.placements.values():
        if p.location in ("shared", "local") and p.root is None:  # owners, not views
            stored.setdefault(p.group, []).append(p)
    groups = sorted(stored)
    chosen = draw(st.lists(st.sampled_from(groups), unique=True, max_size=3)) if groups else []
    pin = {}
    for g in chosen:
        name = draw(st.sampled_from(sorted(p.name for p in stored[g])))
        pin[name] = draw(st.sampled_from(("shared", "local")))
    budget = None
    if policy == "auto" or draw(st.booleans()):
        # at least what the pins (and the program's own location hints) need in shared
        pinned = plan(program, pin=pin, reuse_outputs=reuse, precision=precision)
        budget = pinned.shared_bytes + draw(st.sampled_from((64, 0, 24, 160, 8)))
    return plan(program, policy=policy, shared_budget_bytes=budget, pin=pin,
                reuse_outputs=reuse, precision=precision)


@st.composite
def batches(draw: st.DrawFn, program: ct.Program, precision: str = "float64",
            n_runs: int | None = None) -> tuple[list[tuple[Any, ...]], tuple[bool, ...]]:
    """`n_runs` (1..4 if None) runs of fresh inputs, and which inputs are batched (at least
    one); an input that is not batched has one value for every run."""
    n_runs = draw(st.sampled_from(RUNS)) if n_runs is None else n_runs
    n = len(program.inputs)
    flags = tuple(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    if not any(flags):
        flags = (True, *flags[1:])
    runs = [draw(random_inputs(program, precision)) for _ in range(n_runs)]
    shared = runs[0]
    runs = [tuple(x if flag else s for x, s, flag in zip(run, shared, flags)) for run in runs]
    return runs, flags


def stacked(runs: list[tuple[Any, ...]], flags: tuple[bool, ...]) -> list[Any]:
    """Kernel arguments: batched inputs stacked along a leading run axis."""
    return [np.stack([run[k] for run in runs]) if flag else runs[0][k]
            for k, flag in enumerate(flags)]


def run_slice(tree: Any, r: int) -> Any:
    """Run `r` of a batched output tree."""
    if isinstance(tree, dict):
        return {k: run_slice(v, r) for k, v in tree.items()}
    if isinstance(tree, (tuple, list)):
        return type(tree)(run_slice(v, r) for v in tree)
    return np.asarray(tree)[r]


def check_lowered(low: Lowered, runs: list[tuple[Any, ...]], flags: tuple[bool, ...],
                  rtol: float = 1e-12, atol: float = 0.0, **run_kwargs: Any) -> None:
    """Every run's outputs (and log, if instrumented) equal the interpreter's."""
    result = low.run(*stacked(runs, flags), **run_kwargs)
    outs, logs = result if low.instrument else (result, None)
    for r, inputs in enumerate(runs):
        want = ct.interpret(low.program, *inputs, precision=low.precision, log=low.instrument)
        want_out, want_log = want if low.instrument else (want, None)
        assert_close_structured(run_slice(outs, r), want_out, rtol=rtol, atol=atol,
                                check_dtype=True, path=f"run {r}")
        if logs is not None:
            assert_logs_equal(logs[r], want_log, rtol, atol, path=f"run {r} log")


def assert_logs_equal(got: dict[str, list[np.ndarray]], want: dict[str, list[np.ndarray]],
                      rtol: float, atol: float, path: str = "log") -> None:
    """The same taps, each with the same values in the same order."""
    assert sorted(got) == sorted(want), f"{path}: taps {sorted(got)} != {sorted(want)}"
    for name in want:
        assert len(got[name]) == len(want[name]), \
            f"{path}[{name!r}]: {len(got[name])} values, the interpreter logged {len(want[name])}"
        assert_close_structured(got[name], want[name], rtol=rtol, atol=atol, check_dtype=True,
                                path=f"{path}[{name!r}]")


def _tapped(recipe: tuple, draw: st.DrawFn) -> tuple:
    out = []
    for op, a, b, c, *bodies in recipe:
        if op == "tap":  # one kind of value per tap name (tap k logs pool "vsi"[k])
            c = b % 3
        out.append((op, a, b, c, *(_tapped(body, draw) for body in bodies)))
        if draw(st.booleans()):
            k = draw(st.integers(0, 2))
            out.append(("tap", draw(st.integers(0, 3)), k, k))
    return tuple(out)


@st.composite
def tapped_functions(draw: st.DrawFn, fn: RandomFunction) -> RandomFunction:
    """`fn` with log taps added after random statements at every depth (in loops, branches
    and child calls), each tap name recording one kind of value."""
    return RandomFunction(_tapped(fn.recipe, draw), fn.kinds, fn.inputs)
