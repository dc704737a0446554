"""Radau IIA 5 on Robertson in numba's CUDA simulator and on the CPU target.

Run as `python -m tests.integrators.firk_sim_script` with NUMBA_ENABLE_CUDASIM=1 (numba
reads it on import, so this must be its own process). Prints one JSON line: the
final states of both targets and whether every run succeeded.
"""

from __future__ import annotations

import json

import numpy as np

import cubie_trace as ct
from cubie_trace.systems import library


def main() -> None:
    from numba import config

    k1 = np.array([0.04, 0.05])
    out: dict = {"simulator": bool(config.ENABLE_CUDASIM)}
    for backend in ("cuda", "cpu"):
        solver = ct.Solver(library.robertson(), "radau", rtol=1e-6, atol=1e-10,
                           backend=backend)
        sol = solver.solve((0.0, 1.0), parameters={"k1": k1}, save_at=[1.0], progress=False)
        out[backend] = {"y": sol.y[:, -1].tolist(), "ok": bool(np.all(sol.ok)),
                        "newton_iterations": sol.stats["newton_iterations"].tolist()}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
