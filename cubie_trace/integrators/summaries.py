"""Running summaries of saved states over windows of consecutive saves.

Window j holds saves j*w .. j*w + w - 1 (w = `window`; the last window may be
partial). Every save updates per-state accumulators and rewrites row j of one
(n_windows, n) output stack per statistic, so no branch is needed, a partial last
window is summarised too, and the rows of windows a run never reached stay NaN.

For a window's samples y_1 .. y_k of one state, saved at times t_1 .. t_k:

- ``mean``: sum(y) / k. ``std``: sqrt(sum((y - mean)**2) / k) (population, ddof 0).
  ``rms``: sqrt(sum(y**2) / k), computed as sqrt(mean**2 + std**2). All three come
  from Welford's update on y - y_1 (the window's first sample), so a small variation
  on a large offset keeps its digits in float32.
- ``max``, ``min``; ``max_magnitude``: max |y|; ``time_of_max``, ``time_of_min``: the
  t of the first sample attaining the window's max / min.
- ``dxdt_max``, ``dxdt_min``: the extremes of the slopes
  s_i = (y_i - y_{i-1}) / (t_i - t_{i-1}), i = 2 .. k; NaN when k < 2.
- ``d2xdt2_max``, ``d2xdt2_min``: the extremes of the three-point second differences
  2 * (s_i - s_{i-1}) / (t_i - t_{i-2}), i = 3 .. k (exact for a parabola on any
  spacing); NaN when k < 3.
- ``peaks``, ``negative_peaks``: the number of interior maxima / minima that stand out
  by more than tol = peak_atol + peak_rtol * (max |y| so far in the window), counted
  with hysteresis: a maximum is counted when the samples, having risen more than tol
  above a minimum (the window's lowest sample so far, or the last minimum reached),
  then fall more than tol below the highest sample since; minima likewise, mirrored.
  So wiggles no larger than tol are ignored however densely a real oscillation is
  sampled, and an extremum at the window's edge is not counted. With tol = 0 and no
  two equal consecutive samples this is the number of samples greater (smaller) than
  both neighbours. NaN when k < 3. The default peak_rtol = 1e-6 is about 8 float32
  ulps and far above float64 round-off, so a state held at an equilibrium (other
  than 0) reports no peaks; an equilibrium at 0 needs an absolute `peak_atol`.
"""

from __future__ import annotations

import math
from typing import Any

import attrs

from cubie_trace.core import ops

NAN = float("nan")
STATISTICS = ("mean", "max", "min", "rms", "std", "peaks", "negative_peaks", "max_magnitude",
              "dxdt_max", "dxdt_min", "d2xdt2_max", "d2xdt2_min", "time_of_max", "time_of_min")
# accumulator groups: the statistics each serves and the per-state buffers it carries
GROUPS = {
    "moments": (("mean", "std", "rms"), ("shift", "mean", "m2")),
    "max": (("max", "time_of_max"), ("max", "t_max")),
    "min": (("min", "time_of_min"), ("min", "t_min")),
    "magnitude": (("max_magnitude", "peaks", "negative_peaks"), ("max_abs",)),
    "derivatives": (("dxdt_max", "dxdt_min", "d2xdt2_max", "d2xdt2_min"),
                    ("prev", "slope", "dxdt_max", "dxdt_min", "d2xdt2_max", "d2xdt2_min")),
    "peaks": (("peaks", "negative_peaks"), ("trend", "hi", "lo", "peaks", "negative_peaks")),
}

# a statistic in t of a run integrated in reversed time s = -t: (statistic in s, sign)
IN_REVERSED_TIME = {"time_of_max": ("time_of_max", -1.0), "time_of_min": ("time_of_min", -1.0),
                    "dxdt_max": ("dxdt_min", -1.0), "dxdt_min": ("dxdt_max", -1.0)}


def reversed_time_request(names: tuple[str, ...]) -> tuple[str, ...]:
    """The statistics to take in reversed time s = -t to give `names` in t."""
    wanted = [IN_REVERSED_TIME.get(name, (name, 1.0))[0] for name in names]
    return tuple(dict.fromkeys([*names, *wanted]))


def in_forward_time(values: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """The statistics `names` in t from `values` taken in reversed time s = -t."""
    out = {}
    for name in names:
        source, sign = IN_REVERSED_TIME.get(name, (name, 1.0))
        out[name] = sign * values[source]
    return out


def _fold(op: Any, old: Any, new: Any, start: Any) -> Any:
    """`new` where the statistic starts afresh, else `op(old, new)`."""
    return ops.where(start, new, op(old, new))


@attrs.frozen
class Summaries:
    """Which statistics, over windows of `window` saves, for `n_saves` saves; peaks
    must stand out by more than `peak_atol + peak_rtol * max|y|` (module docstring)."""

    statistics: tuple[str, ...]
    window: int
    n_saves: int
    peak_rtol: float = 1e-6
    peak_atol: float = 0.0

    def __attrs_post_init__(self) -> None:
        unknown = [s for s in self.statistics if s not in STATISTICS]
        if unknown or not self.statistics:
            raise ValueError(f"summaries: choose from {STATISTICS}, got {list(self.statistics)}")
        if self.window < 1:
            raise ValueError(f"summarise_every must cover at least one save, got {self.window}")
        for name in ("peak_rtol", "peak_atol"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")

    @property
    def n_windows(self) -> int:
        return -(-self.n_saves // self.window)

    @property
    def groups(self) -> tuple[str, ...]:
        """The accumulator groups the chosen statistics need."""
        return tuple(g for g, (serves, _) in GROUPS.items()
                     if any(s in self.statistics for s in serves))

    def initial(self, n: int) -> dict[str, Any]:
        """Accumulators for `n` states (each is reset at its window's first save)."""
        acc: dict[str, Any] = {key: ops.hint(ops.zeros(n), f"running_{key}")
                               for g in self.groups for key in GROUPS[g][1]}
        if "derivatives" in self.groups:
            acc["t_prev"] = acc["t_prev2"] = NAN
        acc["out"] = {s: ops.hint(ops.full((self.n_windows, n), NAN), s)
                      for s in self.statistics}
        return acc

    def update(self, acc: dict[str, Any], y: Any, isave: Any, t: Any) -> dict[str, Any]:
        """Fold save number `isave` (state `y`, time `t`) into the accumulators and
        rewrite its window's row."""
        row = isave // self.window
        j = isave - row * self.window  # position in the window: k = j + 1 samples so far
        fresh = j == 0
        new: dict[str, Any] = {}
        stats: dict[str, Any] = {}
        if "moments" in self.groups:  # Welford on d = y - (the window's first sample)
            k = ops.astype(j + 1, "float")
            shift = ops.where(fresh, y, acc["shift"])
            d = y - shift
            old_mean = ops.where(fresh, 0.0, acc["mean"])
            delta = d - old_mean
            mean = old_mean + delta / k
            m2 = ops.where(fresh, 0.0, acc["m2"]) + delta * (d - mean)
            var = m2 / k
            new.update(shift=shift, mean=mean, m2=m2)
            stats.update(mean=shift + mean, std=ops.sqrt(var),
                         rms=ops.sqrt((shift + mean) * (shift + mean) + var))
        if "max" in self.groups:
            high = _fold(ops.maximum, acc["max"], y, fresh)
            t_max = ops.where(fresh | (y > acc["max"]), t, acc["t_max"])
            new.update(max=high, t_max=t_max)
            stats.update(max=high, time_of_max=t_max)
        if "min" in self.groups:
            low = _fold(ops.minimum, acc["min"], y, fresh)
            t_min = ops.where(fresh | (y < acc["min"]), t, acc["t_min"])
            new.update(min=low, t_min=t_min)
            stats.update(min=low, time_of_min=t_min)
        if "magnitude" in self.groups:
            new["max_abs"] = stats["max_magnitude"] = \
                _fold(ops.maximum, acc["max_abs"], ops.abs(y), fresh)
        if "derivatives" in self.groups:
            slope = (y - acc["prev"]) / (t - acc["t_prev"])  # meaningful from j = 1
            curv = 2.0 * (slope - acc["slope"]) / (t - acc["t_prev2"])  # from j = 2
            first, second = j <= 1, j <= 2
            new.update(prev=y, slope=slope, t_prev=t, t_prev2=acc["t_prev"])
            for name, op, value, start, needs in (
                    ("dxdt_max", ops.maximum, slope, first, 1),
                    ("dxdt_min", ops.minimum, slope, first, 1),
                    ("d2xdt2_max", ops.maximum, curv, second, 2),
                    ("d2xdt2_min", ops.minimum, curv, second, 2)):
                new[name] = _fold(op, acc[name], value, start)
                stats[name] = ops.where(j >= needs, new[name], NAN)
        if "peaks" in self.groups:  # hysteresis: trend +1 rising, -1 falling, 0 not yet
            tol = self.peak_atol + self.peak_rtol * new["max_abs"]
            trend = ops.where(fresh, 0.0, acc["trend"])
            hi = _fold(ops.maximum, acc["hi"], y, fresh)  # highest since the last minimum
            lo = _fold(ops.minimum, acc["lo"], y, fresh)  # lowest since the last maximum
            down = (trend >= 0.0) & (y < hi - tol)
            up = (trend <= 0.0) & (y > lo + tol)
            peaks = ops.where(fresh, 0.0, acc["peaks"]) + \
                ops.where(down & (trend > 0.0), 1.0, 0.0)
            troughs = ops.where(fresh, 0.0, acc["negative_peaks"]) + \
                ops.where(up & (trend < 0.0), 1.0, 0.0)
            new.update(trend=ops.where(down, -1.0, ops.where(up, 1.0, trend)),
                       hi=ops.where(up, y, hi), lo=ops.where(down, y, lo),
                       peaks=peaks, negative_peaks=troughs)
            stats.update(peaks=ops.where(j >= 2, peaks, NAN),
                         negative_peaks=ops.where(j >= 2, troughs, NAN))
        new["out"] = {s: acc["out"][s].at[row].set(stats[s]) for s in self.statistics}
        return {key: new[key] for key in acc}  # the carry keeps its structure

    def finish(self, acc: dict[str, Any]) -> dict[str, Any]:
        return acc["out"]
