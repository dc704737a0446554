"""`Solution`: the results of a batch, with xarray export and a quick plot."""

from __future__ import annotations

import warnings
from typing import Any

import attrs
import numpy as np

from cubie_trace.batch import Batch
from cubie_trace.core.step import Status


@attrs.frozen
class Solution:
    """Saved times `t` (n_saves,), saved states `y` (n_runs, n_saves, n_saved; None when
    no state is saved) named by `saved_states`, observables likewise, summaries
    (statistic -> (n_runs, n_windows, n_summarised)), where each run stopped (`t_final`,
    `y_final`), per-run `status` codes, `stats` counters (accepted and rejected steps,
    then the loop's counters: Newton and Krylov iterations and whatever the step
    reports), and `info` on the run (backend, method, tolerances, timings). Saves a run
    did not reach are NaN."""

    t: np.ndarray
    y: np.ndarray | None
    status: np.ndarray
    stats: dict[str, np.ndarray]
    state_names: tuple[str, ...]
    parameters: np.ndarray
    parameter_names: tuple[str, ...]
    y0: np.ndarray
    swept: dict[str, np.ndarray]
    t_final: np.ndarray
    y_final: np.ndarray
    saved_states: tuple[str, ...] = ()
    observables: np.ndarray | None = None
    observable_names: tuple[str, ...] = ()
    summaries: dict[str, np.ndarray] | None = None
    summarised_states: tuple[str, ...] = ()
    info: dict[str, Any] = attrs.field(factory=dict)

    @property
    def ok(self) -> np.ndarray:
        """Runs that finished successfully."""
        return self.status == int(Status.OK)

    @property
    def n_runs(self) -> int:
        return int(self.status.shape[0])

    @property
    def status_names(self) -> np.ndarray:
        """Each run's status by name ("OK", "MAX_STEPS", ...)."""
        names = np.array([s.name for s in Status])
        return names[self.status]

    def failures(self) -> dict[str, int]:
        """How many runs ended with each failing status."""
        codes, counts = np.unique(self.status[~self.ok], return_counts=True)
        return {Status(int(code)).name: int(k) for code, k in zip(codes, counts)}

    def warn_failures(self) -> None:
        """One RuntimeWarning summarising the failed runs, if any failed."""
        failed = self.failures()
        if failed:
            total = sum(failed.values())
            detail = ", ".join(f"{k} {name}" for name, k in
                               sorted(failed.items(), key=lambda item: -item[1]))
            warnings.warn(f"{total:,} of {self.n_runs:,} runs failed: {detail}; see "
                          "sol.status (their saves after the failure are NaN)",
                          RuntimeWarning, stacklevel=3)

    @classmethod
    def from_outputs(cls, solver: Any, ts: np.ndarray, batch: Batch, out: dict,
                     info: dict[str, Any]) -> Solution:
        """The Solution of a batch from the loop's outputs (with a leading run axis)."""
        system, spec = solver.system, solver.spec(len(ts))
        names = tuple(system.state_names)
        obs = tuple(getattr(system, "observable_names", ()))

        def chosen(all_names: tuple[str, ...], indices: tuple[int, ...] | None) -> tuple:
            return all_names if indices is None else tuple(all_names[i] for i in indices)

        stats = {"accepted": out["accepted"], "rejected": out["rejected"], **out["counters"]}
        return cls(t=ts, y=out.get("y"), status=out["status"], stats=stats,
                   state_names=names, parameters=batch.parameters,
                   parameter_names=tuple(system.parameter_names), y0=batch.y0,
                   swept=batch.swept, t_final=out["t_final"], y_final=out["y_final"],
                   saved_states=chosen(names, spec.saved_states),
                   observables=out.get("observables"),
                   observable_names=chosen(obs, spec.saved_observables) if obs else (),
                   summaries=out.get("summaries"),
                   summarised_states=chosen(names, spec.summarised), info=info)

    def to_xarray(self) -> Any:
        """An `xarray.Dataset` with dimensions run, time, state (and observable, window)."""
        try:
            import xarray as xr
        except ImportError:  # pragma: no cover - optional extra
            raise ImportError("to_xarray needs xarray: pip install 'cubie-trace[xarray]'") \
                from None
        def state_dim(names: tuple[str, ...]) -> str:
            return "state" if names == self.state_names else f"{prefix}_state"

        data: dict[str, Any] = {
            "status": (("run",), self.status),
            "t_final": (("run",), self.t_final),
            "y_final": (("run", "state"), self.y_final),
            "parameters": (("run", "parameter"), self.parameters),
            "y0": (("run", "state"), self.y0),
            **{name: (("run",), values) for name, values in self.stats.items()},
        }
        coords: dict[str, Any] = {"time": self.t, "state": list(self.state_names),
                                  "parameter": list(self.parameter_names),
                                  "run": np.arange(self.n_runs)}
        prefix = "saved"
        if self.y is not None:
            data["y"] = (("run", "time", state_dim(self.saved_states)), self.y)
            coords[state_dim(self.saved_states)] = list(self.saved_states)
        if self.observables is not None:
            data["observables"] = (("run", "time", "observable"), self.observables)
        prefix = "summarised"
        for stat, values in (self.summaries or {}).items():
            data[f"summary_{stat}"] = (("run", "window", state_dim(self.summarised_states)),
                                       values)
            coords[state_dim(self.summarised_states)] = list(self.summarised_states)
        if self.observable_names:
            coords["observable"] = list(self.observable_names)
        return xr.Dataset(data, coords=coords, attrs={k: str(v) for k, v in self.info.items()})

    def plot(self, runs: Any = None, states: Any = None, ax: Any = None) -> Any:
        """Trajectories of a few runs (the first five by default); returns the Figure."""
        from matplotlib.figure import Figure

        picked = list(range(min(5, self.n_runs))) if runs is None else list(np.atleast_1d(runs))
        if self.y is None:
            raise ValueError("plot: no trajectories were saved (save=None)")
        names = list(self.saved_states) if states is None else list(np.atleast_1d(states))
        if ax is None:
            fig = Figure(figsize=(7, 4))
            ax = fig.add_subplot()
        else:
            fig = ax.figure
        for r in picked:
            for name in names:
                ax.plot(self.t, self.y[r, :, self.saved_states.index(name)],
                        label=f"run {r}: {name}")
        ax.set_xlabel("t")
        ax.legend(fontsize="small", ncol=2)
        return fig
