"""Solve with a new Solver in a fresh process, drop it, collect garbage and print JSON:
whether its generated module is still alive or registered in sys.modules, and how Numba
got the kernel's machine code (compiled or from its cache).

Run as `python -m tests.lowering.release_script` from the repository root.
"""

from __future__ import annotations

import gc
import json
import sys
import weakref

import cubie_trace as ct


def main() -> None:
    system = ct.ODESystem.from_equations(["dx = -k*x + 0.125"], states={"x": 1.0},
                                         parameters={"k": 1.0})
    solver = ct.Solver(system, method="euler", dt=0.125, backend="cpu")
    sol = solver.solve((0.0, 0.5), parameters={"k": [1.0, 2.0]}, progress=False)
    lowered = solver.compiled()[2]
    module, name = weakref.ref(lowered.module), lowered.module.__name__
    stats = lowered.kernel.stats
    hits, misses = sum(stats.cache_hits.values()), sum(stats.cache_misses.values())
    final = sol.y[:, -1, 0].tolist()
    del solver, sol, lowered, stats
    gc.collect()
    print(json.dumps({"alive": module() is not None, "registered": name in sys.modules,
                      "hits": hits, "misses": misses, "final": final}))


if __name__ == "__main__":
    main()
