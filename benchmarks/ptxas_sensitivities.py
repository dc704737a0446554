"""ptxas figures of the CUDA integration loop with forward sensitivities (no GPU needed).

Lorenz, float64 and float32, for RK4 (dt = 1e-3) and Tsit5 (1e-8; 1e-5 in float32), the
loop saving every state alone and with the sensitivities to sigma, rho and beta
(`ct.Solver(..., sensitivities=[...])`): the real CUDA code path compiled to PTX for sm_90 and run
through ptxas (nvJitLink): registers per thread, stack frame, spill stores and loads.
Results go to benchmarks/results/ptxas_sensitivities.json.

    python benchmarks/ptxas_sensitivities.py
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from machine import command_line, machine_info

HERE = Path(__file__).resolve().parent
NAMES = ["sigma", "rho", "beta"]


def main() -> None:
    import cubie_trace as ct
    from cubie_trace.systems.library import lorenz
    from lowering.ptx import compile_ptx, ptxas

    crossing = [ct.Event("z - 25", direction=1, name="z25")]

    rows = []
    for method in ("rk4", "tsit5"):
        for precision in ("float64", "float32"):
            tol = 1e-8 if precision == "float64" else 1e-5
            options = {"dt": 1e-3} if method == "rk4" else {"rtol": tol, "atol": tol}
            for sensitivities, events, as_states in (
                    (None, None, False), (NAMES, None, False), (NAMES, crossing, False),
                    (NAMES, None, True), (NAMES, crossing, True)):
                solver = ct.Solver(lorenz(), method, backend="cpu", precision=precision,
                                   sensitivities=sensitivities, events=events,
                                   sensitivity_error_control=as_states, **options)
                started = time.perf_counter()
                lowered = solver.lowered(11, target="cuda")
                figures = {k: v for k, v in ptxas(compile_ptx(lowered)).items() if k != "log"}
                rows.append({"method": method, "precision": precision,
                             "sensitivities": sensitivities or [],
                             "events": [e.name for e in events or []],
                             "sensitivities_as_states": as_states,
                             "equations": sum(1 for _ in lowered.program.walk()),
                             "seconds": time.perf_counter() - started, **figures})
                row = rows[-1]
                print(f"{method:6s} {precision:8s} sensitivities {len(row['sensitivities'])}"
                      f"{' as states' if as_states else ''} events {len(row['events'])}: "
                      f"{row.get('registers')} registers, stack {row.get('stack_bytes')} B, "
                      f"spills {row.get('spill_stores')} stores / {row.get('spill_loads')} "
                      f"loads ({row['equations']} equations)", flush=True)
    report = {"benchmark": "ptxas_sensitivities", "machine": machine_info(),
              "command": command_line(), "arch": "sm_90", "n_saves": 11, "rows": rows}
    out = HERE / "results" / "ptxas_sensitivities.json"
    out.write_text(json.dumps(report, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
