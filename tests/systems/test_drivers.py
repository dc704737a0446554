"""Driver splines: coefficients, numpy evaluation, the emitted lookup."""

from __future__ import annotations

import math

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.interpolate import CubicSpline

import cubie_trace as ct
from cubie_trace.systems.drivers import DriverSet, make_driver
from cubie_trace.testing import examples


def reference(kind: str, t: np.ndarray, y: np.ndarray) -> object:
    if kind == "linear" or len(t) == 2:
        return lambda x: np.interp(x, t, y)
    spline = CubicSpline(t, y, bc_type="not-a-knot" if kind == "cubic" else "natural")
    return lambda x: spline(np.clip(x, t[0], t[-1]))


knots = st.lists(st.floats(0.01, 1.0), min_size=1, max_size=12).map(
    lambda gaps: np.concatenate([[0.0], np.cumsum(gaps)]))


@settings(max_examples=examples(30, 300))
@given(t=knots, data=st.data())
def test_splines_match_scipy_and_hold_outside(t: np.ndarray, data: st.DataObject) -> None:
    y = np.array(data.draw(st.lists(st.floats(-5, 5), min_size=len(t), max_size=len(t))))
    kind = data.draw(st.sampled_from(["cubic", "natural", "linear"]))
    drivers = DriverSet([make_driver("u", {"t": t, "values": y, "kind": kind})])
    d = drivers.coefficients()
    assert d.shape == (drivers.size,) == (len(t) + 4 * (len(t) - 1),)
    at = np.concatenate([t, np.linspace(t[0] - 1, t[-1] + 1, 41)])
    got = np.array([drivers.values(d, x)[0] for x in at])
    np.testing.assert_allclose(got, reference(kind, t, y)(at), rtol=1e-9, atol=1e-9)


def test_emitted_lookup_matches_numpy() -> None:
    uniform = {"t": np.linspace(0, 1, 11), "values": np.cos(np.linspace(0, 1, 11))}
    ragged = {"t": [0.0, 0.1, 0.15, 0.6, 2.0], "values": [1.0, 0.0, 3.0, -1.0, 0.5],
              "kind": "natural"}
    system = ct.ODESystem.from_equations(["dx = a - b*x"], states={"x": 0.0},
                                         drivers={"a": uniform, "b": ragged})
    namespace = {"FLOAT": np.float64, "math": math}
    exec(system.emit("drivers", "drivers"), namespace)
    kernel = numba.njit(namespace["drivers"])
    d = system.driver_coefficients
    for t in np.linspace(-0.5, 2.5, 61):
        out = np.zeros(2)
        kernel(t, np.zeros(0), d, out)
        np.testing.assert_allclose(out, system.evaluate("drivers", t, np.zeros(0), d)[0],
                                   rtol=1e-14, atol=1e-14)


def test_new_samples_give_a_new_buffer() -> None:
    system = ct.ODESystem.from_equations(["dx = u"], states={"x": 0.0},
                                         drivers={"u": ([0.0, 1.0, 2.0], [0.0, 1.0, 0.0])})
    d = system.coefficients({"u": ([0.0, 2.0, 4.0], [1.0, 1.0, 1.0])})
    assert d.shape == system.driver_coefficients.shape
    np.testing.assert_allclose(system.evaluate("drivers", 3.0, np.zeros(0), d)[0], [1.0])
    with pytest.raises(ValueError, match="'u'.*3 samples"):
        system.coefficients({"u": ([0.0, 1.0], [0.0, 1.0])})
    with pytest.raises(ValueError, match="expected samples for"):
        system.coefficients({"v": ([0.0, 1.0, 2.0], [0.0, 1.0, 0.0])})
