"""SIMD lanes on the CPU: the generated lane-blocked kernel against the generated scalar
kernel and hand-written Numba kernels (BENCHMARKS.md, section 2).

Lorenz, float64, sigma = 10, beta = 8/3, rho = linspace(0, 21, N), u0 = (1, 0, 0),
t in [0, 1], only the final state kept:

* RK4, dt = 1e-3 (1000 steps): generated with lanes (`ct.Solver(..., lanes=None)`, the
  count chosen for the machine, or `--lanes`) and without (`lanes=1`), a hand scalar
  kernel (state and stages in scalars, `prange` over runs) and a hand lane kernel (the
  same step over blocks of runs held in lanes, `prange` over blocks);
* Tsitouras 5 at rtol = atol = 1e-8: generated with and without lanes, and a hand scalar
  kernel with the library's controller and initial step (`hand_lorenz.tsit5_run`).

For N in `--sizes` and Numba thread counts in `--threads`, each variant is timed
`--repeats` times, the variants alternating; the kernel call alone is timed
(`Solution.info["kernel_s"]` for ours, the `prange` kernel for the hand ones). Medians,
minima and maxima go to benchmarks/results/cpu_lanes.json with the machine and command.

    python benchmarks/cpu_lanes.py
    python benchmarks/cpu_lanes.py --sizes 4096 --threads 1 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
from hand_lorenz import rk4_lanes, rk4_step, tsit5_run
from machine import command_line, machine_info

HERE = Path(__file__).resolve().parent
SIGMA, BETA, DT, N_STEPS, TOL = 10.0, 8.0 / 3.0, 1e-3, 1000, 1e-8
HAND_LANES = 32


def hand_kernels() -> dict[str, Any]:
    """The hand-written `prange` kernels: RK4 in scalars and in lanes, Tsit5 in scalars."""
    from numba import njit, prange

    step = njit(inline="always", error_model="numpy")(rk4_step)
    lanes_step = njit(error_model="numpy")(rk4_lanes)
    tsit5 = njit(error_model="numpy")(tsit5_run)

    @njit(parallel=True, error_model="numpy")
    def rk4_scalar(y0: Any, p: Any, out: Any) -> None:
        for r in prange(y0.shape[0]):
            x, y, z = y0[r, 0], y0[r, 1], y0[r, 2]
            for _ in range(N_STEPS):
                x, y, z = step(x, y, z, p[r, 0], p[r, 1], p[r, 2], DT)
            out[r, 0], out[r, 1], out[r, 2] = x, y, z

    @njit(parallel=True, error_model="numpy")
    def rk4_blocks(y0: Any, p: Any, out: Any) -> None:
        n = y0.shape[0]
        for block in prange((n + HAND_LANES - 1) // HAND_LANES):
            first = block * HAND_LANES
            w = min(HAND_LANES, n - first)
            x, y, z = np.empty(w), np.empty(w), np.empty(w)
            s, r, b = np.empty(w), np.empty(w), np.empty(w)
            for lane in range(w):
                x[lane], y[lane], z[lane] = y0[first + lane, 0], y0[first + lane, 1], \
                    y0[first + lane, 2]
                s[lane], r[lane], b[lane] = p[first + lane, 0], p[first + lane, 1], \
                    p[first + lane, 2]
            lanes_step(x, y, z, s, r, b, DT, N_STEPS, w)
            for lane in range(w):
                out[first + lane, 0], out[first + lane, 1], out[first + lane, 2] = \
                    x[lane], y[lane], z[lane]

    @njit(parallel=True, error_model="numpy")
    def tsit5_scalar(y0: Any, p: Any, out: Any, steps: Any) -> None:
        for r in prange(y0.shape[0]):
            x, y, z, acc, rej = tsit5(y0[r, 0], y0[r, 1], y0[r, 2], p[r, 0], p[r, 1],
                                      p[r, 2], 0.0, 1.0, TOL, 100_000)
            out[r, 0], out[r, 1], out[r, 2] = x, y, z
            steps[r, 0], steps[r, 1] = acc, rej

    return {"rk4_scalar": rk4_scalar, "rk4_lanes": rk4_blocks, "tsit5_scalar": tsit5_scalar}


def spread(values: list[float]) -> dict[str, float]:
    return {"median_s": float(statistics.median(values)), "min_s": float(min(values)),
            "max_s": float(max(values)), "times_s": [float(v) for v in values]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[4096, 16384, 65536])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--lanes", type=int, default=None,
                        help="lanes of the generated kernel (default: the solver's choice "
                             "for a large batch)")
    parser.add_argument("--output", default=str(HERE / "results" / "cpu_lanes.json"))
    args = parser.parse_args()

    import numba

    import cubie_trace as ct
    from cubie_trace.systems.library import lorenz

    system = lorenz()
    # the count the solver chooses for a large batch, used at every size
    lanes = args.lanes or ct.Solver(system, "rk4", dt=DT, backend="cpu",
                                    save=None).lanes_for(1 << 20)
    solvers = {
        ("rk4", "lanes"): ct.Solver(system, "rk4", dt=DT, backend="cpu", save=None,
                                    lanes=lanes),
        ("tsit5", "lanes"): ct.Solver(system, "tsit5", rtol=TOL, atol=TOL, backend="cpu",
                                      save=None, lanes=lanes)}
    for method in ("rk4", "tsit5"):
        solvers[(method, "scalar")] = solvers[(method, "lanes")].replace(lanes=1)
    hand = hand_kernels()

    def ours(key: tuple[str, str], rhos: np.ndarray) -> tuple[float, Any]:
        sol = solvers[key].solve((0.0, 1.0), parameters={"rho": rhos}, progress=False)
        return float(sol.info["kernel_s"]), sol

    results: list[dict[str, Any]] = []
    for n in args.sizes:
        rhos = np.linspace(0.0, 21.0, n)
        y0 = np.zeros((n, 3))
        y0[:, 0] = 1.0
        p = np.column_stack([np.full(n, SIGMA), rhos, np.full(n, BETA)])
        outs = {name: np.empty((n, 3)) for name in hand}
        steps = np.empty((n, 2), dtype=np.int64)
        for key in solvers:  # compile (and warm) everything at this size
            ours(key, rhos)
        calls = {"rk4_scalar": (y0, p, outs["rk4_scalar"]),
                 "rk4_lanes": (y0, p, outs["rk4_lanes"]),
                 "tsit5_scalar": (y0, p, outs["tsit5_scalar"], steps)}
        for name, kernel in hand.items():
            kernel(*calls[name])
        for threads in args.threads:
            numba.set_num_threads(threads)
            times: dict[str, list[float]] = {}
            sols: dict[str, Any] = {}
            for _ in range(args.repeats):
                for key in solvers:
                    t, sols["_".join(key)] = ours(key, rhos)
                    times.setdefault("ours_" + "_".join(key), []).append(t)
                for name, kernel in hand.items():
                    started = time.perf_counter()
                    kernel(*calls[name])
                    times.setdefault("hand_" + name, []).append(time.perf_counter() - started)
            med = {k: statistics.median(v) for k, v in times.items()}
            entry: dict[str, Any] = {
                "n_runs": n, "threads": threads, "lanes": lanes,
                "timings": {k: spread(v) for k, v in times.items()},
                "speedup_over_hand_scalar": {
                    "rk4_ours_lanes": med["hand_rk4_scalar"] / med["ours_rk4_lanes"],
                    "rk4_ours_scalar": med["hand_rk4_scalar"] / med["ours_rk4_scalar"],
                    "rk4_hand_lanes": med["hand_rk4_scalar"] / med["hand_rk4_lanes"],
                    "tsit5_ours_lanes": med["hand_tsit5_scalar"] / med["ours_tsit5_lanes"],
                    "tsit5_ours_scalar": med["hand_tsit5_scalar"] / med["ours_tsit5_scalar"]},
                "lanes_vs_scalar_max_rel_diff": {
                    m: float(np.max(np.abs(sols[f"{m}_lanes"].y_final - sols[f"{m}_scalar"].y_final)
                                    / np.maximum(np.abs(sols[f"{m}_scalar"].y_final), 1e-300)))
                    for m in ("rk4", "tsit5")},
                "ours_vs_hand_max_abs_diff": {
                    "rk4": float(np.max(np.abs(sols["rk4_scalar"].y_final - outs["rk4_scalar"]))),
                    "rk4_hand_lanes_vs_hand_scalar": float(np.max(np.abs(
                        outs["rk4_lanes"] - outs["rk4_scalar"]))),
                    "tsit5": float(np.max(np.abs(sols["tsit5_scalar"].y_final
                                                 - outs["tsit5_scalar"])))},
                "tsit5_accepted_mean": {
                    "ours": float(np.mean(sols["tsit5_scalar"].stats["accepted"])),
                    "hand": float(np.mean(steps[:, 0]))},
                "all_ok": bool(all(np.all(s.ok) for s in sols.values())),
            }
            results.append(entry)
            s = entry["speedup_over_hand_scalar"]
            print(f"N={n:6d} threads={threads}  RK4: ours lanes {s['rk4_ours_lanes']:.2f}x, "
                  f"ours scalar {s['rk4_ours_scalar']:.2f}x, hand lanes "
                  f"{s['rk4_hand_lanes']:.2f}x;  Tsit5: ours lanes {s['tsit5_ours_lanes']:.2f}x,"
                  f" ours scalar {s['tsit5_ours_scalar']:.2f}x   (of the hand scalar kernel; "
                  f"lanes vs scalar {max(entry['lanes_vs_scalar_max_rel_diff'].values()):.1e})",
                  flush=True)
    report = {"benchmark": "cpu_lanes", "machine": machine_info(), "command": command_line(),
              "repeats": args.repeats, "hand_lanes": HAND_LANES,
              "targets": {"rk4_ours_lanes_over_hand_scalar": 4.0,
                          "tsit5_ours_lanes_over_hand_scalar": 2.0,
                          "lanes_vs_scalar_rel": 1e-12},
              "results": results}
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(report, indent=2))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
