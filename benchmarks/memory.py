"""Peak host memory of big batches: FitzHugh-Nagumo swept over the input current I.

Each case runs in its own process under `/usr/bin/time -v`, which reports the peak
resident set size (RSS):

* `baseline`: 1,000 runs, summaries only - the import, compile and runtime cost that
  does not grow with the batch;
* `summaries`: 1,000,000 runs with `save=None` and summaries only (mean, std, max and
  peaks over windows of 100 time units) - no trajectory is stored;
* `trajectories`: 100,000 runs saving both states every 0.5 - the peak next to the
  bytes of the output itself.

Each case is repeated (`--repeats`, default 3) with its kernel already in the cache (a
first run of 100 compiles it): the table shows the median peak, the JSON every repeat
with the spread.

    python benchmarks/memory.py                    # all three, JSON to results/memory.json
    python benchmarks/memory.py --runs 1000000     # the size of the `summaries` case
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from machine import command_line, machine_info

HERE = Path(__file__).resolve().parent
SPAN, SAVE_EVERY, WINDOW = (0.0, 200.0), 0.5, 100.0
CASES = {"baseline": (1_000, None), "summaries": (1_000_000, None),
         "trajectories": (100_000, ("v", "w"))}


def child(case: str, runs: int) -> dict[str, Any]:
    """Integrate one case here and describe its output."""
    import cubie_trace as ct
    from cubie_trace.systems.library import fitzhugh_nagumo

    save = CASES[case][1]
    solver = ct.Solver(fitzhugh_nagumo(), "tsit5", rtol=1e-6, atol=1e-8, backend="cpu",
                       summaries=["mean", "std", "max", "peaks"], summarise_every=WINDOW,
                       save=list(save) if save else None)
    currents = np.linspace(0.0, 1.5, runs)
    start = time.perf_counter()
    sol = solver.solve(SPAN, parameters={"I": currents}, save_every=SAVE_EVERY,
                       progress=False)
    wall = time.perf_counter() - start
    arrays = [sol.t, sol.status, sol.t_final, sol.y_final, sol.parameters, sol.y0,
              *sol.stats.values(), *sol.swept.values(), *(sol.summaries or {}).values()]
    if sol.y is not None:
        arrays.append(sol.y)
    spiking = sol.summaries["max"][:, 0, 0] > 1.0  # v rises past 1 only in a spike
    return {"case": case, "runs": runs, "wall_s": wall, "kernel_s": sol.info["kernel_s"],
            "compile_s": sol.info["compile_s"],
            "output_bytes": int(sum(a.nbytes for a in arrays)),
            "trajectory_bytes": int(sol.y.nbytes) if sol.y is not None else 0,
            "failed": sol.failures(), "spiking_runs": int(spiking.sum()),
            "mean_steps": float(sol.stats["accepted"].mean())}


def measure(case: str, runs: int) -> dict[str, Any]:
    """Run `case` in a fresh process under /usr/bin/time -v; its report plus peak RSS."""
    proc = subprocess.run(["/usr/bin/time", "-v", sys.executable, __file__, "--child", case,
                           "--runs", str(runs)], capture_output=True, text=True, cwd=HERE)
    if proc.returncode:
        raise RuntimeError(f"{case} failed:\n{proc.stderr[-3000:]}")
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    peak_kb = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    report["peak_rss_bytes"] = int(peak_kb.group(1)) * 1024  # type: ignore[union-attr]
    return report


def repeated(case: str, runs: int, repeats: int) -> dict[str, Any]:
    """`repeats` measurements of `case` after a discarded one of 100 runs that compiles
    its kernel into the cache: the first's report, with the peaks of all and their
    median, min and max."""
    measure(case, 100)
    reports = [measure(case, runs) for _ in range(repeats)]
    peaks = [r["peak_rss_bytes"] for r in reports]
    return {**reports[0], "peak_rss_bytes": int(np.median(peaks)),
            "peak_rss_spread": [min(peaks), max(peaks)], "peak_rss_repeats": peaks,
            "wall_s_repeats": [r["wall_s"] for r in reports]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=CASES["summaries"][0],
                        help="runs in the summaries case")
    parser.add_argument("--repeats", type=int, default=3, help="measurements per case")
    parser.add_argument("--child", choices=list(CASES), help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "memory.json")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.runs)))
        return
    machine = machine_info()
    results = [repeated(case, args.runs if case == "summaries" else runs, args.repeats)
               for case, (runs, _) in CASES.items()]
    base = results[0]["peak_rss_bytes"]
    print(f"{'case':<14}{'runs':>11}{'peak RSS MB':>13}{'(min, max)':>14}"
          f"{'above baseline':>16}{'output MB':>11}{'wall s':>9}")
    for r in results:
        lo, hi = r["peak_rss_spread"]
        print(f"{r['case']:<14}{r['runs']:>11,}{r['peak_rss_bytes'] / 1e6:>13.0f}"
              f"{f'({lo / 1e6:.0f}, {hi / 1e6:.0f})':>14}"
              f"{(r['peak_rss_bytes'] - base) / 1e6:>16.0f}{r['output_bytes'] / 1e6:>11.1f}"
              f"{r['wall_s']:>9.1f}")
    traj = results[2]
    print(f"trajectories: (peak - baseline) / output = "
          f"{(traj['peak_rss_bytes'] - base) / traj['output_bytes']:.2f}")
    args.out.parent.mkdir(exist_ok=True)
    args.out.write_text(json.dumps({"machine": machine, "command": command_line(),
                                    "system": "fitzhugh_nagumo", "method": "tsit5",
                                    "span": SPAN, "save_every": SAVE_EVERY,
                                    "summarise_every": WINDOW, "cases": results},
                                   indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
