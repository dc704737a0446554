"""The generated code before and after a change of the code generator, side by side.

For each case (a system, a method, a batch size) this measures, in separate Python
processes (`NUMBA_NUM_THREADS=1`, an empty on-disk cache for the first one):

* the Numba compile time of the loop: the first solve minus a warm solve;
* the warm solve time: the median of `--solves` solves in a process, then the median
  over `--rounds` processes, the baseline's and this tree's processes alternating.

The baseline is a git revision checked out in a temporary worktree and imported ahead
of the installed package (`PYTHONPATH`). Cases: Lorenz (16,384 runs), 16- and 64-state
linear chains (4,096 runs; RK4 and Tsitouras 5 by default), and a 128-state chain
(compile time only, 64 runs); RK4 with dt = 1e-3 over [0, 1], adaptive methods at
rtol = atol = 1e-8, final state saved.

    python benchmarks/generated_code.py --baseline 7296072
    python benchmarks/generated_code.py --baseline HEAD~1 --methods rk4 --rounds 3
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

from machine import command_line, machine_info

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
METHODS = ("rk4", "tsit5", "dopri54", "dop853", "vern7", "ros3p", "kvaerno5")
SYSTEMS = {"lorenz": 16384, "chain16": 4096, "chain64": 4096, "chain128": 64}
TIMED = ("lorenz", "chain16", "chain64")  # chain128: compile time only


def child(system_name: str, method: str, n: int, solves: int) -> None:
    """Build, compile and time one case in this process; print one JSON line."""
    import numpy as np

    import cubie_trace as ct
    from cubie_trace.systems.library import linear_chain, lorenz

    system = lorenz() if system_name == "lorenz" else linear_chain(int(system_name[5:]))
    options = {"dt": 1e-3} if method == "rk4" else {"rtol": 1e-8, "atol": 1e-8}
    solver = ct.Solver(system, method, backend="cpu", **options)
    parameters = {"rho": np.linspace(0.0, 21.0, n)} if system_name == "lorenz" else \
        {"k": np.linspace(0.5, 1.5, n)}

    def solve() -> tuple[float, Any]:
        started = time.perf_counter()
        sol = solver.solve((0.0, 1.0), parameters=parameters, progress=False)
        return time.perf_counter() - started, sol

    first, _ = solve()
    warm = []
    for _ in range(solves):
        t, sol = solve()
        warm.append(t)
    print("CHILD_JSON " + json.dumps({
        "first_s": first, "warm_s": warm, "warm_median_s": statistics.median(warm),
        "compile_s": first - min(warm), "all_ok": bool(np.all(sol.ok)),
        "accepted_mean": float(sol.stats["accepted"].mean()),
        "y_final_sum": float(np.asarray(sol.y)[:, -1, :].sum()),
        "package": str(Path(ct.__file__).resolve().parent)}))


def run_child(tree: Path, cache: Path, case: tuple[str, str], n: int,
              solves: int) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(tree), "NUMBA_NUM_THREADS": "1",
           "CUBIE_TRACE_CACHE_DIR": str(cache)}
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child",
                           case[0], case[1], str(n), str(solves)], capture_output=True,
                          text=True, env=env, cwd=tempfile.gettempdir(), timeout=3600)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("CHILD_JSON ")), None)
    if line is None:
        return {"error": f"exit {proc.returncode}", "stderr_tail": proc.stderr[-3000:]}
    return json.loads(line[len("CHILD_JSON "):])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", help="git revision to compare with (required)")
    parser.add_argument("--methods", nargs="*", default=list(METHODS),
                        help="methods on Lorenz and the 128-state chain")
    parser.add_argument("--chain-methods", nargs="*", default=["rk4", "tsit5"],
                        help="methods on the 16- and 64-state chains (rk4 tsit5)")
    parser.add_argument("--systems", nargs="*", default=list(SYSTEMS))
    parser.add_argument("--rounds", type=int, default=5, help="processes per tree (5)")
    parser.add_argument("--solves", type=int, default=3, help="warm solves per process (3)")
    parser.add_argument("--output", default=str(HERE / "results" / "generated_code.json"))
    parser.add_argument("--child", nargs=4, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        system_name, method, n, solves = args.child
        child(system_name, method, int(n), int(solves))
        return
    if not args.baseline:
        parser.error("--baseline is required")
    machine = machine_info()
    work = Path(tempfile.mkdtemp(prefix="ct-generated-code-"))
    base = work / "baseline"
    subprocess.run(["git", "worktree", "add", "--detach", str(base), args.baseline],
                   cwd=ROOT, check=True, capture_output=True)
    trees = {"baseline": base, "current": ROOT}
    results: dict[str, Any] = {}
    try:
        for system_name in args.systems:
            timed_chain = system_name in TIMED and system_name != "lorenz"
            for method in args.chain_methods if timed_chain else args.methods:
                case = (system_name, method)
                rounds = args.rounds if system_name in TIMED else 1
                runs: dict[str, list[dict[str, Any]]] = {name: [] for name in trees}
                for _ in range(rounds):
                    for name, tree in trees.items():
                        cache = work / f"cache-{name}-{system_name}-{method}"
                        runs[name].append(run_child(tree, cache, case, SYSTEMS[system_name],
                                                    args.solves))
                results[f"{system_name}/{method}"] = summarise(runs, system_name in TIMED)
                print(row(f"{system_name}/{method}", results[f"{system_name}/{method}"]),
                      flush=True)
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=ROOT,
                       capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
    record = {"benchmark": "generated_code", "command": command_line(), "machine": machine,
              "baseline": args.baseline, "rounds": args.rounds, "solves": args.solves,
              "runs": SYSTEMS, "cases": results}
    Path(args.output).write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {args.output}")


def summarise(runs: dict[str, list[dict[str, Any]]], timed: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"runs": runs}
    if any("error" in r for rs in runs.values() for r in rs):
        out["error"] = True
        return out
    compile_s = {name: rs[0]["compile_s"] for name, rs in runs.items()}
    out["compile_s"] = compile_s
    out["compile_ratio_current_over_baseline"] = compile_s["current"] / compile_s["baseline"]
    out["same_results"] = runs["baseline"][0]["y_final_sum"] == runs["current"][0]["y_final_sum"]
    if timed:
        warm = {name: statistics.median(r["warm_median_s"] for r in rs)
                for name, rs in runs.items()}
        spread = {name: [min(r["warm_median_s"] for r in rs), max(r["warm_median_s"]
                                                                  for r in rs)]
                  for name, rs in runs.items()}
        out["warm_median_s"], out["warm_range_s"] = warm, spread
        out["speedup_current_over_baseline"] = warm["baseline"] / warm["current"]
    return out


def row(label: str, result: dict[str, Any]) -> str:
    if result.get("error"):
        return f"{label:<20} error (see JSON)"
    c = result["compile_s"]
    text = (f"{label:<20} compile {c['baseline']:7.2f} s -> {c['current']:7.2f} s "
            f"({result['compile_ratio_current_over_baseline']:.2f}x)")
    if "warm_median_s" in result:
        w = result["warm_median_s"]
        text += (f"   warm {w['baseline']:.4f} s -> {w['current']:.4f} s "
                 f"(speed-up {result['speedup_current_over_baseline']:.2f}x)")
    return text + ("" if result["same_results"] else "   results differ")


if __name__ == "__main__":
    main()
