"""Window summaries against numpy, without the solver: the traced `initial`/`update`/
`finish` are folded over a sequence of samples inside `ops.fori_loop`, then evaluated
by `ct.interpret` (float64 and float32) and, for float32, lowered for the CPU by Numba.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import cubie_trace as ct
from cubie_trace.core import ops
from cubie_trace.core.program import Program
from cubie_trace.core.values import buffer
from cubie_trace.integrators.summaries import STATISTICS, Summaries
from cubie_trace.layout import plan
from cubie_trace.testing import examples
from lowering import lower


@functools.lru_cache(maxsize=64)
def fold_program(summ: Summaries, n_samples: int, n: int) -> Program:
    """The program (ys (n_samples, n), ts (n_samples)) -> summ.finish(...) of all samples."""
    def fold(ys: Any, ts: Any) -> Any:
        def body(i: Any, acc: Any) -> Any:
            return summ.update(acc, ys[i], i, ts[i])

        return summ.finish(ops.fori_loop(0, n_samples, body, summ.initial(n)))

    return ct.trace(fold, buffer(n, rows=n_samples), buffer(n_samples))


def summarise(summ: Summaries, ys: np.ndarray, ts: np.ndarray,
              precision: str = "float64") -> dict[str, np.ndarray]:
    return ct.interpret(fold_program(summ, *ys.shape), ys, ts, precision=precision)


# --- numpy reference -------------------------------------------------------------------


def hysteresis_extrema(y: np.ndarray, rtol: float, atol: float) -> tuple[int, int]:
    """(maxima, minima) by the rule of the module docstring, as a plain loop."""
    maxima = minima = trend = 0
    hi = lo = y[0]
    scale = abs(y[0])
    for v in y[1:]:
        scale = max(scale, abs(v))
        tol = atol + rtol * scale
        hi, lo = max(hi, v), min(lo, v)
        if trend >= 0 and v < hi - tol:
            maxima += trend > 0
            trend, lo = -1, v
        elif trend <= 0 and v > lo + tol:
            minima += trend < 0
            trend, hi = 1, v
    return maxima, minima


def strict_extrema(y: np.ndarray) -> tuple[int, int]:
    """Interior samples above / below both neighbours, once runs of equal samples are
    merged: what the hysteresis counts at tolerance 0."""
    y = y[np.concatenate([[True], np.diff(y) != 0])]
    inner = y[1:-1]
    return (int(((inner > y[:-2]) & (inner > y[2:])).sum()),
            int(((inner < y[:-2]) & (inner < y[2:])).sum()))


def reference(ys: np.ndarray, ts: np.ndarray, window: int, n_windows: int | None = None,
              rtol: float = 1e-6, atol: float = 0.0) -> dict[str, np.ndarray]:
    """Every statistic of every window, (n_windows, n), NaN where undefined."""
    n_samples, n = ys.shape
    n_windows = n_windows or -(-n_samples // window)
    out = {s: np.full((n_windows, n), np.nan) for s in STATISTICS}
    for j in range(-(-n_samples // window)):
        y, t = ys[j * window:(j + 1) * window], ts[j * window:(j + 1) * window]
        row = {"mean": y.mean(0), "std": y.std(0), "rms": np.sqrt((y ** 2).mean(0)),
               "max": y.max(0), "min": y.min(0), "max_magnitude": np.abs(y).max(0),
               "time_of_max": t[y.argmax(0)], "time_of_min": t[y.argmin(0)]}
        if len(y) >= 2:
            slope = np.diff(y, axis=0) / np.diff(t)[:, None]
            row.update(dxdt_max=slope.max(0), dxdt_min=slope.min(0))
        if len(y) >= 3:
            curv = 2 * np.diff(slope, axis=0) / (t[2:] - t[:-2])[:, None]
            row.update(d2xdt2_max=curv.max(0), d2xdt2_min=curv.min(0))
            counts = np.array([hysteresis_extrema(y[:, i], rtol, atol) for i in range(n)])
            row.update(peaks=counts[:, 0], negative_peaks=counts[:, 1])
        for s, v in row.items():
            out[s][j] = v
    return out


def assert_matches(got: dict, expected: dict, rtol: float = 1e-9) -> None:
    assert set(got) == set(expected)
    for s, value in got.items():
        scale = np.nanmax(np.abs(expected[s]), initial=1.0)
        np.testing.assert_allclose(value, expected[s], rtol=rtol, atol=rtol * scale, err_msg=s)


def sine_on_offset(n_samples: int, dtype: Any) -> tuple[np.ndarray, np.ndarray]:
    """1000 + 0.01 sin: a small variation on a large offset (true std 0.00707)."""
    ts = np.arange(n_samples) * 0.01
    return (1000.0 + 0.01 * np.sin(2 * np.pi * 0.73 * ts)).astype(dtype)[:, None], ts


def ulp_noise(value: float, n_samples: int, dtype: Any, seed: int = 0) -> np.ndarray:
    """`value` with random one-ulp wiggles: a state held at an equilibrium."""
    rng = np.random.default_rng(seed)
    base = np.asarray(value, dtype)
    up = np.nextafter(base, np.asarray(np.inf, dtype))
    return np.where(rng.random(n_samples) < 0.5, base, up).astype(dtype)


# --- each statistic against numpy ------------------------------------------------------


def test_every_statistic_matches_numpy_with_a_partial_last_window() -> None:
    rng = np.random.default_rng(3)
    ys = rng.normal(size=(23, 3)) * [1.0, 10.0, 1e-3] + [0.0, 5.0, -2.0]
    ts = np.cumsum(rng.uniform(0.05, 1.0, 23))  # non-uniform spacing
    summ = Summaries(STATISTICS, 5, 23)
    got = summarise(summ, ys, ts)
    assert got["mean"].shape == (5, 3)  # 4 full windows and one of 3 samples
    assert_matches(got, reference(ys, ts, 5))
    assert np.isfinite(got["peaks"]).all() and got["peaks"].sum() > 0


def test_windows_never_reached_are_nan_and_short_windows_lack_derivatives() -> None:
    rng = np.random.default_rng(4)
    ys, ts = rng.normal(size=(7, 2)), np.arange(7.0)
    got = summarise(Summaries(STATISTICS, 3, 12), ys, ts)  # a run that stopped after 7 saves
    expected = reference(ys, ts, 3, n_windows=4)
    assert_matches(got, expected)
    assert np.isnan(got["mean"][3]).all()  # window 3 was never reached
    for s in STATISTICS:  # window 2 holds one sample: no slopes, curvatures or peaks
        assert np.isnan(got[s][2]).all() == (s.startswith(("dxdt", "d2xdt2")) or "peaks" in s)


def test_second_difference_is_exact_for_a_parabola_on_any_spacing() -> None:
    ts = np.array([0.0, 0.1, 0.35, 0.4, 1.0, 1.7])
    ys = (3.0 * ts ** 2 - ts + 2.0)[:, None]
    got = summarise(Summaries(("d2xdt2_max", "d2xdt2_min", "dxdt_max"), 6, 6), ys, ts)
    np.testing.assert_allclose(got["d2xdt2_max"], [[6.0]], rtol=1e-12)
    np.testing.assert_allclose(got["d2xdt2_min"], [[6.0]], rtol=1e-12)
    np.testing.assert_allclose(got["dxdt_max"], [[(ys[5, 0] - ys[4, 0]) / 0.7]], rtol=1e-12)


def test_time_of_max_and_min_take_the_first_sample_attaining_them() -> None:
    ys = np.array([[1.0], [3.0], [0.0], [3.0], [0.0], [2.0]])
    ts = np.array([0.0, 1.0, 2.0, 3.0, 4.0, 5.0])
    got = summarise(Summaries(("time_of_max", "time_of_min"), 6, 6), ys, ts)
    assert got["time_of_max"][0, 0] == 1.0 and got["time_of_min"][0, 0] == 2.0


def test_std_of_a_small_variation_on_a_large_offset_in_float32() -> None:
    """sumsq/n - mean**2 loses every digit here (0.43 instead of 0.0071)."""
    ys, ts = sine_on_offset(500, np.float32)
    expected = ys.astype(np.float64).std()
    got = summarise(Summaries(("std", "mean", "rms"), 500, 500), ys, ts, precision="float32")
    np.testing.assert_allclose(got["std"][0, 0], expected, rtol=1e-3)
    np.testing.assert_allclose(got["mean"][0, 0], ys.astype(np.float64).mean(), rtol=1e-6)
    np.testing.assert_allclose(got["rms"][0, 0], np.sqrt((ys.astype(np.float64) ** 2).mean()),
                               rtol=1e-6)


# --- peaks ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_an_equilibrium_with_round_off_wiggles_has_no_peaks(dtype: Any) -> None:
    ys = np.stack([ulp_noise(-65.0, 300, dtype), ulp_noise(1e-3, 300, dtype, seed=1)], axis=1)
    assert strict_extrema(ys[:, 0].astype(np.float64))[0] > 50  # a naive count sees many
    summ = Summaries(("peaks", "negative_peaks"), 100, 300)
    got = summarise(summ, ys, np.arange(300.0), precision=np.dtype(dtype).name)
    np.testing.assert_array_equal(got["peaks"], 0.0)
    np.testing.assert_array_equal(got["negative_peaks"], 0.0)


def test_a_small_densely_sampled_oscillation_counts_every_peak() -> None:
    """Amplitude 1e-3 around 1, 200 samples a period: neighbours differ by less than
    1e-6 at the peaks, yet each of the 4 maxima and 3 interior minima counts once."""
    ts = np.arange(700) / 200
    ys = (1.0 + 1e-3 * np.sin(2 * np.pi * ts))[:, None]
    assert np.abs(np.diff(ys[45:55, 0])).min() < 1e-6
    got = summarise(Summaries(("peaks", "negative_peaks"), 700, 700), ys, ts)
    assert got["peaks"][0, 0] == 4 and got["negative_peaks"][0, 0] == 3


def test_peak_tolerances_are_options() -> None:
    ys = np.array([0.0, 1.0, 0.5, 2.0, 0.0])[:, None]  # maxima 1 (stands out by 0.5) and 2
    ts = np.arange(5.0)
    for kwargs, peaks in (({}, 2), ({"peak_atol": 0.6}, 1), ({"peak_rtol": 0.6}, 1),
                          ({"peak_atol": 3.0}, 0)):
        got = summarise(Summaries(("peaks",), 5, 5, **kwargs), ys, ts)
        assert got["peaks"][0, 0] == peaks, kwargs
    with pytest.raises(ValueError, match="peak_rtol"):
        Summaries(("peaks",), 5, 5, peak_rtol=-1.0)
    with pytest.raises(ValueError, match="choose from"):
        Summaries(("extrema",), 5, 5)


def test_a_peak_at_the_window_edge_is_not_counted() -> None:
    ys = np.array([3.0, 1.0, 2.0, 0.0, 4.0, 5.0])[:, None]  # windows [3, 1, 2], [0, 4, 5]
    got = summarise(Summaries(("peaks", "negative_peaks"), 3, 6), ys, np.arange(6.0))
    np.testing.assert_array_equal(got["peaks"][:, 0], [0.0, 0.0])
    np.testing.assert_array_equal(got["negative_peaks"][:, 0], [1.0, 0.0])


# --- properties ----------------------------------------------------------------------

_SAMPLE = st.one_of(st.floats(-1e3, 1e3, allow_nan=False),
                    st.integers(-2, 2).map(float))  # small integers make ties


@st.composite
def sampled_windows(draw: Any) -> tuple[np.ndarray, np.ndarray, int]:
    n_samples, n = draw(st.integers(1, 16)), draw(st.integers(1, 3))
    ys = draw(hnp.arrays(np.float64, (n_samples, n), elements=_SAMPLE))
    steps = draw(hnp.arrays(np.float64, n_samples, elements=st.floats(0.05, 2.0)))
    return ys, np.cumsum(steps), draw(st.integers(1, 7))


@settings(max_examples=examples(25, 300))
@given(sampled_windows(), st.sampled_from([0.0, 1e-6, 0.3]))
def test_property_every_statistic_matches_numpy(case: tuple, rtol: float) -> None:
    ys, ts, window = case
    summ = Summaries(STATISTICS, window, len(ts), peak_rtol=rtol)
    got = summarise(summ, ys, ts)
    assert_matches(got, reference(ys, ts, window, rtol=rtol))
    if rtol == 0.0:  # the hysteresis at tolerance 0 is the strict neighbour count
        for j in range(summ.n_windows):
            for i in range(ys.shape[1]):
                w = ys[j * window:(j + 1) * window, i]
                if len(w) >= 3:
                    assert (got["peaks"][j, i], got["negative_peaks"][j, i]) == \
                        strict_extrema(w)


# --- the lowered code path -----------------------------------------------------------


def test_lowered_float32_std_and_peaks_on_the_cpu() -> None:
    """The Numba code in float32: a small variation on a large offset, an equilibrium
    with one-ulp noise and a small oscillation, summarised over one window."""
    n_samples = 700
    offset, ts = sine_on_offset(n_samples, np.float32)
    oscillation = (1.0 + 1e-3 * np.sin(2 * np.pi * np.arange(n_samples) / 200))
    ys = np.stack([offset[:, 0], ulp_noise(-65.0, n_samples, np.float32),
                   oscillation.astype(np.float32)], axis=1)
    summ = Summaries(("mean", "std", "rms", "peaks", "negative_peaks"), n_samples, n_samples)
    program = fold_program(summ, n_samples, 3)
    lowered = lower(program, plan(program, precision="float32"), target="cpu",
                    precision="float32")
    got = lowered.run(ys[None], ts[None].astype(np.float32))
    wide = ys.astype(np.float64)
    np.testing.assert_allclose(got["std"][0, 0], wide.std(0), rtol=1e-3)
    np.testing.assert_allclose(got["mean"][0, 0], wide.mean(0), rtol=1e-6)
    np.testing.assert_allclose(got["rms"][0, 0], np.sqrt((wide ** 2).mean(0)), rtol=1e-6)
    assert hysteresis_extrema(wide[:, 0], 1e-6, 0.0) == (5, 5)
    np.testing.assert_array_equal(got["peaks"][0, 0], [5.0, 0.0, 4.0])
    np.testing.assert_array_equal(got["negative_peaks"][0, 0], [5.0, 0.0, 3.0])
