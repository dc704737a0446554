"""Shared fixtures for the integrator tests: test systems and session-wide compiled
solvers.

Compiling a loop costs seconds, so solvers live for the whole session and each
is only ever used with one number of save times (`LORENZ_SAVES` for the
adaptive Lorenz solvers, one save for fixed RK4, `VDP_SAVES` for Van der Pol).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

import cubie_trace as ct
from cubie_trace.systems import library
from tests.integrators.problems import (
    SOLVE_TOL,
    SUMMARIES,
    VDP_EVERY,
    VDP_SAVES,
    VDP_SPAN,
    VDP_WINDOW,
    VDP_Y0,
    reference,
    vdp_rhs,
)

# --- session set-up ------------------------------------------------------------------

@pytest.fixture(scope="session", autouse=True)
def module_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Generated modules go to a session directory unless CUBIE_TRACE_CACHE_DIR is set."""
    if os.environ.get("CUBIE_TRACE_CACHE_DIR"):
        yield
        return
    os.environ["CUBIE_TRACE_CACHE_DIR"] = str(tmp_path_factory.mktemp("cubie_trace_cache"))
    try:
        yield
    finally:
        os.environ.pop("CUBIE_TRACE_CACHE_DIR", None)


@pytest.fixture(scope="session")
def lorenz() -> ct.ODESystem:
    return library.lorenz()


@pytest.fixture(scope="session")
def van_der_pol() -> ct.ODESystem:
    return library.van_der_pol(1.0)


@pytest.fixture(scope="session")
def lorenz_solver(lorenz: ct.ODESystem) -> Callable[[str], ct.Solver]:
    """Adaptive Lorenz solvers at rtol = atol = 1e-10, one per method (LORENZ_SAVES saves)."""
    return _solvers(lorenz)


@pytest.fixture(scope="session")
def lorenz_tsit5(lorenz_solver: Callable[[str], ct.Solver]) -> ct.Solver:
    return lorenz_solver("tsit5")


@pytest.fixture(scope="session")
def lorenz_rk4(lorenz: ct.ODESystem) -> ct.Solver:
    """Fixed-step RK4 at dt = 1e-3, only ever used with one save (t_end)."""
    return ct.Solver(lorenz, "rk4", dt=1e-3, backend="cpu")


@pytest.fixture(scope="session")
def vdp_solver(van_der_pol: ct.ODESystem) -> Callable[[str], ct.Solver]:
    """Adaptive Van der Pol solvers at 1e-10 with every summary (VDP_SAVES saves)."""
    return _solvers(van_der_pol, summaries=SUMMARIES, summarise_every=VDP_WINDOW * VDP_EVERY)


def _solvers(system: ct.ODESystem, **options: Any) -> Callable[[str], ct.Solver]:
    """CPU solvers for `system` at rtol = atol = SOLVE_TOL, built once per method."""
    solvers: dict[str, ct.Solver] = {}

    def get(method: str) -> ct.Solver:
        if method not in solvers:
            solvers[method] = ct.Solver(system, method, rtol=SOLVE_TOL, atol=SOLVE_TOL,
                                        backend="cpu", **options)
        return solvers[method]

    return get


@pytest.fixture(scope="session")
def vdp_tsit5_solution(vdp_solver: Callable[[str], ct.Solver]) -> ct.Solution:
    """Three Van der Pol runs (y0 per run) with tsit5, saved every 0.5 on (0, 50)."""
    return vdp_solver("tsit5").solve(VDP_SPAN, y0=VDP_Y0, save_every=VDP_EVERY,
                                     progress=False)


@pytest.fixture(scope="session")
def vdp_reference() -> np.ndarray:
    times = VDP_SPAN[0] + VDP_EVERY * np.arange(VDP_SAVES)
    return np.stack([reference(vdp_rhs, VDP_SPAN, y0, times, (1.0,)) for y0 in VDP_Y0])
