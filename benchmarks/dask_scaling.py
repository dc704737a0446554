"""Throughput on a Dask `LocalCluster` against the local solve, Lorenz ensemble.

Lorenz (sigma = 10, beta = 8/3, rho = linspace(0, 21, N), u0 = (1, 0, 0)), t in [0, 1],
tsit5 at rtol = atol = 1e-8, float64, saved every 0.1, on the CPU:

* `local`: `solver.solve(...)` in this process (Numba's threads on every core);
* `workers=1`, `workers=2`: `solver.solve(..., client=client).compute()` on a
  `LocalCluster(n_workers=w, threads_per_worker=1, processes=True)`, default chunks
  (each chunk runs on one thread: a worker thread is one core), result gathered here;
  the ratio is local seconds over cluster seconds, the 2-worker result is compared with
  the local one bit for bit and each worker's compiles are counted;
* overhead per chunk: chunks of one run each on the cluster, in worker-seconds per chunk;
* chunk-size sensitivity on 2 workers.

Each timing is the median of `--repeats` warm repeats (kernels compiled and loaded on
every worker by a first solve, whose time is reported as `first_s`).

    python benchmarks/dask_scaling.py                 # 100,000 runs
    python benchmarks/dask_scaling.py --runs 20000 --repeats 1
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
from machine import command_line, machine_info

HERE = Path(__file__).resolve().parent
SPAN, SAVE_EVERY, TOL = (0.0, 1.0), 0.1, 1e-8
CHUNK_SIZES = (512, 2_048, 8_192, 32_768)
OVERHEAD_CHUNKS = 200


def timed(repeats: int, solve: Any) -> tuple[float, Any]:
    """The median seconds of `repeats` calls of `solve()`, and the last one's result."""
    seconds, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = solve()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), result


def identical(a: Any, b: Any) -> bool:
    """Whether two Solutions hold the same results, bit for bit (NaN where NaN)."""
    pairs = [(a.y, b.y), (a.status, b.status), (a.t_final, b.t_final),
             (a.y_final, b.y_final), *((a.stats[k], b.stats[k]) for k in b.stats)]
    return all(np.array_equal(x, y, equal_nan=True) for x, y in pairs)


def on_cluster(workers: int, solver: Any, rho: np.ndarray, local: Any, local_s: float,
               repeats: int) -> dict[str, Any]:
    """The figures of one cluster size."""
    from distributed import Client, LocalCluster

    from cubie_trace import shipping

    def solve(chunks: int | None = None, runs: np.ndarray = rho) -> Any:
        return solver.solve(SPAN, parameters={"rho": runs}, save_every=SAVE_EVERY,
                            client=client, chunks=chunks)

    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        client.wait_for_workers(workers)
        started = time.perf_counter()
        solve(chunks=max(1, len(rho) // (4 * workers))).compute()  # every worker compiles
        first_s = time.perf_counter() - started
        seconds, sol = timed(repeats, lambda: solve().compute())
        lazy = solve()
        few = rho[:OVERHEAD_CHUNKS]
        overhead_s, _ = timed(repeats, lambda: solve(chunks=1, runs=few).compute())
        out: dict[str, Any] = {
            "workers": workers, "first_s": first_s, "seconds": seconds,
            "runs_per_s": len(rho) / seconds, "local_over_cluster": local_s / seconds,
            "chunks": lazy.info["chunks"], "chunk_runs": lazy.info["chunk_runs"],
            "overhead_per_chunk_worker_s": overhead_s * workers / OVERHEAD_CHUNKS,
            "bit_identical_to_local": identical(sol, local),
            "compiles_per_worker": sorted(sum(c.values())
                                          for c in client.run(shipping.compile_counts).values()),
        }
        if workers == 2:
            out["chunk_sizes"] = []
            for size in CHUNK_SIZES:
                s, _ = timed(repeats, lambda size=size: solve(chunks=size).compute())
                out["chunk_sizes"].append({"chunk_runs": size, "chunks": -(-len(rho) // size),
                                           "seconds": s, "runs_per_s": len(rho) / s})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "dask_scaling.json")
    args = parser.parse_args()
    machine = machine_info()

    import cubie_trace as ct
    from cubie_trace.systems.library import lorenz

    solver = ct.Solver(lorenz(), "tsit5", rtol=TOL, atol=TOL, backend="cpu")
    rho = np.linspace(0.0, 21.0, args.runs)

    def local_solve() -> Any:
        return solver.solve(SPAN, parameters={"rho": rho}, save_every=SAVE_EVERY,
                            progress=False)

    local_solve()  # compiles
    local_s, local = timed(args.repeats, local_solve)
    clusters = [on_cluster(w, solver, rho, local, local_s, args.repeats) for w in (1, 2)]

    print(f"Lorenz, tsit5 rtol=atol={TOL:g}, {args.runs:,} runs, saves every {SAVE_EVERY}")
    print(f"{'where':<12}{'seconds':>9}{'runs/s':>11}{'local/this':>12}{'chunks':>8}"
          f"{'chunk runs':>12}{'first s':>9}{'overhead ms/chunk':>19}")
    print(f"{'local':<12}{local_s:>9.2f}{args.runs / local_s:>11,.0f}{1.0:>12.2f}")
    for c in clusters:
        print(f"{str(c['workers']) + ' worker(s)':<12}{c['seconds']:>9.2f}"
              f"{c['runs_per_s']:>11,.0f}{c['local_over_cluster']:>12.2f}{c['chunks']:>8}"
              f"{c['chunk_runs']:>12,}{c['first_s']:>9.2f}"
              f"{c['overhead_per_chunk_worker_s'] * 1e3:>19.1f}")
    for c in clusters:
        print(f"{c['workers']} worker(s): bit-identical to local: "
              f"{c['bit_identical_to_local']}; compiles per worker: {c['compiles_per_worker']}")
    print("chunk size, 2 workers:")
    for r in clusters[1]["chunk_sizes"]:
        print(f"  {r['chunk_runs']:>7,} runs x {r['chunks']:>4} chunks: {r['seconds']:6.2f} s, "
              f"{r['runs_per_s']:>9,.0f} runs/s")
    args.out.parent.mkdir(exist_ok=True)
    args.out.write_text(json.dumps({
        "machine": machine, "command": command_line(), "system": "lorenz", "method": "tsit5",
        "tolerance": TOL, "span": SPAN, "save_every": SAVE_EVERY, "runs": args.runs,
        "repeats": args.repeats, "local": {"seconds": local_s,
                                           "runs_per_s": args.runs / local_s},
        "clusters": clusters}, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
