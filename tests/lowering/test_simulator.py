"""The CUDA code path in numba's simulator equals the interpreter: hand-written and random
programs, 1 to 4 threads per block, shared-memory layouts and instrumented runs. The
simulator must be on before numba is imported, so it runs in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.lowering import sim_script

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def simulated(module_cache: Path) -> dict[str, Any]:
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1", "CUBIE_TRACE_CACHE_DIR": str(module_cache)}
    proc = subprocess.run([sys.executable, "-m", "tests.lowering.sim_script"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-6000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_the_simulator_ran(simulated: dict[str, Any]) -> None:
    assert simulated["simulator"] and simulated["env"] == "1"
    assert sorted(simulated["results"]) == sorted(sim_script.LABELS)


@pytest.mark.parametrize("label", sim_script.LABELS)
def test_simulator_matches_interpreter(simulated: dict[str, Any], label: str) -> None:
    result = simulated["results"][label]
    assert result["ok"], result.get("error")


def test_simulator_cases_cover_shared_memory_threads_and_logs(
        simulated: dict[str, Any]) -> None:
    results = simulated["results"].values()
    shared = [r for r in results if r["shared_bytes"] > 0 and r["ok"]]
    assert shared, "no case put a buffer in shared memory"
    assert any(r["launch"]["threads_per_block"] > 1 for r in shared)
    assert any(r["launch"]["blocks"] > 1 for r in shared)
    assert {r["launch"]["threads_per_block"] for r in results if r["ok"]} == {1, 2, 3, 4}
    assert any(r["instrument"] and r["taps"] > 0 and r["ok"] for r in results)
