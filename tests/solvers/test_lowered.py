"""Solvers lowered for the CPU (one compile per method: n fixed, a batch of systems per
run) and in numba's CUDA simulator, against numpy.linalg.solve."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cubie_trace as ct
from lowering import Lowered, lower
from tests.solvers.systems import KIND, relative_error, solve_program, systems

ROOT = Path(__file__).resolve().parents[2]
N, RUNS = 5, 8
ACCURACY = {"float64": 1e-10, "float32": 1e-4}
TOL = {"float64": 1e-13, "float32": 1e-6}


@pytest.fixture(scope="module", autouse=True)
def module_cache(tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("solvers_cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CUBIE_TRACE_CACHE_DIR", str(path))
        yield path


def batch(method: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return (np.stack([KIND[method](rng, N) for _ in range(RUNS)]),
            rng.normal(size=(RUNS, N)))


@pytest.mark.parametrize("method,precision", [
    *((m, "float64") for m in ct.solvers.METHODS), ("bicgstab", "float32"),
    ("lu", "float32")])
def test_cpu_matches_numpy(method: str, precision: str) -> None:
    program = solve_program(method, N, tol=TOL[precision], max_iters=2000)
    layout = ct.plan(program, precision=precision)
    layout.verify()
    matrices, rhs = batch(method, seed=len(method))
    x, status, iterations, _ = lower(program, layout, target="cpu",
                                     precision=precision).run(matrices, rhs)
    assert np.all(status == ct.OK)
    for k in range(RUNS):
        assert relative_error(x[k], np.linalg.solve(matrices[k], rhs[k])) <= \
            ACCURACY[precision]
        want = ct.interpret(program, matrices[k], rhs[k], precision=precision)
        assert iterations[k] == want[2]


@functools.cache
def compiled(method: str, n: int) -> Lowered:
    program = solve_program(method, n, tol=1e-13, max_iters=2000)
    return lower(program, ct.plan(program), target="cpu")


@pytest.mark.parametrize("method", ct.solvers.METHODS)
@settings(max_examples=10)
@given(data=st.data())
def test_cpu_random_systems(method: str, data: st.DataObject) -> None:
    """n from a small set: each (method, n) compiles once."""
    a, b = data.draw(systems(method, sizes=(2, 7)))
    x, status, _, _ = compiled(method, len(b)).run(a[None], b[None])
    assert status[0] == ct.OK
    assert relative_error(x[0], np.linalg.solve(a, b)) <= 1e-10


def test_cpu_failure_is_reported_per_run() -> None:
    program = solve_program("bicgstab", N, tol=1e-12, max_iters=40)
    matrices, rhs = batch("bicgstab", seed=1)
    matrices[2] = 0.0  # breaks down at once; the other runs are unaffected
    x, status, _, _ = lower(program, ct.plan(program), target="cpu").run(matrices, rhs)
    assert status[2] == ct.Status.LINEAR_FAILED and np.all(np.isfinite(x[2]))
    assert np.all(np.delete(status, 2) == ct.OK)


def test_cuda_simulator_matches_numpy(module_cache: Path) -> None:
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1", "CUBIE_TRACE_CACHE_DIR": str(module_cache)}
    proc = subprocess.run([sys.executable, "-m", "tests.solvers.sim_script"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-4000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["simulator"] and len(result["cases"]) == 4
    for label, case in result["cases"].items():
        assert case["status"] == [0] * len(case["status"]), label
        assert case["error"] <= 1e-10, label
