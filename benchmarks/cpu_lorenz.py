"""CPU throughput on the Lorenz ensemble (BENCHMARKS.md, section 2).

Protocol of the GPU ODE benchmarks (the DiffEqGPU.jl paper's): sigma = 10,
beta = 8/3, rho = linspace(0, 21, N), u0 = (1, 0, 0), t in [0, 1], float64, only
the final state saved.

* Fixed step: classical RK4, dt = 1e-3 (1000 steps), `ct.Solver(lorenz, "rk4",
  dt=1e-3, backend="cpu")`, against hand-written `numba.njit(parallel=True)` RK4
  kernels specialised to Lorenz (one with per-run scratch arrays and the library's
  arithmetic, one with scalars only), which must agree with ours to 1e-10.
* Adaptive: tsit5 and dopri54 at rtol = atol = 1e-8, against
  `scipy.integrate.solve_ivp` (RK45, same tolerances) called once per trajectory on
  a subset of the runs.

Timings are medians of `--repeats` warm repeats, ours and the references alternating
in one process. Cold start is reported separately: trace + plan + codegen
(`Solver.compiled`), Numba compilation (first solve minus a warm solve), and whole
second Python processes that find the on-disk cache (a fresh CUBIE_TRACE_CACHE_DIR
shared with this process) next to processes that start from an empty one.

    python benchmarks/cpu_lorenz.py
    python benchmarks/cpu_lorenz.py --repeats 3 --n-fixed 4096 --n-adaptive 1024 --threads 2
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from hand_lorenz import B13, B16, HALF, rk4_step
from machine import command_line, machine_info

HERE = Path(__file__).resolve().parent
SIGMA, BETA = 10.0, 8.0 / 3.0
T_SPAN = (0.0, 1.0)
DT = 1e-3
N_STEPS = 1000
TOL = 1e-8
ADAPTIVE = ("tsit5", "dopri54")
CACHE_ENV = "CUBIE_TRACE_CACHE_DIR"


# ---------------------------------------------------------------- machine and command





def median(values: list[float]) -> float:
    return float(statistics.median(values))


# ---------------------------------------------------------------- hand-written reference


def reference_kernels() -> dict[str, Any]:
    """Hand-written `numba.njit(parallel=True)` RK4 over the batch, specialised to Lorenz.

    `arrays` mirrors what the library computes: per-run scratch arrays allocated inside
    the `prange` body (no sharing between threads), the same operations in the same
    order (stage input y + (c*dt)*k, the weighted sum accumulated from (b*dt)*k, the
    same rounded coefficients), so its final states should match ours bit for bit or
    nearly. `scalars` keeps the three states and stages in scalars (what a careful
    person writes by hand for n = 3): the practical ceiling.
    """
    from numba import njit, prange

    b16, b13, half = B16, B13, HALF

    @njit(inline="always", error_model="numpy")
    def lorenz_rhs(y, sigma, rho, beta, out):
        out[0] = sigma * (y[1] - y[0])
        out[1] = y[0] * (rho - y[2]) - y[1]
        out[2] = y[0] * y[1] - beta * y[2]

    @njit(parallel=True, error_model="numpy")
    def rk4_arrays(y0, p, dt, n_steps, out):
        for r in prange(y0.shape[0]):
            y = np.empty(3)
            k = np.empty(3)
            stage = np.empty(3)
            acc = np.empty(3)
            sigma, rho, beta = p[r, 0], p[r, 1], p[r, 2]
            for i in range(3):
                y[i] = y0[r, i]
            for _ in range(n_steps):
                lorenz_rhs(y, sigma, rho, beta, k)
                for i in range(3):
                    acc[i] = (b16 * dt) * k[i]
                    stage[i] = y[i] + (half * dt) * k[i]
                lorenz_rhs(stage, sigma, rho, beta, k)
                for i in range(3):
                    acc[i] = acc[i] + (b13 * dt) * k[i]
                    stage[i] = y[i] + (half * dt) * k[i]
                lorenz_rhs(stage, sigma, rho, beta, k)
                for i in range(3):
                    acc[i] = acc[i] + (b13 * dt) * k[i]
                    stage[i] = y[i] + dt * k[i]
                lorenz_rhs(stage, sigma, rho, beta, k)
                for i in range(3):
                    y[i] = y[i] + (acc[i] + (b16 * dt) * k[i])
            for i in range(3):
                out[r, i] = y[i]

    step = njit(inline="always", error_model="numpy")(rk4_step)

    @njit(parallel=True, error_model="numpy")
    def rk4_scalars(y0, p, dt, n_steps, out):
        for r in prange(y0.shape[0]):
            sigma, rho, beta = p[r, 0], p[r, 1], p[r, 2]
            x, y, z = y0[r, 0], y0[r, 1], y0[r, 2]
            for _ in range(n_steps):
                x, y, z = step(x, y, z, sigma, rho, beta, dt)
            out[r, 0] = x
            out[r, 1] = y
            out[r, 2] = z

    return {"arrays": rk4_arrays, "scalars": rk4_scalars}


# ---------------------------------------------------------------- scipy reference


def scipy_lorenz(t: float, u: Any, sigma: float, rho: float, beta: float) -> list[float]:
    x, y, z = u
    return [sigma * (y - x), x * (rho - z) - y, x * y - beta * z]


def tight_reference(rhos: np.ndarray) -> np.ndarray:
    """Final states from DOP853 at rtol = atol = 1e-13 (the accuracy yardstick)."""
    from scipy.integrate import solve_ivp

    return np.array([solve_ivp(scipy_lorenz, T_SPAN, [1.0, 0.0, 0.0], method="DOP853",
                               rtol=1e-13, atol=1e-13, args=(SIGMA, float(rho), BETA)).y[:, -1]
                     for rho in rhos])


def run_scipy(rhos: np.ndarray) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    from scipy.integrate import solve_ivp

    finals = np.empty((len(rhos), 3))
    steps = np.empty(len(rhos), dtype=np.int64)
    nfev = np.empty(len(rhos), dtype=np.int64)
    started = time.perf_counter()
    for i, rho in enumerate(rhos):
        sol = solve_ivp(scipy_lorenz, T_SPAN, [1.0, 0.0, 0.0], method="RK45", rtol=TOL,
                        atol=TOL, args=(SIGMA, float(rho), BETA))
        finals[i] = sol.y[:, -1]
        steps[i] = len(sol.t) - 1
        nfev[i] = sol.nfev
    return time.perf_counter() - started, finals, steps, nfev


# ---------------------------------------------------------------- ours


def make_solver(method: str, lanes: int | None = None) -> Any:
    import cubie_trace as ct
    from cubie_trace.systems.library import lorenz

    if method == "rk4":
        return ct.Solver(lorenz(), "rk4", dt=DT, backend="cpu", lanes=lanes)
    return ct.Solver(lorenz(), method, rtol=TOL, atol=TOL, backend="cpu", lanes=lanes)


def solve(solver: Any, rhos: np.ndarray) -> tuple[float, Any]:
    started = time.perf_counter()
    sol = solver.solve(T_SPAN, parameters={"rho": rhos}, progress=False)
    return time.perf_counter() - started, sol


def cold_start(method: str, rhos: np.ndarray) -> tuple[Any, dict[str, Any]]:
    """Build a solver in this process (empty cache) and time its first solves."""
    from cubie_trace.integrators.loop import build_loop
    from cubie_trace.layout import plan

    solver = make_solver(method)
    started = time.perf_counter()
    solver.compiled(1, n_runs=len(rhos))  # trace, plan, codegen and Numba's compilation
    compiled_s = time.perf_counter() - started
    # breakdown afterwards, repeating the trace and plan calls Solver.compiled makes
    started = time.perf_counter()
    program = build_loop(solver.system, solver.spec(1, 1))
    trace_s = time.perf_counter() - started
    started = time.perf_counter()
    plan(program, policy=solver.policy, precision=solver.precision, scratch_in_outputs=False)
    plan_s = time.perf_counter() - started
    first_s, _ = solve(solver, rhos)
    warm_s, sol = solve(solver, rhos)
    layout = solver.layout
    return solver, {
        "compile_s": compiled_s, "trace_s": trace_s, "plan_s": plan_s,
        "codegen_and_numba_s": compiled_s - trace_s - plan_s,
        "first_solve_s": first_s, "warm_solve_s": warm_s, "n_runs": len(rhos),
        "loop_layout": {"shared": layout.shared_elements, "local": layout.local_elements,
                        "persistent": layout.persistent_elements,
                        "lower_bound": sum(layout.lower_bound.values())},
        "all_ok": bool(np.all(sol.ok)),
        "module": solver.compiled(1, n_runs=len(rhos))[2].path,
    }


def child_main(method: str, n: int, lanes: int) -> None:
    """A second process: import, build, solve `n` runs with the first process's lane
    count (so that it needs the same generated module), report (one JSON line)."""
    started = time.perf_counter()
    import cubie_trace  # noqa: F401

    imported = time.perf_counter()
    import lowering  # noqa: F401  (imports numba)

    imported_numba = time.perf_counter()
    solver = make_solver(method, lanes)
    built = time.perf_counter()
    solver.compiled(1, n_runs=n)
    compiled = time.perf_counter()
    rhos = np.linspace(0.0, 21.0, n)
    first_s, _ = solve(solver, rhos)
    warm_s, sol = solve(solver, rhos)
    kernel = solver.compiled(1, n_runs=n)[2].kernel
    stats = getattr(kernel, "stats", None)
    print("CHILD_JSON " + json.dumps({
        "method": method, "n_runs": n, "import_s": imported - started,
        "import_lowering_numba_s": imported_numba - imported, "system_solver_s": built -
        imported_numba, "compile_or_load_s": compiled - built, "first_solve_s": first_s,
        "warm_solve_s": warm_s, "load_or_compile_s": first_s - warm_s,
        "in_process_total_s": time.perf_counter() - started,
        "kernel_cache_hits": sum(stats.cache_hits.values()) if stats else None,
        "kernel_cache_misses": sum(stats.cache_misses.values()) if stats else None,
        "all_ok": bool(np.all(sol.ok)), "module": solver.compiled(1, n_runs=n)[2].path,
    }))


def run_child(method: str, n: int, lanes: int, cache: str) -> dict[str, Any]:
    env = {**os.environ, CACHE_ENV: cache}
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", method,
                           "--child-n", str(n), "--child-lanes", str(lanes)],
                          capture_output=True, text=True, env=env, timeout=600)
    wall = time.perf_counter() - started
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("CHILD_JSON ")), None)
    if line is None:
        return {"method": method, "error": f"exit {proc.returncode}",
                "stderr_tail": proc.stderr[-2000:], "process_wall_s": wall}
    return {**json.loads(line[len("CHILD_JSON "):]), "process_wall_s": wall}


# ---------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-fixed", type=int, default=16384, help="runs for RK4 (16384)")
    parser.add_argument("--n-adaptive", type=int, default=4096,
                        help="runs for tsit5 / dopri54 (4096)")
    parser.add_argument("--repeats", type=int, default=5, help="warm repeats (5)")
    parser.add_argument("--scipy-runs", type=int, default=64,
                        help="trajectories solved by scipy per repeat (64)")
    parser.add_argument("--child-n", type=int, default=256,
                        help="runs solved by each second process (256)")
    parser.add_argument("--no-processes", action="store_true",
                        help="skip the second-process cold-start measurements")
    parser.add_argument("--keep-cache", action="store_true",
                        help="keep the temporary cache directories (removed by default)")
    parser.add_argument("--threads", type=int, default=1,
                        help="Numba threads (1; 0: Numba's default, all cores)")
    parser.add_argument("--output", default=str(HERE / "results" / "cpu_lorenz.json"))
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--child-lanes", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.threads:  # read when Numba is first imported, below
        os.environ["NUMBA_NUM_THREADS"] = str(args.threads)
    if args.child:
        child_main(args.child, args.child_n, args.child_lanes)
        return

    started_all = time.perf_counter()
    cache = tempfile.mkdtemp(prefix="cubie-trace-bench-cache-")
    os.environ[CACHE_ENV] = cache  # read on every load: this process and its children

    started = time.perf_counter()
    import cubie_trace  # noqa: F401
    import lowering  # noqa: F401  (imports numba: kept out of the trace+plan+codegen time)

    import_s = time.perf_counter() - started
    rhos_fixed = np.linspace(0.0, 21.0, args.n_fixed)
    rhos_adaptive = np.linspace(0.0, 21.0, args.n_adaptive)
    scipy_index = np.unique(np.linspace(0, args.n_adaptive - 1, args.scipy_runs).astype(int))
    rhos_scipy = rhos_adaptive[scipy_index]

    # ---- cold start in this process (empty cache), which also warms everything up
    solvers: dict[str, Any] = {}
    cold: dict[str, Any] = {}
    for method in ("rk4", *ADAPTIVE):
        rhos = rhos_fixed if method == "rk4" else rhos_adaptive
        solvers[method], cold[method] = cold_start(method, rhos)

    kernels = reference_kernels()
    p = np.empty((args.n_fixed, 3))
    p[:, 0], p[:, 1], p[:, 2] = SIGMA, rhos_fixed, BETA
    y0 = np.zeros((args.n_fixed, 3))
    y0[:, 0] = 1.0
    finals = {name: np.empty((args.n_fixed, 3)) for name in kernels}
    reference_compile = {}
    for name, kernel in kernels.items():
        started = time.perf_counter()
        kernel(y0, p, DT, N_STEPS, finals[name])
        first = time.perf_counter() - started
        started = time.perf_counter()
        kernel(y0, p, DT, N_STEPS, finals[name])
        reference_compile[name] = first - (time.perf_counter() - started)
    run_scipy(rhos_scipy[:2])  # warm scipy's imports

    # ---- fixed step: ours and the hand-written kernels, alternating
    times: dict[str, list[float]] = {"ours": [], "ours_run_s": [], "arrays": [], "scalars": []}
    last_ours = None
    for _ in range(args.repeats):
        t, last_ours = solve(solvers["rk4"], rhos_fixed)
        times["ours"].append(t)
        times["ours_run_s"].append(last_ours.info["run_s"])
        for name, kernel in kernels.items():
            started = time.perf_counter()
            kernel(y0, p, DT, N_STEPS, finals[name])
            times[name].append(time.perf_counter() - started)
    assert last_ours is not None
    ours_final = last_ours.y[:, -1, :]
    accepted_rk4 = int(last_ours.stats["accepted"].sum())
    diffs = {name: float(np.max(np.abs(ours_final - finals[name]))) for name in kernels}
    fixed = {
        "method": "rk4", "n_runs": args.n_fixed, "dt": DT, "steps_per_run": N_STEPS,
        "accepted_steps_total": accepted_rk4, "all_ok": bool(np.all(last_ours.ok)),
        "times_s": times,
        "median_s": {k: median(v) for k, v in times.items()},
    }
    med = fixed["median_s"]
    fixed["trajectories_per_s"] = {"ours": args.n_fixed / med["ours"],
                                   **{k: args.n_fixed / med[k] for k in kernels}}
    fixed["steps_per_s"] = {"ours": accepted_rk4 / med["ours"],
                            **{k: args.n_fixed * N_STEPS / med[k] for k in kernels}}
    fixed["ratio_ours_over_hand"] = {k: med[k] / med["ours"] for k in kernels}
    fixed["ratio_target"] = 0.85  # of the hand kernel keeping the state in scalars
    fixed["ratio_meets_target"] = fixed["ratio_ours_over_hand"]["scalars"] >= 0.85
    fixed["max_abs_diff_vs_hand"] = diffs
    fixed["correct_to_1e-10"] = all(d <= 1e-10 for d in diffs.values())
    fixed["reference_numba_compile_s"] = reference_compile

    # ---- adaptive: ours (tsit5, dopri54) and scipy per trajectory, alternating
    adaptive_times: dict[str, list[float]] = {m: [] for m in ADAPTIVE} | {"scipy": []}
    sols: dict[str, Any] = {}
    scipy_out: tuple[Any, ...] = ()
    for _ in range(args.repeats):
        for method in ADAPTIVE:
            t, sols[method] = solve(solvers[method], rhos_adaptive)
            adaptive_times[method].append(t)
        scipy_out = run_scipy(rhos_scipy)
        adaptive_times["scipy"].append(scipy_out[0])
    _, scipy_finals, scipy_steps, scipy_nfev = scipy_out
    exact = tight_reference(rhos_scipy)
    scipy_per_traj = median(adaptive_times["scipy"]) / len(rhos_scipy)
    adaptive: dict[str, Any] = {
        "rtol": TOL, "atol": TOL, "n_runs": args.n_adaptive, "scipy_runs": len(rhos_scipy),
        "times_s": adaptive_times, "methods": {},
        "scipy": {"method": "RK45", "per_trajectory_s": scipy_per_traj,
                  "trajectories_per_s": 1.0 / scipy_per_traj,
                  "steps_mean": float(scipy_steps.mean()),
                  "nfev_mean": float(scipy_nfev.mean()),
                  "steps_per_s": float(scipy_steps.sum()) / median(adaptive_times["scipy"]),
                  "max_abs_error_vs_dop853_1e-13": float(np.max(np.abs(scipy_finals - exact)))},
        "speedup_target": 300.0,
    }
    for method in ADAPTIVE:
        sol = sols[method]
        t = median(adaptive_times[method])
        acc = sol.stats["accepted"]
        per_traj = t / args.n_adaptive
        final = sol.y[:, -1, :]
        adaptive["methods"][method] = {
            "median_s": t, "per_trajectory_s": per_traj,
            "trajectories_per_s": args.n_adaptive / t,
            "accepted_total": int(acc.sum()), "accepted_mean": float(acc.mean()),
            "rejected_total": int(sol.stats["rejected"].sum()),
            "steps_per_s": float(acc.sum()) / t, "all_ok": bool(np.all(sol.ok)),
            "speedup_vs_scipy_per_trajectory": scipy_per_traj / per_traj,
            "accepted_mean_on_scipy_subset": float(acc[scipy_index].mean()),
            "max_abs_diff_vs_scipy": float(np.max(np.abs(final[scipy_index] - scipy_finals))),
            "max_abs_error_vs_dop853_1e-13": float(np.max(np.abs(final[scipy_index] - exact))),
            "max_rel_diff_vs_scipy": float(np.max(np.abs(final[scipy_index] - scipy_finals)
                                                  / np.maximum(np.abs(scipy_finals), 1.0))),
        }
    adaptive["tsit5_meets_target"] = \
        adaptive["methods"]["tsit5"]["speedup_vs_scipy_per_trajectory"] >= 300.0

    # ---- second processes: one hitting the cache this process filled, one starting cold
    processes: dict[str, Any] = {}
    temporary = [cache]
    if not args.no_processes:
        for method in ("rk4", *ADAPTIVE):
            lanes = solvers[method].lanes_for(args.n_fixed if method == "rk4"
                                              else args.n_adaptive)
            warm = run_child(method, args.child_n, lanes, cache)
            temporary.append(tempfile.mkdtemp(prefix="cubie-trace-bench-cold-"))
            fresh = run_child(method, args.child_n, lanes, temporary[-1])
            # the same generated module as this process's, or the library changed meanwhile
            warm["same_module_as_first_process"] = \
                Path(warm.get("module", "")).name == Path(cold[method]["module"]).name
            processes[method] = {"cached": warm, "empty_cache": fresh}
    if not args.keep_cache:
        for path in temporary:
            shutil.rmtree(path, ignore_errors=True)

    # ---- report
    print(f"\nLorenz ensemble, float64, t in {T_SPAN}, rho = linspace(0, 21, N); medians of "
          f"{args.repeats} warm repeats; {os.cpu_count()} CPUs, "
          f"{_numba_threads()} Numba threads\n")
    print(f"Fixed step RK4, dt = {DT}, N = {args.n_fixed}:")
    print(f"{'':<34}{'time s':>9}{'traj/s':>12}{'steps/s':>12}{'ours/this':>11}")
    print(f"{'ours (ct.Solver rk4, cpu)':<34}{med['ours']:>9.4f}"
          f"{fixed['trajectories_per_s']['ours']:>12.4g}{fixed['steps_per_s']['ours']:>12.4g}"
          f"{'1.00':>11}")
    labels = {"arrays": "hand-written njit, scratch arrays",
              "scalars": "hand-written njit, scalars"}
    for name in kernels:
        print(f"{labels[name]:<34}{med[name]:>9.4f}{fixed['trajectories_per_s'][name]:>12.4g}"
              f"{fixed['steps_per_s'][name]:>12.4g}"
              f"{fixed['ratio_ours_over_hand'][name]:>11.2f}")
    print(f"ours, lowered.run only (sol.info['run_s']): {med['ours_run_s']:.4f} s")
    verdict = "meets" if fixed["ratio_meets_target"] else "MISSES"
    print(f"ours / hand-written (scalars) = {fixed['ratio_ours_over_hand']['scalars']:.2f}x "
          f"({verdict} the >= 0.85x target); vs scratch arrays "
          f"{fixed['ratio_ours_over_hand']['arrays']:.2f}x")
    ok = "OK" if fixed["correct_to_1e-10"] else "FAILED"
    print("max |ours - hand-written| of the final states: "
          + ", ".join(f"{k} {v:.3g}" for k, v in diffs.items()) + f"  ({ok}, tolerance 1e-10)")

    print(f"\nAdaptive, rtol = atol = {TOL}, N = {args.n_adaptive} (scipy: {len(rhos_scipy)} "
          "trajectories, one solve_ivp call each):")
    print(f"{'':<24}{'time s':>9}{'per traj s':>12}{'traj/s':>11}{'steps/s':>11}"
          f"{'acc/run':>9}{'rej':>7}{'speed-up':>10}{'max|d| vs scipy':>17}{'error':>12}")
    for method, r in adaptive["methods"].items():
        print(f"{'ours ' + method:<24}{r['median_s']:>9.4f}{r['per_trajectory_s']:>12.3g}"
              f"{r['trajectories_per_s']:>11.4g}{r['steps_per_s']:>11.4g}"
              f"{r['accepted_mean']:>9.1f}{r['rejected_total']:>7}"
              f"{r['speedup_vs_scipy_per_trajectory']:>9.0f}x"
              f"{r['max_abs_diff_vs_scipy']:>17.3g}"
              f"{r['max_abs_error_vs_dop853_1e-13']:>12.3g}")
    s = adaptive["scipy"]
    print(f"{'scipy solve_ivp RK45':<24}{median(adaptive_times['scipy']):>9.4f}"
          f"{s['per_trajectory_s']:>12.3g}{s['trajectories_per_s']:>11.4g}"
          f"{s['steps_per_s']:>11.4g}{s['steps_mean']:>9.1f}{'-':>7}{'1':>10}{'-':>17}"
          f"{s['max_abs_error_vs_dop853_1e-13']:>12.3g}")
    print("(acc/run: accepted steps per run; rej: rejected steps, all runs; error: max "
          "|final - DOP853 at 1e-13| over the scipy subset)")
    verdict = "meets" if adaptive["tsit5_meets_target"] else "MISSES"
    print(f"tsit5 per-trajectory speed-up over scipy: "
          f"{adaptive['methods']['tsit5']['speedup_vs_scipy_per_trajectory']:.0f}x "
          f"({verdict} the >= 300x target)")

    print(f"\nCold start (this process, empty cache {cache}):")
    print(f"{'method':<9}{'N':>7}{'compile s':>11}{'(trace':>8}{'plan':>7}"
          f"{'codegen+Numba)':>16}{'first solve s':>15}{'warm solve s':>14}")
    for method, c in cold.items():
        print(f"{method:<9}{c['n_runs']:>7}{c['compile_s']:>11.3f}"
              f"{c['trace_s']:>8.3f}{c['plan_s']:>7.3f}{c['codegen_and_numba_s']:>16.3f}"
              f"{c['first_solve_s']:>15.3f}{c['warm_solve_s']:>14.3f}")
    print(f"(imports before these: cubie_trace + lowering/numba {import_s:.2f} s; trace and "
          "plan timed again afterwards, codegen and Numba = the rest of Solver.compiled)")
    print("hand-written kernels' own Numba compile: "
          + ", ".join(f"{k} {v:.2f} s" for k, v in reference_compile.items()))
    if processes:
        print(f"\nSecond Python process (import, build, solve {args.child_n} runs twice), "
              "with the cache above vs an empty one:")
        print(f"{'method':<9}{'cache':<8}{'process s':>10}{'imports s':>10}{'build s':>9}"
              f"{'first solve s':>15}{'load/compile s':>16}{'hits':>6}{'misses':>8}")
        for method, pair in processes.items():
            for label, key in (("hit", "cached"), ("empty", "empty_cache")):
                r = pair[key]
                if "error" in r:
                    print(f"{method:<9}{label:<8} failed: {r['error']}")
                    continue
                imports = r["import_s"] + r["import_lowering_numba_s"]
                build = r["system_solver_s"] + r["compile_or_load_s"]
                print(f"{method:<9}{label:<8}{r['process_wall_s']:>10.2f}{imports:>10.2f}"
                      f"{build:>9.2f}{r['first_solve_s']:>15.3f}"
                      f"{r['load_or_compile_s']:>16.3f}{str(r['kernel_cache_hits']):>6}"
                      f"{str(r['kernel_cache_misses']):>8}")
                if key == "cached" and not r.get("same_module_as_first_process", True):
                    print("         (generated a different module from the first process's: "
                          "the library changed during the run, so this is no cache hit)")

    total = time.perf_counter() - started_all
    result = {
        "benchmark": "cpu_lorenz", "section": "BENCHMARKS.md 2 (CPU throughput)",
        "command": command_line(), "cwd": os.getcwd(), "machine": machine_info(),
        "protocol": {"sigma": SIGMA, "beta": BETA, "rho": "linspace(0, 21, N)",
                     "u0": [1.0, 0.0, 0.0], "t_span": list(T_SPAN), "precision": "float64",
                     "saves": "final state only", "repeats": args.repeats,
                     "timing": "median of warm repeats, ours and references alternating; "
                               "ours timed around Solver.solve (batch building included)"},
        "fixed_step": fixed, "adaptive": adaptive,
        "cold_start": {"cache_dir": cache, "import_cubie_trace_lowering_numba_s": import_s,
                       "this_process": cold,
                       "second_processes": processes},
        "seconds": total,
    }
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"\nwrote {out} ({total:.1f} s)")
    if not fixed["correct_to_1e-10"]:
        sys.exit(1)


def _numba_threads() -> int:
    import numba

    return numba.get_num_threads()


if __name__ == "__main__":
    main()
