"""GPU throughput on the Lorenz ensemble (BENCHMARKS.md section 4).

sigma = 10, beta = 8/3, rho = linspace(0, 21, N), u0 = (1, 0, 0), t in [0, 1]:
fixed-step RK4 (dt = 1e-3, 1000 steps) and adaptive tsit5 (rtol = atol = 1e-8),
float32 and float64, N = 2^16 .. 2^23. Reports kernel time (CUDA events) and
wall time including transfers separately, registers per thread and spills
(ptxas), an occupancy estimate from the registers, and the compute floor for
RK4 (about 79 floating-point operations per step against the card's peak).

    python benchmarks/gpu_lorenz.py                 # on a machine with a GPU
    NUMBA_ENABLE_CUDASIM=1 python benchmarks/gpu_lorenz.py --sizes 4 --repeats 1
                                                     # smoke test in the simulator
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

FLOPS_PER_RK4_STEP = 79
# vector (non-tensor) peaks in FLOP/s by device name fragment
PEAKS = {"H200": {"float32": 67e12, "float64": 34e12},
         "H100": {"float32": 67e12, "float64": 34e12},
         "A100": {"float32": 19.5e12, "float64": 9.7e12},
         "V100": {"float32": 15.7e12, "float64": 7.8e12}}
REGISTERS_PER_SM = 65536
MAX_THREADS_PER_SM = 2048


def device_name() -> str:
    from numba import cuda

    try:
        return cuda.get_current_device().name.decode() if hasattr(
            cuda.get_current_device().name, "decode") else str(cuda.get_current_device().name)
    except Exception:
        return "simulator"


def peak(name: str, precision: str) -> float | None:
    for key, values in PEAKS.items():
        if key in name:
            return values[precision]
    return None


def code_quality(lowered: object) -> dict:
    """Registers, stack and spills of the batch kernel for sm_90 (no GPU needed; not
    available inside the simulator, which compiles nothing)."""
    from lowering.memory import simulator_enabled
    from lowering.ptx import compile_ptx, ptxas

    if simulator_enabled():
        return {"registers": 0, "stack_bytes": None, "spill_stores": 0, "spill_loads": None,
                "occupancy_threads_per_sm": None}
    report = ptxas(compile_ptx(lowered))  # type: ignore[arg-type]
    report.pop("log")
    regs = max(report["registers"], 1)
    report["occupancy_threads_per_sm"] = min(MAX_THREADS_PER_SM,
                                             REGISTERS_PER_SM // regs // 32 * 32)
    return report


def measure(method: str, precision: str, n: int, repeats: int) -> dict:
    import cubie_trace as ct
    from cubie_trace.systems.library import lorenz

    options = {"dt": 1e-3} if method == "rk4" else {"rtol": 1e-8, "atol": 1e-8}
    solver = ct.Solver(lorenz(), method, backend="cuda", precision=precision, **options)
    rhos = np.linspace(0.0, 21.0, n)
    solver.solve((0.0, 1.0), parameters={"rho": rhos}, progress=False)  # compile, warm up
    kernel, wall = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        sol = solver.solve((0.0, 1.0), parameters={"rho": rhos}, progress=False)
        wall.append(time.perf_counter() - started)
        kernel.append(sol.info["kernel_s"])
    steps = int(sol.stats["accepted"].sum())
    row = {"method": method, "precision": precision, "n": n,
           "kernel_s": float(np.median(kernel)), "wall_s": float(np.median(wall)),
           "steps": steps, "ok": bool(sol.ok.all()), "launch": sol.info["launch"]}
    row.update(code_quality(solver.compiled(1)[2]))
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+",
                        default=[2 ** k for k in range(16, 24)], help="batch sizes N")
    parser.add_argument("--methods", nargs="+", default=["rk4", "tsit5"])
    parser.add_argument("--precisions", nargs="+", default=["float32", "float64"])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).parent / "results" / "gpu_lorenz.json")
    args = parser.parse_args()
    name = device_name()
    rows = []
    print(f"device: {name}")
    print(f"{'method':<7}{'prec':<9}{'N':>9}{'kernel s':>11}{'wall s':>10}{'steps/s':>11}"
          f"{'regs':>6}{'spill':>7}{'floor s':>10}")
    for method in args.methods:
        for precision in args.precisions:
            for n in args.sizes:
                row = measure(method, precision, n, args.repeats)
                top = peak(name, precision)
                row["compute_floor_s"] = (FLOPS_PER_RK4_STEP * n * 1000 / top
                                          if method == "rk4" and top else None)
                rows.append(row)
                kernel = row["kernel_s"] or float("nan")
                floor = row["compute_floor_s"]
                print(f"{method:<7}{precision:<9}{n:>9}{kernel:>11.4f}{row['wall_s']:>10.4f}"
                      f"{row['steps'] / kernel:>11.3g}{row['registers']:>6}"
                      f"{row['spill_stores']:>7}{floor if floor else float('nan'):>10.2e}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "device": name, "command": " ".join(sys.argv), "python": platform.python_version(),
        "published_v100_2_23_float32_s": {"DiffEqGPU.jl": 0.145, "MPGOS": 0.094,
                                          "JAX diffrax": 10.0, "adaptive DiffEqGPU.jl": 0.069,
                                          "adaptive MPGOS": 0.049, "adaptive JAX": 2.61},
        "rows": rows}, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
