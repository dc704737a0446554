"""Stiff problems (BENCHMARKS.md, section 3), on one CPU thread.

Robertson (to t = 40, and to 1e5 saved on a log grid), Van der Pol mu = 1000 (to 2000),
HIRES, the Oregonator and Pollution (Test Set for IVP Solvers), each as a batch of runs
with one value perturbed by (1 + 0.1 linspace(-1, 1, N)). For every implicit method:
accepted and rejected steps, Newton and Krylov iterations per step (`sol.stats`), the
error against scipy's Radau at rtol = 1e-13 with the analytic Jacobian on a sample of
runs, time per trajectory (median, min and max of warm repeats) and cold compile time;
against scipy's Radau and BDF (analytic Jacobians, one `solve_ivp` call per trajectory)
and numbalsoda's LSODA called from a Numba loop over the whole batch, all in this run.

    python benchmarks/stiff.py
    python benchmarks/stiff.py --problems robertson hires --methods radau rodas5p
    python benchmarks/stiff.py --quick --methods tsit5 --problems robertson   # smoke run
"""

from __future__ import annotations

import os

os.environ.setdefault("NUMBA_NUM_THREADS", "1")  # before numba is imported

import argparse  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the shared numpy problems live under tests/

from machine import command_line, machine_info  # noqa: E402
from stiff_baselines import Lsoda, scipy_runs  # noqa: E402

from tests.integrators import stiff_references as refs  # noqa: E402

IMPLICIT = ("radau", "rodas5p", "rodas4", "rodas3p", "kvaerno5", "l_stable_sdirk_4",
            "backwards_euler")


@dataclass(frozen=True)
class Case:
    """A benchmark problem: the library model, its numpy twin in `stiff_references`,
    the span, the perturbed value ("name" of a parameter or "y0:name" of a state), the
    tolerances and the save times (the end, or a log grid)."""

    problem: str
    model: Callable[[], Any]
    t_end: float
    perturbed: str
    rtol: float
    atol: float
    log_saves: int = 0

    def save_at(self) -> np.ndarray:
        if self.log_saves:
            return np.logspace(-5, np.log10(self.t_end), self.log_saves)
        return np.array([self.t_end])


def _cases() -> dict[str, Case]:
    from cubie_trace.systems import library

    return {
        "robertson": Case("robertson", library.robertson, 40.0, "k1", 1e-6, 1e-10),
        "robertson_long": Case("robertson", library.robertson, 1e5, "k1", 1e-6, 1e-10,
                               log_saves=41),
        "van_der_pol": Case("van_der_pol", lambda: library.van_der_pol(1000.0), 2000.0,
                            "mu", 1e-6, 1e-6),
        "hires": Case("hires", library.hires, refs.HIRES_T_END, "y0:y8", 1e-6, 1e-10),
        "oregonator": Case("oregonator", library.oregonator, refs.OREGONATOR_T_END, "w",
                           1e-6, 1e-8),
        "pollution": Case("pollution", library.pollution, refs.POLLUTION_T_END, "k1",
                          1e-6, 1e-10),
    }


def spread(values: list[float]) -> dict[str, float]:
    return {"median": float(np.median(values)), "min": float(np.min(values)),
            "max": float(np.max(values))}


def batch_inputs(case: Case, system: Any, n: int) -> dict[str, Any]:
    """The solve's y0/parameters keyword arguments with the perturbed value swept."""
    factor = 1.0 + 0.1 * np.linspace(-1.0, 1.0, n)
    if case.perturbed.startswith("y0:"):
        name = case.perturbed[3:]
        start = float(system.initial_values[list(system.state_names).index(name)])
        return {"y0": {name: start * factor}}
    default = float(system.default_parameters[list(system.parameter_names)
                                              .index(case.perturbed)])
    return {"parameters": {case.perturbed: default * factor}}


def errors(y: np.ndarray, reference: np.ndarray, case: Case) -> dict[str, float]:
    """Largest absolute error and largest error in units of the tolerance
    (|y - ref| / (atol + rtol |ref|)) over the runs, saves and states given."""
    diff = np.abs(y - reference)
    return {"max_abs": float(np.nanmax(diff)),
            "max_scaled": float(np.nanmax(diff / (case.atol + case.rtol * np.abs(reference))))}


def run_ours(case: Case, method: str, n: int, repeats: int, sample: np.ndarray,
             references: np.ndarray) -> dict[str, Any]:
    """Build, compile cold (fresh cache), solve `repeats` warm times; stats and errors."""
    import cubie_trace as ct

    system = case.model()
    inputs = batch_inputs(case, system, n)
    times = case.save_at()
    started = time.perf_counter()
    solver = ct.Solver(system, method, rtol=case.rtol, atol=case.atol, backend="cpu",
                       max_steps=1_000_000)
    solver.compiled(len(times))
    build_s = time.perf_counter() - started
    first = solver.solve((0.0, case.t_end), save_at=times, progress=False, **inputs)
    runs_s, sol = [], first
    for _ in range(repeats):
        sol = solver.solve((0.0, case.t_end), save_at=times, progress=False, **inputs)
        runs_s.append(sol.info["run_s"])
    stats = sol.stats
    steps = stats["accepted"] + stats["rejected"]
    ok = sol.ok[sample]  # failed runs' states are wherever they stopped
    per_step = {name: float(stats[name].sum() / max(steps.sum(), 1))
                for name in ("newton_iterations", "krylov_iterations") if name in stats}
    return {
        "method": method, "n_runs": n, "ok_fraction": float(np.mean(sol.ok)),
        "accepted_mean": float(stats["accepted"].mean()),
        "rejected_mean": float(stats["rejected"].mean()),
        "accepted_max": int(stats["accepted"].max()),
        **{f"{name}_per_step": v for name, v in per_step.items()},
        "error_vs_radau_1e-13": errors(sol.y[sample][ok], references[ok], case)
        if ok.any() else None,
        "reference_runs_ok": int(ok.sum()),
        "kernel_s": spread(runs_s),
        "per_trajectory_s": spread([t / n for t in runs_s]),
        "build_s": build_s,  # trace, plan, codegen and Numba's compilation (cold cache)
    }


def reference_solutions(case: Case, y0: np.ndarray, parameters: np.ndarray) -> np.ndarray:
    times = case.save_at()
    grid = tuple(times) if case.log_saves else None
    return np.stack([refs.radau(case.problem, case.t_end, parameters=p, y0=y,
                                times=grid).reshape(len(times), -1)
                     for y, p in zip(y0, parameters)])


def run_case(name: str, case: Case, methods: list[str], args: argparse.Namespace,
             lsoda: Lsoda) -> dict[str, Any]:
    from cubie_trace.batch import build_batch

    system = case.model()
    inputs = batch_inputs(case, system, args.runs)
    batch = build_batch(system, inputs.get("y0"), inputs.get("parameters"))
    sample = np.unique(np.linspace(0, args.runs - 1, args.reference_runs).astype(int))
    started = time.perf_counter()
    references = reference_solutions(case, batch.y0[sample], batch.parameters[sample])
    result: dict[str, Any] = {
        "problem": case.problem, "t_end": case.t_end, "perturbed": case.perturbed,
        "perturbation": "(1 + 0.1 linspace(-1, 1, N))", "rtol": case.rtol, "atol": case.atol,
        "saves": len(case.save_at()), "reference_runs": sample.tolist(),
        "reference_s": time.perf_counter() - started, "methods": {}, "baselines": {}}
    for method in methods:
        print(f"  {name}: {method}", flush=True)
        result["methods"][method] = run_ours(case, method, args.runs, args.repeats, sample,
                                             references)
    times = case.save_at()
    for scipy_method in ("Radau", "BDF"):
        runs = [scipy_runs(case.problem, scipy_method, batch.y0[sample],
                           batch.parameters[sample], times, case.rtol, case.atol)
                for _ in range(args.repeats)]
        result["baselines"][f"scipy_{scipy_method}"] = {
            "n_runs": len(sample), "per_trajectory_s": spread([r["seconds"] / len(sample)
                                                               for r in runs]),
            "nfev_mean": float(np.mean(runs[-1]["nfev"])),
            "njev_mean": float(np.mean(runs[-1]["njev"])),
            "nlu_mean": float(np.mean(runs[-1]["nlu"])),
            "ok_fraction": float(np.mean(runs[-1]["success"])),
            "error_vs_radau_1e-13": errors(runs[-1]["y"], references, case)}
    if lsoda.unavailable is None:
        compile_run = lsoda.run(case.problem, batch.y0, batch.parameters, times, case.rtol,
                                case.atol)
        runs = [lsoda.run(case.problem, batch.y0, batch.parameters, times, case.rtol,
                          case.atol) for _ in range(args.repeats)]
        result["baselines"]["numbalsoda_lsoda"] = {
            "n_runs": args.runs, "per_trajectory_s": spread([r["seconds"] / args.runs
                                                             for r in runs]),
            "first_call_s": compile_run["seconds"], "ok_fraction": float(runs[-1]["ok"].mean()),
            "rhs_matches_numpy": runs[-1]["rhs_matches_numpy"],
            "error_vs_radau_1e-13": errors(runs[-1]["y"][sample], references, case)}
    return result


def error(result: dict[str, Any]) -> str:
    scaled = result["error_vs_radau_1e-13"]
    return "-" if scaled is None else f"{scaled['max_scaled']:.3g}"


def print_table(name: str, result: dict[str, Any]) -> None:
    print(f"\n{name} (t_end = {result['t_end']:g}, {result['perturbed']} perturbed, rtol = "
          f"{result['rtol']:g}, atol = {result['atol']:g})")
    print(f"{'':<20}{'runs':>6}{'ok':>6}{'acc/run':>9}{'rej/run':>9}{'newton/st':>10}"
          f"{'krylov/st':>10}{'err/tol':>10}{'per traj s':>12}{'compile s':>11}")
    for method, r in result["methods"].items():
        print(f"{method:<20}{r['n_runs']:>6}{r['ok_fraction']:>6.2f}{r['accepted_mean']:>9.1f}"
              f"{r['rejected_mean']:>9.1f}{r.get('newton_iterations_per_step', 0):>10.2f}"
              f"{r.get('krylov_iterations_per_step', 0):>10.2f}"
              f"{error(r):>10}{r['per_trajectory_s']['median']:>12.3g}"
              f"{r['cold_compile_s']:>11.2f}")
    for label, r in result["baselines"].items():
        print(f"{label:<20}{r['n_runs']:>6}{r['ok_fraction']:>6.2f}{'':>38}{error(r):>10}"
              f"{r['per_trajectory_s']['median']:>12.3g}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--problems", nargs="+", default=None,
                        help="robertson robertson_long van_der_pol hires oregonator pollution")
    parser.add_argument("--methods", nargs="+", default=None,
                        help=f"default: those of {' '.join(IMPLICIT)} in ct.methods()")
    parser.add_argument("--runs", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--reference-runs", type=int, default=8,
                        help="runs (spread over the batch) checked against the reference "
                             "and solved by scipy")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 16 runs, 1 repeat, 2 reference runs")
    parser.add_argument("--output", default=str(HERE / "results" / "stiff.json"))
    args = parser.parse_args()
    if args.quick:
        args.runs, args.repeats, args.reference_runs = 16, 1, 2
    started_all = time.perf_counter()
    cache = tempfile.mkdtemp(prefix="cubie-trace-stiff-")
    os.environ["CUBIE_TRACE_CACHE_DIR"] = cache  # every compile below is cold

    import cubie_trace as ct

    cases = _cases()
    chosen = args.problems or list(cases)
    unknown = [p for p in chosen if p not in cases]
    if unknown:
        parser.error(f"unknown problems {unknown}; known: {list(cases)}")
    available = ct.methods()
    wanted = args.methods or list(IMPLICIT)
    methods = [m for m in wanted if m in available]
    missing = [m for m in wanted if m not in available]
    for m in missing:
        print(f"note: method {m!r} is not in ct.methods(); skipped")
    lsoda = Lsoda()
    if lsoda.unavailable:
        print(f"note: LSODA baseline skipped: {lsoda.unavailable}")
    diffrax = "skipped: optional, not part of this run (jax/diffrax not used)"

    results = {}
    for name in chosen:
        results[name] = run_case(name, cases[name], methods, args, lsoda)
        print_table(name, results[name])
    shutil.rmtree(cache, ignore_errors=True)
    total = time.perf_counter() - started_all
    out = {
        "benchmark": "stiff", "section": "BENCHMARKS.md 3 (stiff problems)",
        "command": command_line(), "cwd": os.getcwd(), "machine": machine_info(),
        "load_average": os.getloadavg(), "numba_threads": int(os.environ["NUMBA_NUM_THREADS"]),
        "protocol": {
            "runs": args.runs, "repeats": args.repeats, "reference_runs": args.reference_runs,
            "reference": f"scipy Radau, rtol = {refs.REF_RTOL}, analytic Jacobian, per "
                         "problem atol (tests/integrators/stiff_references.py)",
            "timing": "ours: sol.info['run_s'] of warm solves over the batch / runs; cold "
                      "compile = first solve's run_s - median warm run_s (fresh cache); "
                      "scipy: one solve_ivp per trajectory on the reference runs; LSODA: "
                      "one njit loop over the batch (first call compiles, not timed)",
            "error": "max |y - ref| / (atol + rtol |ref|) over the reference runs, saves "
                     "and states (max_scaled), and max |y - ref| (max_abs)"},
        "methods": methods, "methods_missing": missing,
        "lsoda": lsoda.unavailable or f"numbalsoda {lsoda.version}",
        "diffrax_kvaerno5": diffrax, "cases": results, "seconds": total,
    }
    path = Path(args.output)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2, default=str) + "\n")
    print(f"\nwrote {path} ({total:.1f} s)")


if __name__ == "__main__":
    main()
