"""Compiled programs are released: a Solver's generated module leaves sys.modules with the
Solver, and the module object itself is freed when Numba's machine code came from its
cache. (In the process that compiles it, Numba's dispatchers keep what they compiled
alive: their finalizer holds the compile results, which refer to the function's module.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from lowering.cache import ENV_VAR

ROOT = Path(__file__).resolve().parents[2]


def release_script(cache: Path) -> dict[str, Any]:
    env = {**os.environ, ENV_VAR: str(cache)}
    env.pop("NUMBA_ENABLE_CUDASIM", None)
    proc = subprocess.run([sys.executable, "-m", "tests.lowering.release_script"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-6000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def euler(k: float, c: float = 0.125, dt: float = 0.125, steps: int = 4) -> float:
    """Explicit Euler on dx/dt = -k x + c from x = 1, in closed form."""
    return c / k + (1.0 - c / k) * (1.0 - k * dt) ** steps


def test_a_dropped_solver_releases_its_module(tmp_path: Path) -> None:
    compiling = release_script(tmp_path)
    assert compiling["misses"] == 1 and not compiling["registered"]
    cached = release_script(tmp_path)
    assert cached["hits"] == 1 and cached["misses"] == 0
    assert not cached["registered"] and not cached["alive"]
    for run in (compiling, cached):
        assert abs(run["final"][0] - euler(1.0)) < 1e-14
        assert abs(run["final"][1] - euler(2.0)) < 1e-14
