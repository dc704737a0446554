"""Linear solvers on the CPU: iterations and time per solve for n = 3, 16, 64, next to
numpy.linalg.solve and scipy.sparse.linalg.bicgstab on the same systems.

Each method is traced as `(M, b) -> x` with the operator a traced mat-vec (the matrix
itself for "lu"), lowered for the CPU (float64) and run on a batch of random systems
(SPD for minimal residual and steepest descent, nonsymmetric diagonally dominant for
the others; relative tolerance 1e-10). Time per solve is the batch kernel's time over the
number of systems, on one Numba thread by default, repeated; numpy and scipy solve the
same systems one by one from Python (numpy also as one batched call).

    python benchmarks/solvers.py [--runs 256] [--repeats 5] [--sizes 3 16 64] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

import numba
import numpy as np
import scipy.sparse.linalg
from machine import command_line, machine_info

import cubie_trace as ct
from lowering import lower

HERE = Path(__file__).resolve().parent
TOL = 1e-10
MAX_DENSE_LU = 16  # dense LU unrolls O(n^3) scalar operations: compile time grows fast


def systems(method: str, n: int, runs: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    if method in ("minimal_residual", "steepest_descent"):
        q = np.linalg.qr(rng.normal(size=(runs, n, n)))[0]
        a = np.einsum("rij,rj,rkj->rik", q, rng.uniform(1.0, 10.0, (runs, n)), q)
    else:
        a = rng.normal(size=(runs, n, n))
        a += np.einsum("ri,ij->rij", np.abs(a).sum(axis=2) + 1.0, np.eye(n))
    return a, rng.normal(size=(runs, n))


def spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def timed(fn: Any, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        out.append(time.perf_counter() - started)
    return out


def measure_ours(method: str, n: int, a: np.ndarray, b: np.ndarray,
                 repeats: int) -> dict[str, Any]:
    def solve(m: Any, rhs: Any) -> Any:
        op = m if method == "lu" else (lambda v: ct.solvers.matvec(m, v))
        x, info = ct.solvers.linear_solve(op, rhs, method=method, tol=TOL, max_iters=5000)
        return x, info.status, info.iterations

    program = ct.trace(solve, ct.buffer(n, rows=n), ct.buffer(n))
    layout = ct.plan(program)
    started = time.perf_counter()
    low = lower(program, layout, target="cpu")
    x, status, iterations = low.run(a, b)  # compiles
    compile_s = time.perf_counter() - started
    runs = len(b)
    kernel = []
    for _ in range(repeats):  # the kernel's own time, without marshalling the batch
        low.run(a, b)
        kernel.append(low.timings["kernel_s"] / runs)
    per_solve = kernel
    error = max(np.linalg.norm(x[k] - np.linalg.solve(a[k], b[k])) /
                np.linalg.norm(np.linalg.solve(a[k], b[k])) for k in range(runs))
    return {"method": method, "n": n, "iterations": spread([float(i) for i in iterations]),
            "converged": int(np.sum(status == 0)), "runs": runs,
            "seconds_per_solve": spread(per_solve), "first_call_s": compile_s,
            "max_relative_error": float(error), "elements": layout.total_elements}


def measure_numpy(n: int, a: np.ndarray, b: np.ndarray, repeats: int) -> list[dict[str, Any]]:
    runs = len(b)
    one_by_one = [s / runs for s in timed(
        lambda: [np.linalg.solve(a[k], b[k]) for k in range(runs)], repeats)]
    batched = [s / runs for s in timed(lambda: np.linalg.solve(a, b[..., None]), repeats)]
    return [{"method": "numpy.linalg.solve", "n": n, "seconds_per_solve": spread(one_by_one)},
            {"method": "numpy.linalg.solve (batched)", "n": n,
             "seconds_per_solve": spread(batched)}]


def measure_scipy(n: int, a: np.ndarray, b: np.ndarray, repeats: int) -> dict[str, Any]:
    runs = len(b)
    counts: list[float] = []

    def run(record: bool) -> None:
        for k in range(runs):
            calls: list[int] = []
            _, info = scipy.sparse.linalg.bicgstab(a[k], b[k], rtol=TOL, atol=0.0,
                                                   maxiter=5000, callback=calls.append)
            if record:
                counts.append(float(len(calls)) if info == 0 else float("nan"))

    run(True)
    per_solve = [s / runs for s in timed(lambda: run(False), repeats)]
    return {"method": "scipy.sparse.linalg.bicgstab", "n": n,
            "iterations": spread(counts), "seconds_per_solve": spread(per_solve)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=256, help="systems per batch")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sizes", type=int, nargs="+", default=[3, 16, 64])
    parser.add_argument("--threads", type=int, default=1,
                        help="Numba threads for the batch (default 1: time per solve on one "
                             "core, like numpy and scipy here)")
    parser.add_argument("--output", default=str(HERE / "results" / "solvers.json"))
    args = parser.parse_args()
    numba.set_num_threads(args.threads)
    rows: list[dict[str, Any]] = []
    skipped = []
    for n in args.sizes:
        for method in ct.solvers.METHODS:
            if method == "lu" and n > MAX_DENSE_LU:
                skipped.append({"method": method, "n": n, "reason": "dense LU above n = "
                                f"{MAX_DENSE_LU} (O(n^3) unrolled scalar operations)"})
                continue
            a, b = systems(method, n, args.runs, seed=n)
            rows.append(measure_ours(method, n, a, b, args.repeats))
            print(f"measured {method} n={n}", flush=True)
        a, b = systems("bicgstab", n, args.runs, seed=n)
        rows.extend(measure_numpy(n, a, b, args.repeats))
        rows.append(measure_scipy(n, a, b, args.repeats))
    header = f"{'n':>4} {'method':<31}{'iters (med/min/max)':>22}{'us/solve (med)':>16}" \
             f"{'min':>9}{'max':>9}{'elements':>9}"
    print("\n" + header + "\n" + "-" * len(header))
    for r in rows:
        it = r.get("iterations")
        iters = f"{it['median']:.0f}/{it['min']:.0f}/{it['max']:.0f}" if it else "-"
        t = r["seconds_per_solve"]
        print(f"{r['n']:>4} {r['method']:<31}{iters:>22}{t['median'] * 1e6:>16.2f}"
              f"{t['min'] * 1e6:>9.2f}{t['max'] * 1e6:>9.2f}{r.get('elements', '-'):>9}")
    for s in skipped:
        print(f"skipped {s['method']} n={s['n']}: {s['reason']}")
    info = machine_info()
    result = {"benchmark": "solvers", "command": command_line(), "commit": info["git_commit"],
              "machine": info, "load_average": list(os.getloadavg()), "precision": "float64",
              "tolerance": TOL, "runs": args.runs,
              "repeats": args.repeats, "threads": args.threads, "rows": rows, "skipped": skipped}
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
