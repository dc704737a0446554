"""`Solution`: the results of a batch, with xarray export and a quick plot."""

from __future__ import annotations

import inspect
import sys
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from cubie_trace.batch import Batch
from cubie_trace.core.step import FINISHED, Status

# the fields holding a batch's results: Dask arrays after a solve on a cluster
RESULTS = ("y", "status", "stats", "t_final", "y_final", "observables", "summaries",
           "sensitivities", "sensitivities_final", "event_t", "event_y", "event_count")


@attrs.frozen
class Occurrences:
    """One event's occurrences in each run: times `t` (n_runs, max_events) and states
    `y` (n_runs, max_events, n_states) of the first max_events (NaN beyond those that
    happened), how many happened (`count`, recorded or not) and whether more happened
    than were recorded (`overflow`)."""

    t: Any
    y: Any
    count: Any

    @property
    def overflow(self) -> Any:
        return self.count > self.t.shape[-1]


@attrs.frozen
class Solution:
    """Saved times `t` (n_saves,), saved states `y` (n_runs, n_saves, n_saved; None when
    no state is saved) named by `saved_states`, observables likewise, summaries
    (statistic -> (n_runs, n_windows, n_summarised); windows of `window` saves), where
    each run stopped (`t_final`, `y_final`), per-run `status` codes, `stats` counters
    (accepted and rejected steps, then the loop's counters: Newton and Krylov iterations
    and whatever the step reports), and `info` on the run (backend, method, tolerances,
    timings), with the system's `units` and `descriptions` by name; with sensitivities,
    `sensitivities` (n_runs, n_saves, n_saved, n_sensitivities), d saved state / d each
    of `sensitivity_names`, and `sensitivities_final` (n_runs, n_states, n_sensitivities)
    of the final state; with events, `events` (name -> `Occurrences`), from `event_t`
    (n_runs, n_events, max_events), `event_y` (..., n_states) and `event_count` (n_runs,
    n_events) in the order of `event_names`. Saves a run did not reach are NaN. After a
    solve on a Dask cluster the results (`RESULTS`) are Dask arrays (`lazy`) until
    `compute()`."""

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
    window: int = 1
    info: dict[str, Any] = attrs.field(factory=dict)
    units: dict[str, str] = attrs.field(factory=dict)
    descriptions: dict[str, str] = attrs.field(factory=dict)
    sensitivities: np.ndarray | None = None
    sensitivities_final: np.ndarray | None = None
    sensitivity_names: tuple[str, ...] = ()
    event_t: np.ndarray | None = None
    event_y: np.ndarray | None = None
    event_count: np.ndarray | None = None
    event_names: tuple[str, ...] = ()

    @property
    def events(self) -> dict[str, Occurrences]:
        """Each event's occurrences by name (empty without events)."""
        return {name: Occurrences(self.event_t[:, k], self.event_y[:, k],
                                  self.event_count[:, k])
                for k, name in enumerate(self.event_names)}

    @property
    def lazy(self) -> bool:
        """Whether the results are Dask arrays not computed here (a solve on a cluster)."""
        return hasattr(self.status, "__dask_graph__")

    def compute(self, **kwargs: Any) -> Solution:
        """This Solution with its Dask arrays computed, all in one pass so each chunk of
        runs is solved once, and its failures warned of; `kwargs` go to `dask.compute`.
        A Solution already in memory is returned as it is."""
        if not self.lazy:
            return self
        import dask

        (results,) = dask.compute(self._results(), **kwargs)
        solution = attrs.evolve(self, **results)
        solution.warn_failures()
        return solution

    def persist(self, **kwargs: Any) -> Solution:
        """This Solution with its Dask arrays computed and kept where they were computed
        (on the cluster's workers), still Dask arrays; `kwargs` go to `dask.persist`."""
        if not self.lazy:
            return self
        import dask

        (results,) = dask.persist(self._results(), **kwargs)
        return attrs.evolve(self, **results)

    def to_zarr(self, store: Any, **kwargs: Any) -> Any:
        """Write `to_xarray()` to a Zarr store (a path, or any store xarray takes). Dask
        arrays are written chunk by chunk where they are computed, so results larger than
        this process's memory can be written. The swept names become plain coordinates on
        `run` (a Zarr store holds no multi-index: `ds.set_index(run=[...])` after
        `xarray.open_zarr` restores it). `kwargs` go to `xarray.Dataset.to_zarr`."""
        ds = self.to_xarray()
        if self.swept:
            ds = ds.reset_index("run")
        # names as variable-length strings, which Zarr's format 3 specifies (fixed-width
        # ones it does not)
        names = {name: coord.astype(object) for name, coord in ds.coords.items()
                 if coord.dtype.kind == "U"}
        return ds.assign_coords(names).to_zarr(store, **kwargs)

    def _results(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in RESULTS}

    @property
    def ok(self) -> np.ndarray:
        """Runs that finished successfully (at the end of the span, or stopped by a
        terminal event)."""
        return np.isin(self.status, [int(s) for s in FINISHED])

    @property
    def n_runs(self) -> int:
        return int(self.status.shape[0])

    @property
    def status_names(self) -> np.ndarray:
        """Each run's status by name ("OK", "MAX_STEPS", ...)."""
        names = np.array([s.name for s in Status])
        return names[self.status]

    def failures(self) -> dict[str, int]:
        """How many runs ended with each failing status (computing a lazy Solution's
        statuses)."""
        status = np.asarray(self.status)
        failed = ~np.isin(status, [int(s) for s in FINISHED])
        codes, counts = np.unique(status[failed], return_counts=True)
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
                          RuntimeWarning, stacklevel=_outside_package())

    @classmethod
    def from_outputs(cls, solver: Any, ts: np.ndarray, window: int, batch: Batch, out: dict,
                     info: dict[str, Any]) -> Solution:
        """The Solution of a batch from the loop's outputs (with a leading run axis), for
        save times `ts` summarised over windows of `window` saves."""
        system, spec = solver.system, solver.spec(len(ts), window)
        names = tuple(system.state_names)
        obs = tuple(getattr(system, "observable_names", ()))

        def chosen(all_names: tuple[str, ...], indices: tuple[int, ...] | None) -> tuple:
            return all_names if indices is None else tuple(all_names[i] for i in indices)

        stats = {"accepted": out["accepted"], "rejected": out["rejected"], **out["counters"]}
        names_s = tuple(solver.sensitivities or ())
        found = out.get("sensitivities") or {}

        def stacked(key: str) -> Any:
            parts = [found[name][key] for name in names_s if key in found[name]]
            return np.stack(parts, axis=-1) if names_s and len(parts) == len(names_s) \
                else None

        names_e = tuple(e.name for e in getattr(solver, "events", ()))
        occurred = out.get("events") or {}

        def per_event(key: str) -> Any:
            return np.stack([occurred[name][key] for name in names_e], axis=1) \
                if names_e else None

        return cls(t=ts, y=out.get("y"), status=out["status"], stats=stats,
                   state_names=names, parameters=batch.parameters,
                   parameter_names=tuple(system.parameter_names), y0=batch.y0,
                   swept=batch.swept, t_final=out["t_final"], y_final=out["y_final"],
                   saved_states=chosen(names, spec.saved_states),
                   observables=out.get("observables"),
                   observable_names=chosen(obs, spec.saved_observables) if obs else (),
                   summaries=out.get("summaries"),
                   summarised_states=chosen(names, spec.summarised), window=window,
                   units=dict(getattr(system, "units", {})),
                   descriptions=dict(getattr(system, "descriptions", {})),
                   info=info, sensitivities=stacked("y"),
                   sensitivities_final=stacked("y_final"), sensitivity_names=names_s,
                   event_t=per_event("t"), event_y=per_event("y"),
                   event_count=per_event("count"), event_names=names_e)

    @property
    def window_times(self) -> tuple[np.ndarray, np.ndarray]:
        """The first and last save time of each summary window."""
        n_windows = -(-len(self.t) // self.window)
        first = np.arange(n_windows) * self.window
        return self.t[first], self.t[np.minimum(first + self.window, len(self.t)) - 1]

    def run_label(self, run: int) -> str:
        """A run named by its swept values ("mu = 2, D = 0.01"), or by its number."""
        if not self.swept:
            return f"run {run}"
        return ", ".join(f"{name} = {values[run]:.4g}" for name, values in self.swept.items())

    def select(self, where: Mapping[str, Any] | Callable[..., Any]) -> np.ndarray:
        """The runs whose swept or parameter values match `where`: a dict of
        name -> value (equal to rounding) or a predicate taking the per-run arrays of the
        names it declares (`lambda rho, beta: ...`)."""
        columns = {**{n: self.parameters[:, i] for i, n in enumerate(self.parameter_names)},
                   **self.swept}
        if callable(where):
            wanted = inspect.signature(where).parameters
            if not any(p.kind is p.VAR_KEYWORD for p in wanted.values()):
                unknown = [name for name in wanted if name not in columns]
                if unknown:
                    raise ValueError(f"where: unknown names {unknown}; known: {list(columns)}")
                columns = {name: columns[name] for name in wanted}
            mask = np.asarray(where(**columns), dtype=bool)
        else:
            unknown = [name for name in where if name not in columns]
            if unknown:
                raise ValueError(f"where: unknown names {unknown}; known: {list(columns)}")
            mask = np.ones(self.n_runs, dtype=bool)
            for name, value in where.items():
                mask &= np.isclose(columns[name], float(value), rtol=1e-12, atol=0.0)
        return np.flatnonzero(np.broadcast_to(mask, (self.n_runs,)))

    def to_xarray(self) -> Any:
        """An `xarray.Dataset` with dimensions run, time, state (and observable, window).
        Each swept parameter or initial value is a level of the `run` index, so
        `ds.sel(mu=2.0)` picks runs and, for `grid="product"`, `ds.unstack("run")` gives
        one dimension per swept name; summary windows carry their first and last save
        time, and a dimension of names its names' units and descriptions where the system
        gives any (`state_units`, `parameter_description`, ...)."""
        try:
            import pandas as pd
            import xarray as xr
        except ImportError:  # pragma: no cover - optional extra
            raise ImportError("to_xarray needs xarray: pip install 'cubie-trace[xarray]'") \
                from None

        def state_dim(names: tuple[str, ...], prefix: str) -> str:
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
                                  "parameter": list(self.parameter_names)}
        if self.y is not None:
            dim = state_dim(self.saved_states, "saved")
            data["y"] = (("run", "time", dim), self.y)
            coords[dim] = list(self.saved_states)
        if self.sensitivities is not None:
            dim = state_dim(self.saved_states, "saved")
            data["y_sensitivity"] = (("run", "time", dim, "sensitivity"), self.sensitivities)
        if self.sensitivities_final is not None:
            data["y_final_sensitivity"] = (("run", "state", "sensitivity"),
                                         self.sensitivities_final)
            coords["sensitivity"] = list(self.sensitivity_names)
        if self.event_names:
            data["event_t"] = (("run", "event", "occurrence"), self.event_t)
            data["event_y"] = (("run", "event", "occurrence", "state"), self.event_y)
            data["event_count"] = (("run", "event"), self.event_count)
            coords["event"] = list(self.event_names)
        if self.observables is not None:
            data["observables"] = (("run", "time", "observable"), self.observables)
            coords["observable"] = list(self.observable_names)
        if self.summaries:
            dim = state_dim(self.summarised_states, "summarised")
            for stat, values in self.summaries.items():
                data[f"summary_{stat}"] = (("run", "window", dim), values)
            coords[dim] = list(self.summarised_states)
            start, end = self.window_times
            coords["window_start"] = (("window",), start)
            coords["window_end"] = (("window",), end)
        for dim in [d for d in coords if d in ("state", "parameter", "observable")
                    or d.endswith("_state")]:
            for what, table in (("units", self.units), ("description", self.descriptions)):
                if any(name in table for name in coords[dim]):
                    coords[f"{dim}_{what}"] = ((dim,), [table.get(n, "") for n in coords[dim]])
        ds = xr.Dataset(data, coords=coords, attrs={k: str(v) for k, v in self.info.items()})
        if not self.swept:
            return ds.assign_coords(run=np.arange(self.n_runs))
        index = pd.MultiIndex.from_arrays(list(self.swept.values()), names=list(self.swept))
        return ds.assign_coords(xr.Coordinates.from_pandas_multiindex(index, "run"))

    def plot(self, variables: Any = None, runs: Any = None,
             where: Mapping[str, Any] | Callable[..., Any] | None = None,
             ax: Any = None) -> Any:
        """Trajectories of saved states or observables (`variables`, by name; all saved
        states by default) for a few runs (the first five of `runs`, or of the runs
        matching `where`), labelled by their swept values; one panel per variable when
        there are more than three. Returns the Figure."""
        from matplotlib.figure import Figure

        names = list(self.saved_states if variables is None else np.atleast_1d(variables))
        series = {**({n: self.y[..., i] for i, n in enumerate(self.saved_states)}
                     if self.y is not None else {}),
                  **({n: self.observables[..., i] for i, n in enumerate(self.observable_names)}
                     if self.observables is not None else {})}
        if not series:
            raise ValueError("plot: no trajectories were saved (save=None)")
        missing = [n for n in names if n not in series]
        if missing or not names:
            raise ValueError(f"plot: {missing or 'nothing'} not saved; saved: {list(series)}")
        picked = np.arange(self.n_runs) if runs is None else np.atleast_1d(runs).astype(int)
        if where is not None:
            picked = np.intersect1d(picked, self.select(where))
            if picked.size == 0:
                raise ValueError(f"plot: no run matches where={where!r}")
        if runs is None:
            picked = picked[:5]
        panels = len(names) > 3
        if ax is not None and panels:
            raise ValueError("plot: ax= takes at most three variables (they share one axis)")
        if ax is None:
            cols = int(np.ceil(np.sqrt(len(names)))) if panels else 1
            rows = -(-len(names) // cols) if panels else 1
            fig = Figure(figsize=(4 * cols + 3, 2.6 * rows + 1.4), layout="constrained")
            axes = list(np.atleast_1d(fig.subplots(rows, cols, sharex=True, squeeze=False)
                                      ).ravel())
            for extra in axes[len(names):]:
                extra.set_visible(False)
        else:
            fig, axes = ax.figure, [ax]
        for k, name in enumerate(names):
            target = axes[k] if panels else axes[0]
            for r in picked:
                label = self.run_label(int(r)) + ("" if panels or len(names) == 1
                                                  else f": {name}")
                target.plot(self.t, series[name][r], label=label)
            target.set_ylabel(self._axis_label(name))
        for target in axes[-len(names):] if panels else axes:
            target.set_xlabel("t")
        if not panels:
            axes[0].set_ylabel(", ".join(self._axis_label(n) for n in names))
        axes[0].legend(fontsize="small", ncol=2 if len(picked) > 3 else 1)
        return fig

    def _axis_label(self, name: str) -> str:
        """`name`, with its unit where the system gives one ("V [mV]")."""
        return f"{name} [{self.units[name]}]" if self.units.get(name) else name


def _outside_package() -> int:
    """The stack level of the first caller outside cubie_trace (for warnings)."""
    package = str(Path(__file__).parent)
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(package):
        frame, level = frame.f_back, level + 1
    return level
