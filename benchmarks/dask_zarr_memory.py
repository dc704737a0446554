"""Client-side peak memory of `Solution.to_zarr` for a result larger than the client.

A `LocalCluster(n_workers=2, threads_per_worker=1, processes=True)` runs in this
process; the client runs in a fresh process under `/usr/bin/time -v` (which reports its
peak resident set size, RSS: the workers are not its children, so their memory is not
counted), connects to the cluster, solves a Lorenz sweep (rho = linspace(0, 21, N),
t in [0, 1], tsit5 at rtol = atol = 1e-8, saved every 0.01: 101 saves of 3 states, about
2.4 kB a run) with `client=` and writes it with `sol.to_zarr(store)`:

* `baseline`: 1,000 runs - the imports and the cluster connection;
* `zarr`: 1,000,000 runs - 2.4 GB of trajectories.

Afterwards this process reads the first, a middle and the last 1,000 runs back from the
store and compares them with a local solve of the same runs, bit for bit.

    python benchmarks/dask_zarr_memory.py
    python benchmarks/dask_zarr_memory.py --runs 200000
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from machine import command_line, machine_info

HERE = Path(__file__).resolve().parent
SPAN, SAVE_EVERY, TOL = (0.0, 1.0), 0.01, 1e-8
CHECKED = 1_000  # runs read back at each of three places


def solver() -> Any:
    import cubie_trace as ct
    from cubie_trace.systems.library import lorenz

    return ct.Solver(lorenz(), "tsit5", rtol=TOL, atol=TOL, backend="cpu")


def child(address: str, runs: int, store: str) -> dict[str, Any]:
    """Solve on the cluster at `address` and write the result to `store`, from here."""
    from distributed import Client

    with Client(address) as client:
        started = time.perf_counter()
        sol = solver().solve(SPAN, parameters={"rho": np.linspace(0.0, 21.0, runs)},
                             save_every=SAVE_EVERY, client=client)
        result_bytes = sum(int(a.nbytes) for a in (sol.y, sol.status, sol.t_final,
                                                   sol.y_final, *sol.stats.values()))
        sol.to_zarr(store, consolidated=False)
        return {"runs": runs, "wall_s": time.perf_counter() - started,
                "result_bytes": result_bytes, "chunks": sol.info["chunks"],
                "chunk_runs": sol.info["chunk_runs"]}


def measure(address: str, runs: int, store: Path) -> dict[str, Any]:
    """Run the client in a fresh process under /usr/bin/time -v: its report, peak RSS."""
    proc = subprocess.run(["/usr/bin/time", "-v", sys.executable, __file__, "--client",
                           address, "--runs", str(runs), "--store", str(store)],
                          capture_output=True, text=True, cwd=HERE)
    if proc.returncode:
        raise RuntimeError(f"the client failed:\n{proc.stderr[-3000:]}")
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    peak_kb = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    report["client_peak_rss_bytes"] = int(peak_kb.group(1)) * 1024  # type: ignore[union-attr]
    report["store_bytes"] = sum(f.stat().st_size for f in store.rglob("*") if f.is_file())
    return report


def read_back(store: Path, runs: int) -> bool:
    """Whether three slices of the store equal a local solve of their runs, bit for bit."""
    import xarray as xr

    ds = xr.open_zarr(store, consolidated=False)
    rho = np.linspace(0.0, 21.0, runs)
    same = []
    for lo in (0, runs // 2, runs - CHECKED):
        picked = slice(lo, lo + CHECKED)
        local = solver().solve(SPAN, parameters={"rho": rho[picked]}, save_every=SAVE_EVERY,
                               progress=False)
        part = ds.isel(run=picked)
        same += [np.array_equal(part["y"].values, local.y, equal_nan=True),
                 np.array_equal(part["status"].values, local.status),
                 np.array_equal(part["rho"].values, rho[picked])]
    return all(same)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--store", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path,
                        default=HERE / "results" / "dask_zarr_memory.json")
    args = parser.parse_args()
    if args.client:
        print(json.dumps(child(args.client, args.runs, args.store)))
        return
    from distributed import LocalCluster

    machine = machine_info()
    scratch = Path(tempfile.mkdtemp(prefix="cubie-trace-zarr-"))
    try:
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster:
            cases = {"baseline": measure(cluster.scheduler_address, 1_000,
                                         scratch / "baseline.zarr"),
                     "zarr": measure(cluster.scheduler_address, args.runs,
                                     scratch / "sweep.zarr")}
        cases["zarr"]["read_back_bit_identical"] = read_back(scratch / "sweep.zarr", args.runs)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    print(f"{'case':<10}{'runs':>11}{'client peak RSS MB':>20}{'result MB':>11}"
          f"{'store MB':>10}{'chunks':>8}{'wall s':>8}")
    for name, r in cases.items():
        print(f"{name:<10}{r['runs']:>11,}{r['client_peak_rss_bytes'] / 1e6:>20.0f}"
              f"{r['result_bytes'] / 1e6:>11.0f}{r['store_bytes'] / 1e6:>10.0f}"
              f"{r['chunks']:>8}{r['wall_s']:>8.1f}")
    print(f"read back bit-identical to a local solve: {cases['zarr']['read_back_bit_identical']}")
    args.out.parent.mkdir(exist_ok=True)
    args.out.write_text(json.dumps({
        "machine": machine, "command": command_line(), "system": "lorenz", "method": "tsit5",
        "tolerance": TOL, "span": SPAN, "save_every": SAVE_EVERY,
        "cluster": {"n_workers": 2, "threads_per_worker": 1, "processes": True},
        "cases": cases}, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
