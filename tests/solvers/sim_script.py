"""Solve a few systems with lowered solvers in numba's CUDA simulator.

Run as `python -m tests.solvers.sim_script` with NUMBA_ENABLE_CUDASIM=1 (numba reads it
on import). Prints one JSON line: per case the statuses and the largest relative error
against numpy.linalg.solve.
"""

from __future__ import annotations

import json

import numpy as np

CASES = [("bicgstab", 3, "shared"), ("lu", 3, "local"), ("gmres", 4, "auto"),
         ("minimal_residual", 2, "local")]


def main() -> None:
    from numba import config

    import cubie_trace as ct
    from lowering import lower
    from tests.solvers.systems import KIND, relative_error, solve_program

    cases = {}
    for method, n, policy in CASES:
        program = solve_program(method, n, tol=1e-13, max_iters=200)
        layout = ct.plan(program, policy=policy)
        layout.verify()
        rng = np.random.default_rng(n)
        matrices = np.stack([KIND[method](rng, n) for _ in range(2)])
        rhs = rng.normal(size=(2, n))
        x, status, _, _ = lower(program, layout, target="cuda").run(
            matrices, rhs, threads_per_block=2)
        error = max(relative_error(x[k], np.linalg.solve(matrices[k], rhs[k]))
                    for k in range(2))
        cases[f"{method}/{policy}"] = {"status": [int(s) for s in status], "error": error}
    print(json.dumps({"simulator": bool(config.ENABLE_CUDASIM), "cases": cases}))


if __name__ == "__main__":
    main()
