"""Drivers: time series sampled on knots, interpolated inside the generated code.

A driver is given as `{"t": times, "values": samples, "kind": kind}` or as a
`(times, values)` pair (kind "cubic"). Times are strictly increasing, uniform
or not, at least two of them. Kinds: "cubic" (not-a-knot cubic spline, as
`scipy.interpolate.CubicSpline`), "natural" (natural cubic spline), "linear".
Outside the sample range a driver holds its end value.

All drivers share one flat coefficient buffer `d`. Driver k with m knots owns
`m + 4 (m - 1)` entries from its offset: the m knot times, then for each
segment j the coefficients (a, b, c, e) of `a + s b + s^2 c + s^3 e`, where
`s = t - t_j`. The generated code finds the segment by binary search.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np

KINDS = ("cubic", "natural", "linear")


@attrs.frozen(eq=False)
class Driver:
    """One driver's samples and interpolation kind."""

    name: str
    times: np.ndarray
    values: np.ndarray
    kind: str

    @property
    def size(self) -> int:
        """Entries of `d` this driver owns."""
        return len(self.times) + 4 * (len(self.times) - 1)

    def coefficients(self) -> np.ndarray:
        """Knots followed by the per-segment polynomial coefficients, flat."""
        t, y = self.times, self.values
        h = np.diff(t)
        second = _second_derivatives(t, y, self.kind)
        c = np.empty((len(h), 4))
        c[:, 0] = y[:-1]
        c[:, 1] = np.diff(y) / h - h * (2 * second[:-1] + second[1:]) / 6
        c[:, 2] = second[:-1] / 2
        c[:, 3] = np.diff(second) / (6 * h)
        return np.concatenate([t, c.ravel()])


def mirrored(driver: Driver) -> dict[str, Any]:
    """The specification of `driver` seen in reversed time s = -t: the samples mirrored
    (the interpolating spline of each kind is mirrored with them)."""
    return {"t": -driver.times[::-1], "values": driver.values[::-1], "kind": driver.kind}


def make_driver(name: str, spec: Any) -> Driver:
    """A driver from its user specification, raising if it is malformed."""
    if isinstance(spec, Mapping):
        unknown = set(spec) - {"t", "values", "kind"}
        if unknown:
            raise ValueError(f"driver {name!r}: unknown keys {sorted(unknown)}; "
                             f"expected 't', 'values' and optionally 'kind'")
        times, values, kind = spec.get("t"), spec.get("values"), spec.get("kind", "cubic")
    elif isinstance(spec, (tuple, list)) and len(spec) == 2:
        (times, values), kind = spec, "cubic"
    else:
        raise ValueError(f"driver {name!r} has no samples: expected {{'t': times, 'values': "
                         f"samples, 'kind': {'|'.join(KINDS)}}} or (times, values), got {spec!r}")
    if kind not in KINDS:
        raise ValueError(f"driver {name!r}: kind must be one of {KINDS}, got {kind!r}")
    if times is None or values is None:
        raise ValueError(f"driver {name!r} has no samples: needs both 't' and 'values'")
    t = np.asarray(times, dtype=float)
    y = np.asarray(values, dtype=float)
    if t.ndim != 1 or y.shape != t.shape or len(t) < 2:
        raise ValueError(f"driver {name!r} needs at least two samples, 't' and 'values' "
                         f"1-d of equal length; got shapes {t.shape} and {y.shape}")
    if not (np.all(np.isfinite(t)) and np.all(np.isfinite(y))):
        raise ValueError(f"driver {name!r}: times and values must be finite")
    if np.any(np.diff(t) <= 0):
        raise ValueError(f"driver {name!r}: times must be strictly increasing")
    return Driver(name, t, y, kind)


def _second_derivatives(t: np.ndarray, y: np.ndarray, kind: str) -> np.ndarray:
    """Second derivatives at the knots of the spline through (t, y)."""
    m = len(t)
    h = np.diff(t)
    second = np.zeros(m)
    if kind == "linear" or m == 2:
        return second
    slope = np.diff(y) / h
    if kind == "cubic" and m == 3:
        return np.full(m, 2 * (slope[1] - slope[0]) / (t[2] - t[0]))
    sub, diag, sup = h[:-1].copy(), 2 * (h[:-1] + h[1:]), h[1:].copy()
    rhs = 6 * np.diff(slope)
    if kind == "cubic":  # not-a-knot: the third derivative is continuous at t1 and t[m-2]
        diag[0] += h[0] * (h[0] + h[1]) / h[1]
        sup[0] -= h[0] ** 2 / h[1]
        diag[-1] += h[-1] * (h[-1] + h[-2]) / h[-2]
        sub[-1] -= h[-1] ** 2 / h[-2]
    second[1:-1] = _tridiagonal(sub, diag, sup, rhs)
    if kind == "cubic":
        second[0] = ((h[0] + h[1]) * second[1] - h[0] * second[2]) / h[1]
        second[-1] = ((h[-1] + h[-2]) * second[-2] - h[-1] * second[-3]) / h[-2]
    return second


def _tridiagonal(sub: np.ndarray, diag: np.ndarray, sup: np.ndarray,
                 rhs: np.ndarray) -> np.ndarray:
    """Thomas algorithm; `sub[i]` multiplies x[i-1] in row i, `sup[i]` x[i+1]."""
    n = len(diag)
    c, r = np.empty(n), np.empty(n)
    c[0], r[0] = sup[0] / diag[0], rhs[0] / diag[0]
    for i in range(1, n):
        pivot = diag[i] - sub[i] * c[i - 1]
        c[i] = sup[i] / pivot
        r[i] = (rhs[i] - sub[i] * r[i - 1]) / pivot
    x = np.empty(n)
    x[-1] = r[-1]
    for i in range(n - 2, -1, -1):
        x[i] = r[i] - c[i] * x[i + 1]
    return x


class DriverSet:
    """A system's drivers, their offsets in `d`, numpy evaluation and emitted lookup."""

    def __init__(self, drivers: Sequence[Driver]) -> None:
        self.drivers = tuple(drivers)
        self.offsets = tuple(int(o) for o in np.cumsum([0, *(dr.size for dr in drivers)]))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(dr.name for dr in self.drivers)

    @property
    def size(self) -> int:
        """Length of the coefficient buffer `d`."""
        return self.offsets[-1]

    def coefficients(self) -> np.ndarray:
        """The flat buffer `d` (float64)."""
        if not self.drivers:
            return np.zeros(0)
        return np.concatenate([dr.coefficients() for dr in self.drivers])

    def resampled(self, specs: Mapping[str, Any]) -> DriverSet:
        """The same drivers with new samples (same names and sample counts)."""
        if set(specs) != set(self.names):
            raise ValueError(f"drivers: expected samples for {list(self.names)}, "
                             f"got {list(specs)}")
        new = [make_driver(dr.name, specs[dr.name]) for dr in self.drivers]
        for old, dr in zip(self.drivers, new):
            if len(dr.times) != len(old.times):
                raise ValueError(f"driver {dr.name!r}: the system was built with "
                                 f"{len(old.times)} samples, got {len(dr.times)}")
        return DriverSet(new)

    def values(self, d: np.ndarray, t: Any) -> np.ndarray:
        """Driver values at `t` read from the buffer `d`."""
        out = np.empty(len(self.drivers), dtype=np.result_type(d, t, np.float32))
        for k, dr in enumerate(self.drivers):
            m, o = len(dr.times), self.offsets[k]
            knots = d[o:o + m]
            tc = np.clip(t, knots[0], knots[-1])
            j = min(max(int(np.searchsorted(knots, tc, side="right")) - 1, 0), m - 2)
            a, b, c, e = d[o + m + 4 * j: o + m + 4 * j + 4]
            s = tc - knots[j]
            out[k] = a + s * (b + s * (c + s * e))
        return out

    def source(self, k: int, target: str) -> list[str]:
        """Lines (unindented, from scalar `t` and buffer `d`) that set `target` to driver k."""
        m, o = len(self.drivers[k].times), self.offsets[k]
        tc, lo, hi, mid, s, c = (f"_{v}{k}" for v in ("tc", "lo", "hi", "mid", "s", "c"))
        return [
            f"{tc} = min(max(t, d[{o}]), d[{o + m - 1}])",
            f"{lo} = 0",
            f"{hi} = {m - 2}",
            f"while {lo} < {hi}:",
            f"    {mid} = ({lo} + {hi} + 1) // 2",
            f"    if d[{o} + {mid}] <= {tc}:",
            f"        {lo} = {mid}",
            "    else:",
            f"        {hi} = {mid} - 1",
            f"{s} = {tc} - d[{o} + {lo}]",
            f"{c} = {o + m} + 4 * {lo}",
            f"{target} = d[{c}] + {s} * (d[{c} + 1] + {s} * (d[{c} + 2] + {s} * d[{c} + 3]))",
        ]
