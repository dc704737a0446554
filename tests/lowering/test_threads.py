"""Tracing, lowering and compiling from several threads at once: every thread's new
programs solve correctly and give exactly what a serial run gives."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import cubie_trace as ct

K = np.array([0.5, 1.0, 2.0])
DT, STEPS = 0.125, 4


def solve(c: float) -> np.ndarray:
    """Final states of dx/dt = -k x + c by explicit Euler: a new program for each c."""
    system = ct.ODESystem.from_equations([f"dx = -k*x + {c!r}"], states={"x": 1.0},
                                         parameters={"k": 1.0})
    sol = ct.solve_ivp(system, (0.0, DT * STEPS), method="euler", dt=DT, backend="cpu",
                       parameters={"k": K}, progress=False)
    assert np.all(sol.ok)
    return sol.y[:, -1, 0]


def euler(c: float) -> np.ndarray:
    """The same Euler recursion in closed form."""
    return c / K + (1.0 - c / K) * (1.0 - K * DT) ** STEPS


def solve_from_threads(n_threads: int, per_thread: int, offset: float) -> None:
    constants = [[offset + 0.001 * (t * per_thread + j) for j in range(per_thread)]
                 for t in range(n_threads)]
    start = threading.Barrier(n_threads)

    def work(cs: list[float]) -> list[np.ndarray]:
        start.wait()
        return [solve(c) for c in cs]

    with ThreadPoolExecutor(n_threads) as pool:
        threaded = list(pool.map(work, constants))  # re-raises any thread's error
    for cs, results in zip(constants, threaded):
        for c, got in zip(cs, results):
            np.testing.assert_allclose(got, euler(c), rtol=1e-13, atol=0)
            np.testing.assert_array_equal(got, solve(c))


def test_threads_solve_new_programs() -> None:
    solve_from_threads(4, 2, offset=0.25)


@pytest.mark.slow
def test_many_threads_solve_many_new_programs() -> None:
    solve_from_threads(8, 20, offset=0.5)


def test_traces_in_threads_do_not_mix() -> None:
    """Two threads tracing at once each see only their own builder stack."""
    inside, done = threading.Barrier(2, timeout=60), []

    def f(x: ct.Program) -> ct.Program:
        inside.wait()  # both traces are active now
        y = x * 2.0
        inside.wait()
        return y + 1.0

    def trace() -> None:
        done.append(ct.trace(f, ct.buffer(2)))

    threads = [threading.Thread(target=trace) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(done) == 2
    for prog in done:
        np.testing.assert_array_equal(ct.interpret(prog, np.array([1.0, 2.0])), [3.0, 5.0])
