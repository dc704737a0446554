"""Generated CUDA code quality without a GPU (BENCHMARKS.md section 3).

For each batch kernel, float32 and float64: compile the real CUDA code path to PTX for
sm_90 (`lowering.ptx.compile_ptx`) and run ptxas on it through nvJitLink
(`lowering.ptx.ptxas`): registers per thread, stack frame bytes, spill stores and loads.
Kernels: the hand-written test programs (`tests/lowering/programs.py`) and, for every
method in `ct.methods()`, the integration loop (`build_loop`, a PI controller for methods
with an error estimate, fixed steps otherwise; planned as `Solver` plans it) on Lorenz and
the 16-state linear chain; `--kinds step` adds each method's step alone.

    python benchmarks/ptxas.py
    python benchmarks/ptxas.py --methods rk4 tsit5 --systems lorenz --kinds loop step
    python benchmarks/ptxas.py --no-methods          # the test programs only
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

from machine import machine_info

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.lowering.programs holds the test programs

PRECISIONS = ("float32", "float64")


class Kernel(NamedTuple):
    """A program compiled as a batch kernel: which inputs are batched, how it is planned."""

    name: str
    program: Any
    batched: tuple[bool, ...] | None = None
    plan_options: dict[str, Any] = {}


def systems_by_name() -> dict[str, Any]:
    from cubie_trace.systems.library import linear_chain, lorenz

    return {"lorenz": lorenz, "chain16": lambda: linear_chain(16)}


def kernels(methods: Sequence[str] | None = None, systems: Sequence[str] = ("lorenz", "chain16"),
            kinds: Sequence[str] = ("loop",), test_programs: bool = True) -> list[Kernel]:
    """The kernels to report: the test programs, then each method (all of `ct.methods()`
    if `methods` is None) on each system, as its loop and/or its step."""
    import cubie_trace as ct

    out: list[Kernel] = []
    if test_programs:
        from tests.lowering.programs import PROGRAMS, program

        out += [Kernel(f"test/{name}", program(name)) for name in PROGRAMS]
    names = ct.methods() if methods is None else list(methods)
    if not names:
        return out
    from cubie_trace.core.step import get_method
    from cubie_trace.integrators.loop import LoopSpec, build_loop

    makers = systems_by_name()
    for method in names:
        for sys_name in systems:
            system = makers[sys_name]()
            if "loop" in kinds:
                step = get_method(method, system)
                controller = ct.Controller("pi" if step.adaptive else "fixed")
                loop = build_loop(system, LoopSpec(step, controller, n_saves=1))
                batched = tuple(name in ("y0", "p") for name in loop.input_names)
                out.append(Kernel(f"{method}/{sys_name}/loop", loop, batched,
                                  {"scratch_in_outputs": False}))
            if "step" in kinds:
                out.append(Kernel(f"{method}/{sys_name}/step", ct.trace(method, system=system)))
    return out


def measure(kernel: Kernel, precision: str, policy: str) -> dict[str, Any]:
    from cubie_trace.layout import plan
    from lowering import lower
    from lowering.ptx import compile_ptx, ptxas

    row: dict[str, Any] = {"kernel": kernel.name, "precision": precision, "policy": policy}
    started = time.perf_counter()
    try:
        layout = plan(kernel.program, policy=policy, precision=precision, **kernel.plan_options)
        low = lower(kernel.program, layout, target="cuda", precision=precision,
                    batched=kernel.batched)
        report = ptxas(compile_ptx(low))
    except Exception as error:  # reported in the table and the JSON; exit status 1
        row["error"] = f"{type(error).__name__}: {error}"[:2000]
        return row
    row.update({key: report[key] for key in ("registers", "stack_bytes", "spill_stores",
                                             "spill_loads")})
    row.update({"shared_bytes_per_thread": layout.shared_bytes,
                "local_elements": layout.local_elements,
                "persistent_elements": layout.persistent_elements,
                "compile_s": time.perf_counter() - started,
                "ptxas_log": [line for line in str(report["log"]).splitlines() if line]})
    return row



def print_row(row: dict[str, Any]) -> None:
    name = f"{row['kernel']:<28} {row['precision']:<8}"
    if "error" in row:
        print(f"{name} FAILED: {row['error'].splitlines()[0][:120]}")
        return
    print(f"{name} {row['registers']:>5} {row['stack_bytes']:>6} {row['spill_stores']:>7} "
          f"{row['spill_loads']:>7} {row['shared_bytes_per_thread']:>7} "
          f"{row['local_elements']:>6} {row['compile_s']:>8.1f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--methods", nargs="*", default=None,
                        help="methods to report (default: all of ct.methods())")
    parser.add_argument("--no-methods", action="store_true", help="the test programs only")
    parser.add_argument("--systems", nargs="+", default=["lorenz", "chain16"],
                        choices=sorted(systems_by_name()))
    parser.add_argument("--kinds", nargs="+", default=["loop"], choices=["loop", "step"])
    parser.add_argument("--precisions", nargs="+", default=list(PRECISIONS),
                        choices=PRECISIONS)
    parser.add_argument("--policy", default="local", choices=["local", "shared", "auto"])
    parser.add_argument("--output", type=Path,
                        default=ROOT / "benchmarks" / "results" / "ptxas.json")
    args = parser.parse_args()
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        parser.error("unset NUMBA_ENABLE_CUDASIM: the simulator replaces the CUDA compiler")
    chosen = kernels([] if args.no_methods else args.methods, args.systems, args.kinds)
    print(f"ptxas for sm_90, policy {args.policy}: per thread registers, stack frame bytes, "
          "spill bytes; shared bytes and local elements of the layout; compile seconds")
    print(f"{'kernel':<28} {'prec':<8} {'regs':>5} {'stack':>6} {'spill_st':>7} "
          f"{'spill_ld':>7} {'shared':>7} {'local':>6} {'compile':>8}")
    rows = []
    for kernel in chosen:
        for precision in args.precisions:
            row = measure(kernel, precision, args.policy)
            print_row(row)
            rows.append(row)
    result = {"benchmark": "ptxas", "section": "BENCHMARKS.md 3 (generated CUDA code quality)",
              "command": shlex.join([sys.executable.split("/")[-1], *sys.argv]),
              "machine": machine_info(), "policy": args.policy, "rows": rows}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.output}")
    if any("error" in row for row in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
