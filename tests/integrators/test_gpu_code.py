"""The integration loop's CUDA code for sm_90, compiled to PTX and through ptxas without
a GPU: every explicit method on Lorenz keeps its step in registers (no spills) and calls
no `pow` (step-size factors are one exp of a sum of logs)."""

from __future__ import annotations

import os
import re

import pytest

import cubie_trace as ct
from cubie_trace.integrators.loop import build_loop
from cubie_trace.layout import plan
from cubie_trace.systems.library import lorenz
from lowering import lower
from lowering.ptx import compile_ptx, ptxas

pytestmark = pytest.mark.skipif(os.environ.get("NUMBA_ENABLE_CUDASIM") == "1",
                                reason="PTX compilation needs numba's real CUDA target")

EXPLICIT = ("euler", "heun", "ralston3", "bs32", "rk4", "cash_karp", "fehlberg45", "dopri54",
            "tsit5", "dop853", "vern7")
QUICK = ("rk4", "tsit5", "dop853")


def loop_ptx(method: str, precision: str = "float64") -> str:
    fixed = method in ("euler", "ralston3", "rk4")  # no error estimate
    options = {"dt": 1e-3} if fixed else {"rtol": 1e-8, "atol": 1e-8}
    solver = ct.Solver(lorenz(), method, precision=precision, **options)
    program = build_loop(solver.system, solver.spec(1, 1))
    layout = plan(program, policy=solver.policy, precision=precision)
    return compile_ptx(lower(program, layout, target="cuda", precision=precision))


def check(method: str) -> None:
    ptx = loop_ptx(method)
    assert not re.search(r"\bpow\b|_pow\b", ptx), f"{method}: the loop calls pow"
    report = ptxas(ptx)
    assert report["spill_stores"] == 0 and report["spill_loads"] == 0, (method, report)


@pytest.mark.parametrize("method", QUICK)
def test_explicit_loops_have_no_pow_and_no_spills(method: str) -> None:
    check(method)


@pytest.mark.slow
@pytest.mark.parametrize("method", [m for m in EXPLICIT if m not in QUICK])
def test_every_explicit_loop_has_no_pow_and_no_spills(method: str) -> None:
    check(method)
