"""`Solution`: the results of a batch, with xarray export and a quick plot."""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np

from cubie_trace.batch import Batch
from cubie_trace.core.step import Status


@attrs.frozen
class Solution:
    """Saved times `t` (n_saves,), states `y` (n_runs, n_saves, n_states), observables,
    summaries (statistic -> (n_runs, n_windows, n_states)), per-run `status` codes and
    `stats` counters (accepted and rejected steps, then the loop's counters: Newton and
    Krylov iterations and whatever the step reports), and `info` on the run (backend,
    method, timings)."""

    t: np.ndarray
    y: np.ndarray
    status: np.ndarray
    stats: dict[str, np.ndarray]
    state_names: tuple[str, ...]
    parameters: np.ndarray
    parameter_names: tuple[str, ...]
    y0: np.ndarray
    swept: dict[str, np.ndarray]
    observables: np.ndarray | None = None
    observable_names: tuple[str, ...] = ()
    summaries: dict[str, np.ndarray] | None = None
    info: dict[str, Any] = attrs.field(factory=dict)

    @property
    def ok(self) -> np.ndarray:
        """Runs that finished successfully."""
        return self.status == int(Status.OK)

    @property
    def n_runs(self) -> int:
        return int(self.y.shape[0])

    @classmethod
    def from_pieces(cls, system: Any, ts: np.ndarray, batch: Batch, pieces: list[dict],
                    info: dict[str, Any]) -> Solution:
        """Join the outputs of the batch's chunks."""
        def join(key: str) -> np.ndarray:
            return np.concatenate([np.asarray(p[key]) for p in pieces])

        first = pieces[0]
        summaries = None
        if "summaries" in first:
            summaries = {s: np.concatenate([p["summaries"][s] for p in pieces])
                         for s in first["summaries"]}
        stats = {"accepted": join("accepted"), "rejected": join("rejected")}
        stats.update({name: np.concatenate([p["counters"][name] for p in pieces])
                      for name in first["counters"]})
        return cls(t=ts, y=join("y"), status=join("status"), stats=stats,
                   state_names=tuple(system.state_names), parameters=batch.parameters,
                   parameter_names=tuple(system.parameter_names), y0=batch.y0,
                   swept=batch.swept,
                   observables=join("observables") if "observables" in first else None,
                   observable_names=tuple(getattr(system, "observable_names", ())),
                   summaries=summaries, info=info)

    def to_xarray(self) -> Any:
        """An `xarray.Dataset` with dimensions run, time, state (and observable, window)."""
        try:
            import xarray as xr
        except ImportError:  # pragma: no cover - optional extra
            raise ImportError("to_xarray needs xarray: pip install 'cubie-trace[xarray]'") \
                from None
        data: dict[str, Any] = {
            "y": (("run", "time", "state"), self.y),
            "status": (("run",), self.status),
            "parameters": (("run", "parameter"), self.parameters),
            "y0": (("run", "state"), self.y0),
            **{name: (("run",), values) for name, values in self.stats.items()},
        }
        if self.observables is not None:
            data["observables"] = (("run", "time", "observable"), self.observables)
        for stat, values in (self.summaries or {}).items():
            data[f"summary_{stat}"] = (("run", "window", "state"), values)
        coords: dict[str, Any] = {"time": self.t, "state": list(self.state_names),
                                  "parameter": list(self.parameter_names),
                                  "run": np.arange(self.n_runs)}
        if self.observable_names:
            coords["observable"] = list(self.observable_names)
        return xr.Dataset(data, coords=coords, attrs={k: str(v) for k, v in self.info.items()})

    def plot(self, runs: Any = None, states: Any = None, ax: Any = None) -> Any:
        """Trajectories of a few runs (the first five by default); returns the Figure."""
        from matplotlib.figure import Figure

        picked = list(range(min(5, self.n_runs))) if runs is None else list(np.atleast_1d(runs))
        names = list(self.state_names) if states is None else list(np.atleast_1d(states))
        if ax is None:
            fig = Figure(figsize=(7, 4))
            ax = fig.add_subplot()
        else:
            fig = ax.figure
        for r in picked:
            for name in names:
                ax.plot(self.t, self.y[r, :, self.state_names.index(name)],
                        label=f"run {r}: {name}")
        ax.set_xlabel("t")
        ax.legend(fontsize="small", ncol=2)
        return fig
