"""Cold and warm start of a seven-stage explicit step on Lorenz (BENCHMARKS.md section 2,
cold start).

The step is written by hand: seven `f(t, y)` stages in Dormand-Prince 5(4) form with the
tableau's coefficients, a fifth-order update and an error estimate
(`tests/lowering/programs.py: dopri_like`). Times, in this process: building the system
from equations (SymPy; outside the goal), trace, plan, codegen (the module's source),
`lower` (codegen, writing the module and importing it), and Numba's compilation for the
CPU (the first batch call in an empty cache minus a second call). Then whole second
processes that find the on-disk cache: their import, trace + plan + lower, and first
kernel call (loading Numba's cached machine code). Medians over repeats.

Then an implicit step whose stages each call Newton (a `while_loop` with backtracking)
calling BiCGSTAB on `f.operator` (`tests/lowering/programs.py: sdirk_like`), at 1 and
8 stages in this process, each in an empty cache: generated lines, child device
functions, Numba's CPU compile time, the layout against its lower bound, and the
largest difference from `ct.interpret` over a few runs. A child called at several
sites is one device function, so stages add calls, not code.

Goals: trace + plan + codegen < 100 ms; warm start of the cached CPU kernel < 1 s;
the 8-stage step within 1.5x the 1-stage step's lines and compile time.

    python benchmarks/compile_time.py
    python benchmarks/compile_time.py --repeats 20 --warm-processes 5 --precision float32
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from machine import machine_info

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.lowering.programs holds the hand-written step

CACHE_ENV = "CUBIE_TRACE_CACHE_DIR"
GOAL_FRONT_S = 0.1
GOAL_WARM_S = 1.0
GOAL_STAGES_RATIO = 1.5
NK_STAGES = (1, 8)
N_RUNS = 64



def timed(fn: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def batch(precision: str) -> list[Any]:
    """N_RUNS Lorenz states and parameters (rho spread over [0, 21])."""
    import numpy as np

    rng = np.random.default_rng(0)
    params = np.stack([np.full(N_RUNS, 10.0), np.linspace(0, 21, N_RUNS),
                       np.full(N_RUNS, 8 / 3)], axis=1)
    return [np.zeros(N_RUNS), np.full(N_RUNS, 1e-3), rng.uniform(-5, 5, (N_RUNS, 3)),
            params.astype(precision)]


def front_end(precision: str, repeats: int) -> tuple[dict[str, Any], Any, Any, Any]:
    """Times of system, trace, plan, codegen: the first call and the median of repeats."""
    import cubie_trace as ct
    from cubie_trace.layout import plan
    from lowering import module
    from lowering.memory import Memory
    from lowering.targets import get_target
    from tests.lowering.programs import dopri_like, lorenz

    def codegen(program: Any, layout: Any) -> str:
        sig = module.signature(program, (True,) * len(program.inputs))
        return module.module_source(program, layout, Memory(layout, precision), sig,
                                    get_target("cpu"), precision, False)

    samples: dict[str, list[float]] = {"system": [], "trace": [], "plan": [], "codegen": []}
    for _ in range(repeats):
        t_sys, system = timed(lorenz)
        t_trace, program = timed(lambda: ct.trace(dopri_like, system=system))  # noqa: B023
        t_plan, layout = timed(lambda: plan(program, precision=precision))  # noqa: B023
        t_code, _ = timed(lambda: codegen(program, layout))  # noqa: B023
        for key, value in zip(samples, (t_sys, t_trace, t_plan, t_code)):
            samples[key].append(value)
    figures = {key: {"first_s": values[0], "median_s": statistics.median(values)}
               for key, values in samples.items()}
    return figures, system, program, layout


def newton_krylov(precision: str) -> dict[str, Any]:
    """Lines, child functions, compile time, footprint and accuracy of `sdirk_like` at
    each of NK_STAGES stages, each compiled into a fresh cache directory."""
    import re

    import numpy as np

    import cubie_trace as ct
    from cubie_trace.layout import plan
    from lowering import lower
    from tests.lowering.programs import lorenz, sample_runs, sdirk_like
    from tests.lowering.strategies import stacked

    runs = sample_runs("sdirk_like2", 4)  # the inputs of an sdirk_like step of any stages
    batch = stacked(runs, (True,) * 4)
    out: dict[str, Any] = {}
    for stages in NK_STAGES:
        os.environ[CACHE_ENV] = tempfile.mkdtemp(prefix="ct-compile-nk-")
        program = ct.trace(sdirk_like(stages), system=lorenz())
        layout = plan(program, precision=precision)
        layout.verify()
        low = lower(program, layout, target="cpu", precision=precision)
        first, got = timed(lambda: low.run(*batch))  # noqa: B023
        second, _ = timed(lambda: low.run(*batch))  # noqa: B023
        error = 0.0
        for r, inputs in enumerate(runs):
            want = ct.interpret(program, *inputs, precision=precision)
            error = max(error, float(np.max(np.abs(got[0][r] - want[0]))))
        bound = sum(layout.lower_bound.values())
        out[str(stages)] = {
            "lines": low.source.count("\n"),
            "child_functions": sorted(re.findall(r"^def (child_\w+)\(", low.source, re.M)),
            "numba_compile_s": first - second, "elements": layout.total_elements,
            "lower_bound": bound, "max_abs_difference_from_interpreter": error}
    one, many = out[str(NK_STAGES[0])], out[str(NK_STAGES[-1])]
    out["lines_ratio"] = many["lines"] / one["lines"]
    out["compile_ratio"] = many["numba_compile_s"] / one["numba_compile_s"]
    return out


def child(precision: str, split: bool) -> None:
    """A second process: trace, plan and lower the step (the cache has the module), call
    the kernel once; print JSON. With `split`, first initialise Numba's CPU target (which
    every process pays on its first Numba call), so the call times only our kernel."""
    started = time.perf_counter()
    import cubie_trace as ct
    from cubie_trace.layout import plan
    from lowering import lower
    from tests.lowering.programs import dopri_like, lorenz

    imported = time.perf_counter()
    system = lorenz()
    built = time.perf_counter()
    program = ct.trace(dopri_like, system=system)
    low = lower(program, plan(program, precision=precision), target="cpu",
                precision=precision)
    inputs = batch(precision)
    lowered = time.perf_counter()
    numba_init_s = None
    if split:
        from numba.core.registry import cpu_target

        cpu_target.target_context.refresh()  # loads Numba's typing and lowering registries
        numba_init_s = time.perf_counter() - lowered
    calling = time.perf_counter()
    low.run(*inputs)
    called = time.perf_counter()
    hits = sum(low.kernel.stats.cache_hits.values())
    print(json.dumps({"import_s": imported - started, "system_s": built - imported,
                      "trace_plan_lower_s": lowered - built, "numba_init_s": numba_init_s,
                      "first_call_s": called - calling, "kernel_cache_hits": hits,
                      "path": low.path, "split": split}))


def run_child(precision: str, cache: str, split: bool) -> dict[str, Any]:
    env = {**os.environ, CACHE_ENV: cache}
    started = time.perf_counter()
    command = [sys.executable, __file__, "--child", "--precision", precision]
    proc = subprocess.run(command + (["--split"] if split else []), cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"second process failed:\n{proc.stderr[-4000:]}")
    return {**json.loads(proc.stdout.strip().splitlines()[-1]), "process_s": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--precision", choices=("float64", "float32"), default="float64")
    parser.add_argument("--repeats", type=int, default=10, help="front-end repeats")
    parser.add_argument("--warm-processes", type=int, default=3,
                        help="second processes that hit the cache")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results"
                        / "compile_time.json")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--split", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.precision, args.split)
        return
    cache = tempfile.mkdtemp(prefix="ct-compile-time-")
    os.environ[CACHE_ENV] = cache  # an empty cache: this process compiles
    started = time.perf_counter()
    from lowering import lower

    import_s = time.perf_counter() - started
    front, _, program, layout = front_end(args.precision, args.repeats)
    lower_s, low = timed(lambda: lower(program, layout, target="cpu",
                                       precision=args.precision))
    inputs = batch(args.precision)
    first_call_s, _ = timed(lambda: low.run(*inputs))
    second_call_s, _ = timed(lambda: low.run(*inputs))
    warm = [run_child(args.precision, cache, split=False) for _ in range(args.warm_processes)]
    split = [run_child(args.precision, cache, split=True) for _ in range(args.warm_processes)]
    assert all(w["path"] == low.path and w["kernel_cache_hits"] > 0 for w in warm + split), \
        "a second process did not load the cached kernel"

    nk = newton_krylov(args.precision)

    def med(key: str, processes: list[dict[str, Any]] = warm) -> float:
        return statistics.median(w[key] for w in processes)

    total_front = sum(front[k]["median_s"] for k in ("trace", "plan", "codegen"))
    cold_front = sum(front[k]["first_s"] for k in ("trace", "plan", "codegen"))
    rows = [
        ("import cubie_trace + lowering", import_s, None),
        ("system from equations (SymPy, outside goal)", front["system"]["median_s"], None),
        ("trace", front["trace"]["median_s"], None),
        ("plan", front["plan"]["median_s"], None),
        ("codegen (module source)", front["codegen"]["median_s"], None),
        ("trace + plan + codegen", total_front, GOAL_FRONT_S),
        ("trace + plan + codegen, first time", cold_front, GOAL_FRONT_S),
        ("lower (codegen, write, import)", lower_s, None),
        ("Numba compile, CPU (1st call - 2nd)", first_call_s - second_call_s, None),
        ("warm process: import", med("import_s"), None),
        ("warm process: trace + plan + lower", med("trace_plan_lower_s"), None),
        ("warm process: first kernel call (cache)", med("first_call_s"), GOAL_WARM_S),
        ("split process: Numba CPU target init", med("numba_init_s", split), None),
        ("split process: kernel cache load + call", med("first_call_s", split), None),
        ("warm process: whole process", med("process_s"), None),
    ]
    print(f"dopri_like (7 stages) on Lorenz, {args.precision}, {len(program.eqns)} equations, "
          f"CPU target; medians of {args.repeats} front-end repeats and "
          f"{args.warm_processes} warm processes")
    print(f"{'phase':<46} {'seconds':>9}  goal")
    for label, value, goal in rows:
        verdict = "" if goal is None else \
            f"< {goal:g} s: {'met' if value < goal else 'MISSED'}"
        print(f"{label:<46} {value:>9.4f}  {verdict}")
    result = {
        "benchmark": "compile_time", "section": "BENCHMARKS.md 2 (cold start)",
        "command": shlex.join([sys.executable.split("/")[-1], *sys.argv]),
        "machine": machine_info(),
        "program": {"name": "dopri_like", "system": "lorenz", "stages": 7,
                    "equations": len(program.eqns), "precision": args.precision,
                    "target": "cpu", "batch_runs": N_RUNS},
        "front_end": front, "trace_plan_codegen_s": total_front,
        "trace_plan_codegen_first_s": cold_front, "import_s": import_s, "lower_s": lower_s,
        "first_call_s": first_call_s, "second_call_s": second_call_s,
        "numba_compile_s": first_call_s - second_call_s, "warm_processes": warm,
        "warm_processes_split": split,
        "warm_first_call_split_s": {"numba_init_s": med("numba_init_s", split),
                                    "kernel_load_and_call_s": med("first_call_s", split)},
        "goals": {"trace_plan_codegen_s": {"goal": GOAL_FRONT_S, "value": total_front,
                                           "met": total_front < GOAL_FRONT_S},
                  "warm_first_call_s": {"goal": GOAL_WARM_S, "value": med("first_call_s"),
                                        "met": med("first_call_s") < GOAL_WARM_S},
                  **{f"newton_krylov_{key}": {"goal": GOAL_STAGES_RATIO, "value": nk[key],
                                              "met": nk[key] <= GOAL_STAGES_RATIO}
                     for key in ("lines_ratio", "compile_ratio")}},
        "newton_krylov": nk,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=1) + "\n")
    print(f"\nsdirk_like: stages of Newton + BiCGSTAB children on Lorenz, {args.precision}")
    print(f"{'stages':>6} {'lines':>6} {'compile s':>10} {'elements':>9} {'bound':>6} "
          f"{'|cpu - interpret|':>18}  child functions")
    for stages in NK_STAGES:
        r = nk[str(stages)]
        print(f"{stages:>6} {r['lines']:>6} {r['numba_compile_s']:>10.2f} {r['elements']:>9} "
              f"{r['lower_bound']:>6} {r['max_abs_difference_from_interpreter']:>18.2e}  "
              f"{', '.join(r['child_functions'])}")
    for key in ("lines_ratio", "compile_ratio"):
        verdict = "met" if nk[key] <= GOAL_STAGES_RATIO else "MISSED"
        print(f"{NK_STAGES[-1]}-stage / 1-stage {key.split('_')[0]}: {nk[key]:.2f}x "
              f"(goal <= {GOAL_STAGES_RATIO}x: {verdict})")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
