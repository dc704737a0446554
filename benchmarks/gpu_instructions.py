"""Instructions per step of the generated CUDA loop against a hand-written kernel, no GPU
needed (sm_90 SASS from ptxas through nvJitLink, disassembled by nvdisasm).

The hand kernel is classical RK4 on Lorenz written in `numba.cuda` with the state in
scalars, stepping `while t < t_end` (so ptxas cannot unroll it as a counted loop and
one pass is one step). Ours is the integration loop `ct.Solver` builds (RK4 with fixed
steps, Tsitouras 5 with the PI controller at 1e-8, 1e-5 in float32), final state saved.
For each, float64 and float32: the instructions of one pass through the kernel's main
loop (not counting nested loops, such as the save loop a step without a save skips), by
opcode, and the registers, stack frame and spills ptxas reports.

    python benchmarks/gpu_instructions.py
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from hand_lorenz import rk4_step
from machine import command_line, machine_info
from numba import cuda

HERE = Path(__file__).resolve().parent


step = cuda.jit(device=True, inline="always")(rk4_step)


def hand_rk4(y0: Any, p: Any, dt: Any, t_end: Any, out: Any) -> None:
    r = cuda.grid(1)
    if r >= y0.shape[0]:
        return
    sigma, rho, beta = p[r, 0], p[r, 1], p[r, 2]
    x, y, z = y0[r, 0], y0[r, 1], y0[r, 2]
    t = dt - dt
    stop = t_end - 0.5 * dt
    while t < stop:
        x, y, z = step(x, y, z, sigma, rho, beta, dt)
        t = t + dt
    out[r, 0] = x
    out[r, 1] = y
    out[r, 2] = z


def hand_ptx(precision: str) -> str:
    from numba import types

    from lowering.ptx import _device_capability

    real = types.float64 if precision == "float64" else types.float32
    matrix = types.Array(real, 2, "C")
    with _device_capability((9, 0)):
        ptx, _ = cuda.compile_ptx(hand_rk4, (matrix, matrix, real, real, matrix), cc=(9, 0))
    return ptx


def our_ptx(method: str, precision: str) -> str:
    import cubie_trace as ct
    from cubie_trace.integrators.loop import build_loop
    from cubie_trace.layout import plan
    from cubie_trace.systems.library import lorenz
    from lowering import lower
    from lowering.ptx import compile_ptx

    tol = 1e-8 if precision == "float64" else 1e-5
    options = {"dt": 1e-3} if method == "rk4" else {"rtol": tol, "atol": tol}
    solver = ct.Solver(lorenz(), method, precision=precision, **options)
    program = build_loop(solver.system, solver.spec(1, 1))
    layout = plan(program, policy=solver.policy, precision=precision)
    return compile_ptx(lower(program, layout, target="cuda", precision=precision))


def measure(ptx: str) -> dict[str, Any]:
    from lowering.ptx import loop_instructions, ptxas, sass

    report = {k: v for k, v in ptxas(ptx).items() if k != "log"}
    return {**report, "loop": loop_instructions(sass(ptx)), "pow_calls": ptx.count("pow")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", default=str(HERE / "results" / "gpu_instructions.json"))
    args = parser.parse_args()
    machine = machine_info()
    rows: dict[str, Any] = {}
    for precision in ("float64", "float32"):
        rows[f"hand rk4 {precision}"] = measure(hand_ptx(precision))
        for method in ("rk4", "tsit5"):
            rows[f"ours {method} {precision}"] = measure(our_ptx(method, precision))
    ratios = {p: rows[f"ours rk4 {p}"]["loop"]["total"] / rows[f"hand rk4 {p}"]["loop"]["total"]
              for p in ("float64", "float32")}
    print(f"{'kernel':<22}{'per step':>9}{'registers':>10}{'spills':>7}{'pow':>5}")
    for name, row in rows.items():
        print(f"{name:<22}{row['loop']['total']:>9}{row['registers']:>10}"
              f"{row['spill_stores'] + row['spill_loads']:>7}{row['pow_calls']:>5}")
    for p, ratio in ratios.items():
        print(f"ours / hand, RK4 {p}: {ratio:.2f}x instructions per step")
    record = {"benchmark": "gpu_instructions", "command": command_line(), "machine": machine,
              "arch": "sm_90", "kernels": rows, "rk4_ratio_ours_over_hand": ratios,
              "target_ratio": 1.5}
    Path(args.output).write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
