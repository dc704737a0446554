"""The traced integration loop: layouts of every method's loop and step, loop logic
checked through `ct.interpret` (landing on save times, controllers, dt bounds,
status codes), and the CUDA code path under the simulator against the CPU.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from typing import Any

import numpy as np
import pytest

import cubie_trace as ct
from cubie_trace.core.step import get_method
from cubie_trace.integrators.controllers import KINDS, Controller
from cubie_trace.integrators.loop import LoopSpec, RunOptions, build_loop, loop_inputs
from cubie_trace.integrators.summaries import Summaries
from cubie_trace.layout.layout import POOLS
from cubie_trace.systems import library
from tests.integrators.problems import (
    EXACT_EQUATIONS,
    EXACT_P,
    LORENZ_SAVES,
    assert_relative,
    exact_solution,
    lorenz_reference,
)

# --- layouts (no compilation) ----------------------------------------------------------


def loop_spec(system: Any, method: str, n_saves: int = 3, **kwargs: Any) -> LoopSpec:
    step = get_method(method, system)
    controller = Controller("pi" if step.adaptive else "fixed")
    return LoopSpec(step, controller, n_saves, **kwargs)


@pytest.fixture(scope="module")
def observed() -> ct.ODESystem:
    """A system with a driver and observables."""
    return ct.ODESystem.from_equations(
        ["dx = v", "dv = -x + u"], states={"x": 1.0, "v": 0.0},
        drivers={"u": ([0.0, 0.5, 1.0, 2.0], [0.0, 1.0, -1.0, 0.5])},
        observables=["energy = (x**2 + v**2)/2"], name="observed")


@pytest.mark.parametrize("method", ct.methods())
def test_loop_layout_verifies(method: str, lorenz: ct.ODESystem,
                              observed: ct.ODESystem) -> None:
    """Every method's whole loop plans to a valid layout: plain on Lorenz, and with
    observables, a driver and every summary."""
    plain = build_loop(lorenz, loop_spec(lorenz, method))
    layout = ct.plan(plain)
    layout.verify()
    assert plain.meta["kind"] == "loop" and plain.input_names[:2] == ("y0", "p")
    summaries = Summaries(("mean", "max", "min", "rms", "std", "peaks"), 2, 5)
    full = build_loop(observed, loop_spec(observed, method, 5, summaries=summaries))
    assert full.input_names == ("y0", "p", "d", "t0", "ts", "rtol", "atol", "first_step",
                                "dt_min", "dt_max", "max_steps")
    for policy in ("local", "auto"):
        ct.plan(full, policy=policy).verify()


CUBIE_0_17 = {"rk4": 64, "dopri54": 112, "tsit5": 112, "euler": 0,  # float64, chain of 16
              "backwards_euler": 83, "backwards_euler_pc": 149, "crank_nicolson": 83,
              "l_stable_dirk_3": 181, "kvaerno5": 261}


@pytest.mark.parametrize("method", ct.methods())
def test_step_footprint_on_chain16(method: str) -> None:
    """The traced step needs no more per-thread elements than CuBIE 0.17.0 and meets
    the lower bound where every buffer has the same size."""
    n = 16
    chain = library.linear_chain(n)
    layout = ct.plan(ct.trace(method, system=chain))
    layout.verify()
    total = layout.total_elements
    if method in CUBIE_0_17:
        assert total <= CUBIE_0_17[method]
    if method == "rk4":
        assert total <= 2 * n < CUBIE_0_17["rk4"]
    if method == "euler":
        assert total == 0
    sizes = {p.size for p in layout.placements.values() if p.location in POOLS}
    if sizes <= {n}:
        assert total == sum(layout.lower_bound.values())


# --- loop logic through the interpreter ------------------------------------------------


@pytest.fixture(scope="module")
def decay() -> ct.ODESystem:
    return ct.ODESystem.from_equations(["dx = -k*x"], states={"x": 1.0},
                                       parameters={"k": 1.0}, name="decay")


def run_loop(system: Any, spec: LoopSpec, t0: float, ts: list[float],
             options: RunOptions | None = None, y0: Any = None) -> dict:
    program = build_loop(system, spec)
    start = system.initial_values if y0 is None else np.asarray(y0, float)
    return ct.interpret(program, *loop_inputs(system, start, system.default_parameters, t0,
                                              ts, options or RunOptions()))


def test_fixed_steps_land_on_save_times(decay: ct.ODESystem) -> None:
    """Euler with dt = 0.3 and saves at 0.5 and 1: steps 0.3, 0.2, 0.3, 0.2, so
    x = 0.7*0.8 at t = 0.5 and (0.7*0.8)**2 at t = 1 (by hand)."""
    spec = LoopSpec(get_method("euler"), Controller("fixed"), 2, save_mode="land")
    out = run_loop(decay, spec, 0.0, [0.5, 1.0], RunOptions(first_step=0.3))
    assert int(out["status"]) == int(ct.OK)
    assert int(out["accepted"]) == 4 and int(out["rejected"]) == 0
    np.testing.assert_allclose(out["y"][:, 0], [0.56, 0.56 ** 2], rtol=1e-14)


def test_exact_multiples_do_not_add_steps(decay: ct.ODESystem) -> None:
    """dt = 0.1 to t = 1 is ten steps, not eleven (rounding of t does not add a sliver)."""
    spec = LoopSpec(get_method("euler"), Controller("fixed"), 3, save_mode="land")
    out = run_loop(decay, spec, 0.0, [0.0, 0.5, 1.0], RunOptions(first_step=0.1))
    assert int(out["accepted"]) == 10
    np.testing.assert_allclose(out["y"][:, 0], [1.0, 0.9 ** 5, 0.9 ** 10], rtol=1e-13)


@pytest.mark.parametrize("precision", ["float32", "float64"])
@pytest.mark.parametrize(("dt", "t_end"), [(1e-3, 1.0), (2.5e-4, 10.0), (3e-3, 1.0)])
def test_fixed_step_counts_in_each_precision(decay: ct.ODESystem, precision: str,
                                             dt: float, t_end: float) -> None:
    """RK4 takes ceil(t_end / dt) steps in float32 as in float64: t is summed with
    compensation (plain float32 sums drift by ten steps over 40,000) and lands on the
    save times within the precision's roundoff. x = exp(-t) checks the steps taken."""
    sol = ct.solve_ivp(decay, (0.0, t_end), method="rk4", dt=dt, precision=precision,
                       save_every=t_end / 4, backend="cpu", progress=False)
    assert int(sol.stats["accepted"][0]) == int(np.ceil(t_end / dt - 1e-9))
    np.testing.assert_array_equal(sol.t_final, t_end)
    np.testing.assert_allclose(sol.t, np.linspace(0.0, t_end, 5), rtol=1e-7)
    tol = 1e-5 if precision == "float32" else 1e-10
    np.testing.assert_allclose(sol.y[0, :, 0], np.exp(-sol.t), rtol=tol)


def test_max_steps_only_when_unfinished(decay: ct.ODESystem) -> None:
    spec = LoopSpec(get_method("euler"), Controller("fixed"), 1)
    done = run_loop(decay, spec, 0.0, [1.0], RunOptions(first_step=0.25, max_steps=4))
    assert int(done["status"]) == int(ct.OK) and int(done["accepted"]) == 4
    np.testing.assert_allclose(done["y"][0, 0], 0.75 ** 4, rtol=1e-14)
    short = run_loop(decay, spec, 0.0, [1.0], RunOptions(first_step=0.2, max_steps=4))
    assert int(short["status"]) == int(ct.Status.MAX_STEPS) and int(short["accepted"]) == 4


@pytest.fixture(scope="module")
def exact_system() -> ct.ODESystem:
    return ct.ODESystem.from_equations(EXACT_EQUATIONS, states={"x": 1.0, "v": 0.0},
                                       parameters=dict(zip("abc", EXACT_P)), name="exact")


SAVES = [0.7, 2.5, 4.0]


def adaptive(system: Any, kind: str, tol: float, **limits: float) -> dict:
    step = get_method("bs32", system)
    spec = LoopSpec(step, Controller(kind), len(SAVES), save_mode="land")
    return run_loop(system, spec, 0.0, SAVES, RunOptions(rtol=tol, atol=tol, **limits))


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "fixed"])
def test_controllers_meet_tolerance(kind: str, exact_system: ct.ODESystem) -> None:
    """Each controller with an automatic first step reaches the exact solution to a
    small multiple of the tolerance, with a plausible number of steps."""
    out = adaptive(exact_system, kind, 1e-6)
    assert int(out["status"]) == int(ct.OK)
    error = np.abs(out["y"] - exact_solution(SAVES)).max()
    assert error < 1e-4, error
    accepted, rejected = int(out["accepted"]), int(out["rejected"])
    assert 10 <= accepted <= 400 and rejected <= accepted // 2


def test_tighter_tolerance_takes_more_steps(exact_system: ct.ODESystem) -> None:
    """bs32 (error order 2, so steps scale like tol^(1/3)): 1e-3 more steps for 1e-9
    means about 10 times more steps, and a far smaller error."""
    loose, tight = (adaptive(exact_system, "pi", tol) for tol in (1e-5, 1e-8))
    ratio = int(tight["accepted"]) / int(loose["accepted"])
    assert 5 < ratio < 20, ratio
    errors = [np.abs(o["y"] - exact_solution(SAVES)).max() for o in (loose, tight)]
    assert errors[1] < errors[0] / 100


def test_dt_max_bounds_the_step(exact_system: ct.ODESystem) -> None:
    out = adaptive(exact_system, "pi", 1e-4, dt_max=0.1)
    assert int(out["status"]) == int(ct.OK)
    assert int(out["accepted"]) >= SAVES[-1] / 0.1


def test_dt_min_underflow(exact_system: ct.ODESystem) -> None:
    """A step size below dt_min is needed at once: DT_UNDERFLOW within a few steps."""
    out = adaptive(exact_system, "pi", 1e-10, dt_min=0.5)
    assert int(out["status"]) == int(ct.Status.DT_UNDERFLOW)
    assert int(out["accepted"]) + int(out["rejected"]) <= 3


# --- the CUDA code path under the simulator -------------------------------------------

SIMULATED = textwrap.dedent("""
    import json
    import numpy as np
    import cubie_trace as ct
    from cubie_trace.systems import library

    lorenz = library.lorenz()
    rk4 = ct.solve_ivp(lorenz, (0.0, 0.01), parameters={"rho": [21.0, 28.0]},
                       method="rk4", dt=1e-3, backend="cuda", progress=False)
    tsit5 = ct.solve_ivp(lorenz, (0.0, 0.1), parameters={"rho": [21.0, 28.0]},
                         method="tsit5", rtol=1e-10, atol=1e-10, save_every=0.01,
                         backend="cuda", progress=False)
    print(json.dumps({name: {"y": sol.y.tolist(), "status": sol.status.tolist(),
                             "accepted": sol.stats["accepted"].tolist(),
                             "rejected": sol.stats["rejected"].tolist(),
                             "backend": sol.info["backend"]}
                      for name, sol in (("rk4", rk4), ("tsit5", tsit5))}))
""")


def test_cuda_simulator_matches_cpu(lorenz_rk4: ct.Solver, lorenz_tsit5: ct.Solver) -> None:
    """Two runs through the CUDA target in the simulator (a subprocess) agree with the
    CPU backend to 1e-12: fixed RK4 (10 steps) and adaptive tsit5 (same step counts)."""
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1"}
    done = subprocess.run([sys.executable, "-c", SIMULATED], env=env, capture_output=True,
                          text=True, timeout=600, cwd=os.path.dirname(os.path.dirname(
                              os.path.dirname(os.path.abspath(__file__)))))
    assert done.returncode == 0, done.stderr[-3000:]
    sim = json.loads(done.stdout.strip().splitlines()[-1])
    rho = {"rho": [21.0, 28.0]}
    cpu = {"rk4": lorenz_rk4.solve((0.0, 0.01), parameters=rho, progress=False),
           "tsit5": lorenz_tsit5.solve((0.0, 0.1), parameters=rho, save_every=0.01,
                                       progress=False)}
    assert cpu["tsit5"].y.shape[1] == LORENZ_SAVES
    for name, sol in cpu.items():
        got = sim[name]
        assert got["backend"] == "cuda" and got["status"] == [0, 0]
        np.testing.assert_array_equal(got["accepted"], sol.stats["accepted"])
        np.testing.assert_array_equal(got["rejected"], sol.stats["rejected"])
        np.testing.assert_allclose(np.array(got["y"]), sol.y, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(sim["rk4"]["accepted"], [10, 10])
    assert_relative(np.array(sim["rk4"]["y"]),
                    lorenz_reference(np.array([0.01]), [21.0, 28.0], t_span=(0.0, 0.01)), 1e-8)


@pytest.mark.gpu
def test_gpu_matches_reference(lorenz: ct.ODESystem) -> None:
    """On a real GPU: the Lorenz sweep, adaptive and fixed step, against scipy."""
    rho = np.linspace(0.0, 28.0, 64)
    sol = ct.solve_ivp(lorenz, (0.0, 1.0), parameters={"rho": rho}, method="tsit5",
                       rtol=1e-10, atol=1e-10, save_every=0.1, backend="cuda",
                       progress=False)
    assert sol.info["backend"] == "cuda" and np.all(sol.ok)
    assert_relative(sol.y, lorenz_reference(sol.t, rho), 1e-7)
    fixed = ct.solve_ivp(lorenz, (0.0, 1.0), parameters={"rho": rho}, method="rk4",
                         dt=1e-3, backend="cuda", progress=False)
    np.testing.assert_array_equal(fixed.stats["accepted"], 1000)
    assert_relative(fixed.y, lorenz_reference(fixed.t, rho), 1e-8)
