"""Events and sensitivities in numba's CUDA simulator and on the CPU target.

Run as `python -m tests.integrators.events_sim_script` with NUMBA_ENABLE_CUDASIM=1
(numba reads it on import, so this must be its own process). Prints one JSON line: the
results of both targets.
"""

from __future__ import annotations

import json

import numpy as np

import cubie_trace as ct

W = [1.0, 1.5, 2.5]


def main() -> None:
    from numba import config

    oscillator = ct.ODESystem.from_equations(
        ["dx = w*v", "dv = -w*x"], states={"x": 1.0, "v": 0.0}, parameters={"w": 1.0})
    events = [ct.Event("x", name="x0"), ct.Event("v", direction=1, terminal=2, name="rise")]
    out: dict = {"simulator": bool(config.ENABLE_CUDASIM)}
    for backend in ("cuda", "cpu"):
        sol = ct.solve_ivp(oscillator, (0.0, 10.0), parameters={"w": W}, rtol=1e-8,
                           atol=1e-10, backend=backend, events=events, max_events=4,
                           sensitivities=["w", "x"], save_every=1.0, progress=False)
        out[backend] = {
            "status": sol.status.tolist(), "t_final": sol.t_final.tolist(),
            "y": np.nan_to_num(sol.y, nan=-1e300).tolist(),
            "sensitivities": np.nan_to_num(sol.sensitivities, nan=-1e300).tolist(),
            "event_t": np.nan_to_num(sol.event_t, nan=-1e300).tolist(),
            "event_y": np.nan_to_num(sol.event_y, nan=-1e300).tolist(),
            "event_count": sol.event_count.tolist()}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
