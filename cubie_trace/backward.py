"""Integration backward in time: a solve of the system reversed in time, forward."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np

from cubie_trace.integrators.summaries import in_forward_time, reversed_time_request
from cubie_trace.solution import Solution
from cubie_trace.systems.drivers import make_driver, mirrored


def solve_backward(solver: Any, t_span: tuple[float, float], y0: Any, parameters: Any,
                   drivers: Mapping[str, Any] | None, save_every: float | None,
                   save_at: Sequence[float] | None, grid: str, progress: bool,
                   settling_time: float, client: Any, scheduler: str | None,
                   chunks: int | None) -> Solution:
    """Integrate `solver`'s batch from t0 back to t_end < t0: the system in reversed time
    s = -t, forward from -t0 (a solver built once and kept with `solver`'s kernels), its
    times and time-dependent summaries stated in t again."""
    if save_at is not None:
        save_at = -np.asarray(save_at, dtype=float)
        if np.any(np.diff(save_at) <= 0):
            raise ValueError("save_at must be strictly decreasing for a backward t_span")
    if solver.events:
        raise ValueError(f"t_span {tuple(t_span)} runs backward: events are located in "
                         "forward time only")
    if drivers is not None:
        drivers = {name: mirrored(make_driver(name, spec)) for name, spec in drivers.items()}
    key = ("reversed", id(solver.system), id(solver.step), solver.summaries)
    if key not in solver._kernels:
        if not hasattr(solver.system, "reversed_in_time"):
            raise ValueError(f"t_span {tuple(t_span)} runs backward, which needs a system "
                             "with reversed_in_time() (an ODESystem)")
        summaries = reversed_time_request(solver.summaries) if solver.summaries else None
        solver._kernels[key] = solver.replace(system=solver.system.reversed_in_time(),
                                          summaries=summaries)
    # the kept solver fixes the reversed system and step; the other options are this one's
    reversed_solver = solver._kernels[key].replace(**{
        name: value for name, value in solver._arguments.items()
        if name not in ("system", "method", "summaries", "newton", "linear", "jacobian")})
    sol = reversed_solver.solve((-float(t_span[0]), -float(t_span[1])), y0, parameters,
                                drivers, save_every, save_at, grid, progress,
                                settling_time, client=client, scheduler=scheduler,
                                chunks=chunks)
    summaries = None if sol.summaries is None else \
        in_forward_time(sol.summaries, solver.summaries)  # type: ignore[arg-type]
    return attrs.evolve(sol, t=-sol.t, t_final=-sol.t_final, summaries=summaries,
                        info={**sol.info, "direction": "backward"})
