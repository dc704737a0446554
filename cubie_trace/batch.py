"""Batch inputs: per-run initial values and parameters, and the save times."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np

GRIDS = ("verbatim", "product")


@attrs.frozen
class Batch:
    """Initial values (n_runs, n_states) and parameters (n_runs, n_parameters) of a batch,
    with the swept names and their per-run values."""

    y0: np.ndarray
    parameters: np.ndarray
    swept: dict[str, np.ndarray]

    @property
    def n_runs(self) -> int:
        return int(self.y0.shape[0])


def save_times(t_span: Any, save_every: float | None,
               save_at: Sequence[float] | None, settling_time: float = 0.0) -> np.ndarray:
    """t0, t0 + h, ..., t_end for `save_every=h`; `save_at` as given; else [t_end]. With a
    settling time s, saves start at t0 + s (save_every counts from there)."""
    try:
        t0, t_end = (float(v) for v in t_span)
    except (TypeError, ValueError):
        raise TypeError(f"t_span must be (t0, t_end), got {t_span!r}") from None
    if not (np.isfinite(t0) and np.isfinite(t_end)) or t_end <= t0:
        raise ValueError(f"t_span must be finite with t_end != t0, got {t_span!r}")
    if save_every is not None and save_at is not None:
        raise ValueError("give save_every or save_at, not both")
    settle = float(settling_time)
    if not (np.isfinite(settle) and 0.0 <= settle < t_end - t0):
        raise ValueError(f"settling_time must be in [0, t_end - t0), got {settling_time!r}")
    span = (t0, t_end)
    t0 += settle
    if save_every is not None:
        h = float(save_every)
        if not (np.isfinite(h) and h > 0):
            raise ValueError(f"save_every must be positive, got {save_every!r}")
        count = int(np.floor((t_end - t0) / h * (1 + 1e-12)))
        times = t0 + h * np.arange(count + 1)
        if t_end - times[-1] > 1e-12 * max(1.0, abs(t_end)):
            times = np.append(times, t_end)
        times[-1] = min(times[-1], t_end)
        return times
    if save_at is not None:
        times = np.asarray(save_at, dtype=float).ravel()
        if times.size == 0 or not np.all(np.isfinite(times)):
            raise ValueError("save_at must be a non-empty list of finite times")
        if np.any(np.diff(times) <= 0):
            raise ValueError("save_at must be strictly increasing")
        if times[0] < t0 or times[-1] > t_end:
            raise ValueError(f"save_at must lie within t_span {span!r}"
                             + (f" after the settling time {settle}" if settle else ""))
        return times
    return np.array([t_end])


def summary_window(summaries: Any, summarise_every: float | None,
                   save_every: float | None) -> int:
    """Saves per summary window: summarise_every over save_every (1 without summaries)."""
    if summaries is None:
        return 1
    if save_every is None:
        raise ValueError("summaries need save_every")
    ratio = summarise_every / save_every  # type: ignore[operator]
    if abs(ratio - round(ratio)) > 1e-9 or round(ratio) < 1:
        raise ValueError(f"summarise_every ({summarise_every}) must be a multiple "
                         f"of save_every ({save_every})")
    return int(round(ratio))


def _floats(label: str, value: Any) -> np.ndarray:
    """`value` as a float array, or a TypeError naming `label`."""
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{label} must be numbers in a regular array, got {value!r}") \
            from None


def _values(role: str, names: Sequence[str], defaults: np.ndarray,
            given: Any) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """Per-name values from a dict, or a whole (n_runs, n_names) / (n_names,) array."""
    if given is None:
        return {}, None
    if hasattr(given, "columns") and hasattr(given, "to_numpy"):  # a DataFrame: by name
        given = {str(column): given[column].to_numpy() for column in given.columns}
    if isinstance(given, Mapping):
        unknown = [k for k in given if k not in names]
        if unknown:
            raise ValueError(f"{role}: unknown names {unknown}; known: {list(names)}")
        out = {}
        for key, value in given.items():
            arr = _floats(f"{role}[{key!r}]", value)
            if arr.ndim > 1:
                raise ValueError(f"{role}[{key!r}] must be a scalar or a 1-d array, "
                                 f"got shape {arr.shape}")
            if arr.ndim == 1 and arr.size == 0:
                raise ValueError(f"{role}[{key!r}] is empty: the batch would have no runs")
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"{role}[{key!r}] has non-finite values")
            out[key] = arr
        return out, None
    arr = _floats(role, given)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != len(names):
        raise ValueError(f"{role} array must have shape (n_runs, {len(names)}) or "
                         f"({len(names)},), got {np.asarray(given).shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{role} is empty: the batch would have no runs")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{role} has non-finite values")
    return {}, arr


def build_batch(system: Any, y0: Any, parameters: Any, grid: str = "verbatim") -> Batch:
    """Expand initial values and parameters into per-run arrays."""
    if grid not in GRIDS:
        raise ValueError(f"grid must be one of {GRIDS}, got {grid!r}")
    y_dict, y_arr = _values("y0", system.state_names, system.initial_values, y0)
    p_dict, p_arr = _values("parameters", system.parameter_names, system.default_parameters,
                            parameters)
    named = {**{("y0", k): v for k, v in y_dict.items()},
             **{("p", k): v for k, v in p_dict.items()}}
    sweeps = {k: v for k, v in named.items() if v.ndim == 1}
    fixed_rows = [a.shape[0] for a in (y_arr, p_arr) if a is not None]
    if grid == "product":
        if fixed_rows and max(fixed_rows) > 1:
            raise ValueError("grid='product' takes dicts of values, not per-run arrays")
        combos = list(itertools.product(*sweeps.values())) if sweeps else [()]
        columns = {k: np.array([c[i] for c in combos]) for i, k in enumerate(sweeps)}
        n_runs = len(combos)
    else:
        lengths = {k: v.size for k, v in sweeps.items()}
        sizes = set(lengths.values()) | {r for r in fixed_rows if r > 1}
        if len(sizes) > 1:
            raise ValueError(f"swept values have different lengths {lengths} (and arrays "
                             f"{fixed_rows} runs); give equal lengths or use grid='product'")
        n_runs = sizes.pop() if sizes else 1
        columns = dict(sweeps)
    y = np.tile(system.initial_values.astype(float), (n_runs, 1)) if y_arr is None \
        else np.broadcast_to(y_arr, (n_runs, system.n_states)).copy()
    p = np.tile(system.default_parameters.astype(float), (n_runs, 1)) if p_arr is None \
        else np.broadcast_to(p_arr, (n_runs, system.n_parameters)).copy()
    for (role, name), value in named.items():
        target, names = (y, system.state_names) if role == "y0" else \
            (p, system.parameter_names)
        target[:, list(names).index(name)] = columns.get((role, name), value)
    swept = {name: columns[(role, name)] for role, name in columns}
    return Batch(y, p, swept)
