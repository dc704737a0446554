"""Per-thread memory footprint of every method: planned layout against its lower bound
and against CuBIE 0.17.0's hand-managed buffer registry (BENCHMARKS.md, section 1).

For every method in `ct.methods()` on Lorenz (n = 3) and a 16-state linear chain,
float64, this reports the elements per thread (shared + local + persistent) of

* the step: `ct.plan(ct.trace(method, system=sys))`, and
* the whole integration loop: `build_loop(sys, LoopSpec(step, controller, n_saves=1))`
  planned with `scratch_in_outputs=False` (as `Solver` plans it),

each next to the lower bound the layout pass reports (the most elements live at any
one position, summed over pools) and to no reuse at all (every storage group its own
storage). CuBIE is queried in a subprocess under NUMBA_ENABLE_CUDASIM=1, in its own
virtual environment (it pins a patched numba-cuda build), for `shared_buffer_size`,
`declared_local_elements` (its local plus persistent elements, children included) and
`persistent_local_buffer_size` of its loop and its step. Finally random programs from
`cubie_trace.testing.random_programs` give the ratio planned / lower bound.

Only tracing and planning here: nothing is compiled by Numba.

    python benchmarks/footprint.py                       # everything, CuBIE installed if needed
    python benchmarks/footprint.py --no-install          # use CuBIE only if already present
    python benchmarks/footprint.py --cubie-python /path/to/venv/bin/python
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path
from typing import Any

from machine import command_line, machine_info

import cubie_trace as ct
from cubie_trace.core.step import get_method
from cubie_trace.integrators.loop import LoopSpec, build_loop
from cubie_trace.layout.planners import no_reuse
from cubie_trace.systems.library import linear_chain, lorenz

HERE = Path(__file__).resolve().parent
CUBIE_VERSION = "0.17.0"
DEFAULT_VENV = Path.home() / ".cache" / "cubie-trace-bench" / f"cubie-{CUBIE_VERSION}"

# our method name -> CuBIE's algorithm name (cubie.integrators.algorithms registries)
CUBIE_NAMES = {
    "bs32": "bogacki-shampine-32", "cash_karp": "cash-karp-54", "dop853": "dop853",
    "dopri54": "dopri54", "euler": "euler", "fehlberg45": "fehlberg-45", "heun": "heun-21",
    "ralston3": "ralston-33", "rk4": "rk4", "tsit5": "tsit5", "vern7": "vern7",
}

# Published CuBIE 0.17.0 step totals (16-state chain, float64), shown only when CuBIE
# cannot be queried here.
REFERENCE_CHAIN16_STEP = {"rk4": 64, "dopri54": 112, "tsit5": 112, "euler": 0,
                         "backwards_euler": 83, "backwards_euler_pc": 149,
                         "crank_nicolson": 83, "l_stable_dirk_3": 181, "kvaerno5": 261}


# ---------------------------------------------------------------- machine and command




def _sizes(layout: ct.Layout) -> dict[str, Any]:
    bound = layout.lower_bound
    total, lower = layout.total_elements, sum(bound.values())
    return {"shared": layout.shared_elements, "local": layout.local_elements,
            "persistent": layout.persistent_elements, "total": total,
            "lower_bound": lower, "lower_bound_by_pool": bound,
            "ratio": (total / lower) if lower else (1.0 if total == 0 else float("inf"))}


def controller_for(step: Any) -> ct.Controller:
    return ct.Controller("pi") if step.adaptive else ct.Controller("fixed")


def measure_ours(systems: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for sys_name, system in systems.items():
        for method in ct.methods():
            started = time.perf_counter()
            step_layout = ct.plan(ct.trace(method, system=system))
            step_layout.verify()
            step = get_method(method, system)
            controller = controller_for(step)
            program = build_loop(system, LoopSpec(step, controller, n_saves=1))
            loop_layout = ct.plan(program, scratch_in_outputs=False)
            loop_layout.verify()
            loop_plain = ct.plan(program, scratch_in_outputs=False, planner=no_reuse)
            step_plain = ct.plan(ct.trace(method, system=system), planner=no_reuse)
            rows.append({
                "system": sys_name, "n_states": system.n_states, "method": method,
                "controller": controller.kind,
                "step": {**_sizes(step_layout), "no_reuse": step_plain.total_elements},
                "loop": {**_sizes(loop_layout), "no_reuse": loop_plain.total_elements},
                "seconds": time.perf_counter() - started,
            })
    return rows


# ---------------------------------------------------------------- CuBIE

CUBIE_QUERY = r'''
import json, sys, time, warnings
args = json.loads(sys.argv[1])
out = {"ok": False}
try:
    import numpy as np
    import cubie
    from cubie.buffer_registry import buffer_registry as br
    out["version"] = getattr(cubie, "__version__", "unknown")
    out["python"] = sys.version.split()[0]
    systems = {}
    for name, spec in args["systems"].items():
        systems[name] = cubie.create_ODE_system(
            spec["equations"], states=spec["states"], parameters=spec["parameters"],
            precision=np.float64, name=name)

    def sizes(obj):
        shared = int(br.shared_buffer_size(obj))
        declared_local = int(br.declared_local_elements(obj))
        return {"shared": shared, "declared_local": declared_local,
                "persistent": int(br.persistent_local_buffer_size(obj)),
                "local": declared_local - int(br.persistent_local_buffer_size(obj)),
                "total": shared + declared_local}

    rows = []
    for sys_name, system in systems.items():
        for ours, theirs in args["methods"].items():
            row = {"system": sys_name, "method": ours, "cubie_algorithm": theirs}
            started = time.perf_counter()
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    solver = cubie.Solver(system, algorithm=theirs,
                                          step_controller=args["controllers"][ours])
                run = solver.kernel.single_integrator
                row["step"] = sizes(run._algo_step)
                row["loop"] = sizes(run._loop)
                row["step_class"] = type(run._algo_step).__name__
                row["controller_class"] = type(run._step_controller).__name__
                row["loop_own_local"] = {k: int(v) for k, v in
                                         br._groups[run._loop].local_sizes.items()}
                row["warnings"] = [str(w.message) for w in caught]
                try:
                    solver.close()
                except Exception:
                    pass
            except Exception as exc:
                row["error"] = f"{type(exc).__name__}: {exc}"
            row["seconds"] = time.perf_counter() - started
            rows.append(row)
    out["rows"] = rows
    out["ok"] = True
except Exception as exc:
    import traceback
    out["error"] = f"{type(exc).__name__}: {exc}"
    out["traceback"] = traceback.format_exc()
print("CUBIE_JSON " + json.dumps(out))
'''


def _python_has_cubie(python: str) -> bool:
    try:
        probe = subprocess.run([python, "-c", "import importlib.util, sys; "
                                "sys.exit(importlib.util.find_spec('cubie') is None)"],
                               capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return False
    return probe.returncode == 0


def find_or_install_cubie(args: argparse.Namespace, record: dict[str, Any]) -> str | None:
    """A Python interpreter that imports cubie, installing cubie==0.17.0 into a virtual
    environment of its own (not this one: it pins a patched numba-cuda build) if allowed."""
    candidates = []
    if args.cubie_python:
        candidates.append(("--cubie-python", args.cubie_python))
    if os.environ.get("CUBIE_PYTHON"):
        candidates.append(("$CUBIE_PYTHON", os.environ["CUBIE_PYTHON"]))
    if importlib.util.find_spec("cubie") is not None:
        candidates.append(("this interpreter", sys.executable))
    venv_python = str(Path(args.cubie_venv) / "bin" / "python")
    if Path(venv_python).exists():
        candidates.append(("benchmark venv", venv_python))
    for source, python in candidates:
        if _python_has_cubie(python):
            record.update(python=python, found_via=source)
            return python
    if args.no_install:
        record["reason"] = "cubie is not installed and --no-install was given"
        return None
    started = time.perf_counter()
    try:
        venv.EnvBuilder(with_pip=True, clear=False).create(args.cubie_venv)
        install = subprocess.run([venv_python, "-m", "pip", "install", "--quiet",
                                  f"cubie=={CUBIE_VERSION}"], capture_output=True, text=True,
                                 timeout=900)
    except (OSError, subprocess.SubprocessError) as exc:
        record["reason"] = f"pip install cubie=={CUBIE_VERSION} failed: {exc}"
        return None
    record["install"] = {"command": f"{venv_python} -m pip install cubie=={CUBIE_VERSION}",
                         "returncode": install.returncode,
                         "seconds": time.perf_counter() - started,
                         "output_tail": (install.stdout + install.stderr)[-2000:]}
    if install.returncode != 0 or not _python_has_cubie(venv_python):
        record["reason"] = (f"pip install cubie=={CUBIE_VERSION} failed "
                            f"(exit {install.returncode})")
        return None
    record.update(python=venv_python, found_via="installed now")
    return venv_python


def cubie_systems() -> dict[str, dict[str, Any]]:
    n = 16
    return {
        "lorenz": {"equations": ["dx = sigma*(y - x)", "dy = x*(rho - z) - y",
                                 "dz = x*y - beta*z"],
                   "states": {"x": 1.0, "y": 0.0, "z": 0.0},
                   "parameters": {"sigma": 10.0, "rho": 28.0, "beta": 8 / 3}},
        "chain16": {"equations": [f"dx{i} = -k*x{i}" + (f" + x{i - 1}" if i else "")
                                  for i in range(n)],
                    "states": {f"x{i}": 1.0 if i == 0 else 0.0 for i in range(n)},
                    "parameters": {"k": 1.0}},
    }


def measure_cubie(args: argparse.Namespace, adaptive: dict[str, bool]) -> dict[str, Any]:
    record: dict[str, Any] = {"status": "unavailable", "expected_version": CUBIE_VERSION}
    if args.no_cubie:
        record["reason"] = "--no-cubie given"
        return record
    python = find_or_install_cubie(args, record)
    if python is None:
        return record
    payload = {"systems": cubie_systems(),
               "methods": {m: CUBIE_NAMES[m] for m in ct.methods() if m in CUBIE_NAMES},
               "controllers": {m: "pi" if adaptive[m] else "fixed" for m in ct.methods()}}
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1"}
    started = time.perf_counter()
    try:  # CuBIE writes generated code into its working directory: keep it out of ours
        with tempfile.TemporaryDirectory() as scratch:
            proc = subprocess.run([python, "-c", CUBIE_QUERY, json.dumps(payload)],
                                  capture_output=True, text=True, env=env, cwd=scratch,
                                  timeout=args.cubie_timeout)
    except subprocess.TimeoutExpired:
        record["reason"] = f"CuBIE query timed out after {args.cubie_timeout} s"
        return record
    record["query_seconds"] = time.perf_counter() - started
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("CUBIE_JSON ")), None)
    if line is None:
        record["reason"] = f"CuBIE query printed no result (exit {proc.returncode})"
        record["stderr_tail"] = proc.stderr[-2000:]
        return record
    result = json.loads(line[len("CUBIE_JSON "):])
    if not result.get("ok"):
        record["reason"] = f"CuBIE query failed: {result.get('error')}"
        record["traceback"] = result.get("traceback")
        return record
    if result.get("version") != CUBIE_VERSION:
        record["version_mismatch"] = True
    record.update(status="measured", version=result.get("version"),
                  cubie_python_version=result.get("python"), rows=result["rows"])
    return record


# ---------------------------------------------------------------- random programs


def measure_random(n_examples: int, max_ops: int, seed: int) -> dict[str, Any]:
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hypothesis_seed

    from cubie_trace.testing import random_programs

    records: list[dict[str, Any]] = []
    failures: list[str] = []

    @hypothesis_seed(seed)
    @settings(max_examples=n_examples, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(random_programs(max_ops=max_ops))
    def collect(program: ct.Program) -> None:
        try:
            layout = ct.plan(program)
            layout.verify()
            plain = ct.plan(program, planner=no_reuse)
        except Exception as exc:  # a library bug: record it, keep measuring
            failures.append(f"{type(exc).__name__}: {exc}")
            return
        records.append({"total": layout.total_elements,
                        "lower_bound": sum(layout.lower_bound.values()),
                        "no_reuse": plain.total_elements,
                        "equations": len(program.equations)})

    started = time.perf_counter()
    collect()
    seconds = time.perf_counter() - started
    scored = [r for r in records if r["lower_bound"] > 0]
    ratios = [r["total"] / r["lower_bound"] for r in scored]
    saved = [r["total"] / r["no_reuse"] for r in records if r["no_reuse"] > 0]
    worst = max(scored, key=lambda r: r["total"] / r["lower_bound"], default=None)
    return {
        "max_ops": max_ops, "seed": seed, "requested": n_examples, "planned": len(records),
        "with_scratch": len(scored),
        "no_scratch_and_zero_size": sum(1 for r in records if r["lower_bound"] == 0
                                        and r["total"] == 0),
        "no_scratch_but_nonzero_size": sum(1 for r in records if r["lower_bound"] == 0
                                           and r["total"] > 0),
        "ratio_mean": statistics.fmean(ratios) if ratios else None,
        "ratio_worst": max(ratios) if ratios else None,
        "at_lower_bound": sum(1 for x in ratios if x == 1.0),
        "worst_case": worst,
        "planned_over_no_reuse_mean": statistics.fmean(saved) if saved else None,
        "largest_lower_bound": max((r["lower_bound"] for r in records), default=0),
        "failures": failures[:20], "n_failures": len(failures), "seconds": seconds,
    }


# ---------------------------------------------------------------- report


def fmt_ratio(x: float | None) -> str:
    return "-" if x is None else ("inf" if x == float("inf") else f"{x:.2f}")


def print_tables(rows: list[dict[str, Any]], cubie: dict[str, Any]) -> None:
    theirs = {(r["system"], r["method"]): r for r in cubie.get("rows", [])
              if "error" not in r}
    theirs_name = {"lorenz": "lorenz", "linear_chain16": "chain16"}
    print("\nPer-thread elements, float64 (step = one step program; loop = whole kernel "
          "program).")
    print("sh/loc/per = shared/local/persistent; LB = lower bound; none = no reuse; "
          "CuBIE total = shared + declared_local_elements (includes persistent).\n")
    header = (f"{'system':<15}{'method':<21}{'step sh/loc/per':>16}{'step':>6}{'LB':>5}"
              f"{'none':>6}{'loop':>6}{'LB':>5}{'none':>6}  {'CuBIE step':>15}{'CuBIE loop':>15}"
              f"{'ours/CuBIE step':>16}{'loop':>6}")
    print(header)
    print("-" * len(header))
    for r in rows:
        s, lp = r["step"], r["loop"]
        c = theirs.get((theirs_name.get(r["system"], r["system"]), r["method"]))
        if c is not None:
            cs, cl = c["step"], c["loop"]
            cstep = f"{cs['total']} ({cs['shared']}/{cs['local']}/{cs['persistent']})"
            cloop = f"{cl['total']} ({cl['shared']}/{cl['local']}/{cl['persistent']})"
            rstep = fmt_ratio(s["total"] / cs["total"]) if cs["total"] else \
                ("=" if s["total"] == 0 else "-")
            rloop = fmt_ratio(lp["total"] / cl["total"]) if cl["total"] else "-"
        else:
            cstep = cloop = rstep = rloop = "-"
        split = f"{s['shared']}/{s['local']}/{s['persistent']}"
        print(f"{r['system']:<15}{r['method']:<21}{split:>16}{s['total']:>6}"
              f"{s['lower_bound']:>5}{s['no_reuse']:>6}{lp['total']:>6}{lp['lower_bound']:>5}"
              f"{lp['no_reuse']:>6}  {cstep:>15}{cloop:>15}{rstep:>16}{rloop:>6}")
    if cubie["status"] != "measured":
        print(f"\nCuBIE {CUBIE_VERSION} could not be queried: {cubie.get('reason')}")
        print("Reference values (published, NOT measured here): CuBIE 0.17.0 step totals, "
              "16-state chain, float64:")
        for method, value in REFERENCE_CHAIN16_STEP.items():
            print(f"  {method:<18} {value}")
    else:
        notes = sorted({(r["method"], w) for r in cubie["rows"] for w in r.get("warnings", [])})
        for method, w in notes:
            print(f"CuBIE note ({method}): {w}")
        errors = [r for r in cubie["rows"] if "error" in r]
        for r in errors:
            print(f"CuBIE error ({r['system']}, {r['method']}): {r['error']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--random", type=int, default=300,
                        help="random programs to plan (default 300)")
    parser.add_argument("--max-ops", type=int, default=8,
                        help="max_ops of random_programs (default 8)")
    parser.add_argument("--random-large", type=int, default=60,
                        help="further random programs with 2 * max_ops (default 60; 0: none)")
    parser.add_argument("--seed", type=int, default=0, help="hypothesis seed (default 0)")
    parser.add_argument("--no-cubie", action="store_true", help="skip the CuBIE comparison")
    parser.add_argument("--no-install", action="store_true",
                        help="do not pip install cubie if no interpreter with it is found")
    parser.add_argument("--cubie-python", default=None,
                        help="a Python interpreter that imports cubie (else $CUBIE_PYTHON, "
                             "this interpreter, or the benchmark venv)")
    parser.add_argument("--cubie-venv", default=str(DEFAULT_VENV),
                        help=f"where to install cubie=={CUBIE_VERSION} if needed "
                             f"(default {DEFAULT_VENV})")
    parser.add_argument("--cubie-timeout", type=int, default=600,
                        help="seconds allowed for the CuBIE query (default 600)")
    parser.add_argument("--output", default=str(HERE / "results" / "footprint.json"))
    args = parser.parse_args()

    started = time.perf_counter()
    systems = {"lorenz": lorenz(), "linear_chain16": linear_chain(16)}
    rows = measure_ours(systems)
    adaptive = {m: get_method(m, systems["lorenz"]).adaptive for m in ct.methods()}
    cubie = measure_cubie(args, adaptive)
    print_tables(rows, cubie)

    random_sets = [measure_random(args.random, args.max_ops, args.seed)]
    if args.random_large > 0:
        random_sets.append(measure_random(args.random_large, 2 * args.max_ops, args.seed))
    print("\nRandom programs (cubie_trace.testing.random_programs), policy 'local':")
    print(f"{'max_ops':>8}{'planned':>9}{'w/ scratch':>11}{'mean':>8}{'worst':>8}"
          f"{'at LB':>7}{'vs none':>9}{'failures':>10}{'s':>7}")
    for r in random_sets:
        print(f"{r['max_ops']:>8}{r['planned']:>9}{r['with_scratch']:>11}"
              f"{fmt_ratio(r['ratio_mean']):>8}{fmt_ratio(r['ratio_worst']):>8}"
              f"{r['at_lower_bound']:>7}{fmt_ratio(r['planned_over_no_reuse_mean']):>9}"
              f"{r['n_failures']:>10}{r['seconds']:>7.1f}")
    print("(mean/worst: planned size / lower bound over programs with scratch; vs none: "
          "planned / no-reuse size)")
    for r in random_sets:
        for failure in r["failures"][:3]:
            print(f"  failure (max_ops {r['max_ops']}): {failure}")

    total = time.perf_counter() - started
    result = {
        "benchmark": "footprint", "section": "BENCHMARKS.md 1 (layout quality)",
        "command": command_line(), "cwd": os.getcwd(), "machine": machine_info(),
        "precision": "float64",
        "definitions": {
            "step": "ct.plan(ct.trace(method, system=sys)) (policy 'local'): "
                    "shared + local + persistent elements per thread",
            "loop": "ct.plan(build_loop(sys, LoopSpec(step, Controller('pi' if adaptive "
                    "else 'fixed'), n_saves=1)), scratch_in_outputs=False)",
            "lower_bound": "sum over pools of Layout.lower_bound (most elements live at once)",
            "no_reuse": "the same program planned with planner=no_reuse",
            "cubie_total": "buffer_registry.shared_buffer_size + declared_local_elements "
                           "(declared_local_elements includes persistent_local_buffer_size "
                           "and children's local buffers; CuBIE counts a zero-size local "
                           "buffer as 1 and counts its int32 counters too)",
        },
        "ours": rows, "cubie": cubie,
        "cubie_reference_chain16_step_totals": {
            "values": REFERENCE_CHAIN16_STEP,
            "note": "published CuBIE 0.17.0 figures, not measured by this script"},
        "random_programs": random_sets, "seconds": total,
    }
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"\nwrote {out} ({total:.1f} s)")


if __name__ == "__main__":
    main()
