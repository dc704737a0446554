"""The library of test models."""

from __future__ import annotations

import numpy as np
import pytest

from cubie_trace.systems import library


def rhs_at_start(system) -> np.ndarray:
    return system.evaluate("rhs", 0.0, system.initial_values, system.default_parameters)[0]


def test_lorenz() -> None:
    system = library.lorenz()
    assert system.parameter_names == ("sigma", "rho", "beta")
    np.testing.assert_allclose(system.default_parameters, [10.0, 28.0, 8 / 3])
    np.testing.assert_array_equal(system.initial_values, [1.0, 0.0, 0.0])
    np.testing.assert_allclose(rhs_at_start(system), [-10.0, 28.0, 0.0])


def test_robertson_conserves_mass() -> None:
    system = library.robertson()
    y = np.array([0.7, 2e-5, 0.3])
    assert abs(system.evaluate("rhs", 0.0, y, system.default_parameters)[0].sum()) < 1e-12
    np.testing.assert_allclose(rhs_at_start(system), [-0.04, 0.04, 0.0])


def test_hires_against_the_test_set_formulas() -> None:
    system = library.hires()
    assert (system.n_states, system.n_parameters) == (8, 0)
    y = np.linspace(0.1, 0.8, 8)
    y1, y2, y3, y4, y5, y6, y7, y8 = y
    expected = [-1.71 * y1 + 0.43 * y2 + 8.32 * y3 + 0.0007, 1.71 * y1 - 8.75 * y2,
                -10.03 * y3 + 0.43 * y4 + 0.035 * y5, 8.32 * y2 + 1.71 * y3 - 1.12 * y4,
                -1.745 * y5 + 0.43 * y6 + 0.43 * y7,
                -280 * y6 * y8 + 0.69 * y4 + 1.71 * y5 - 0.43 * y6 + 0.69 * y7,
                280 * y6 * y8 - 1.81 * y7, -280 * y6 * y8 + 1.81 * y7]
    np.testing.assert_allclose(system.evaluate("rhs", 0.0, y, np.zeros(0))[0], expected,
                               rtol=1e-14)
    np.testing.assert_array_equal(system.initial_values, [1, 0, 0, 0, 0, 0, 0, 0.0057])


def test_van_der_pol_and_lotka_volterra() -> None:
    vdp = library.van_der_pol(5.0)
    np.testing.assert_array_equal(vdp.default_parameters, [5.0])
    np.testing.assert_allclose(vdp.evaluate("rhs", 0.0, np.array([2.0, 1.0]), np.array([5.0]))[0],
                               [1.0, 5.0 * (1 - 4) * 1 - 2])
    lv = library.lotka_volterra()
    assert lv.parameter_names == ("alpha", "beta", "gamma", "delta")
    np.testing.assert_allclose(rhs_at_start(lv), [1.5 * 10 - 50, 50 - 15])


@pytest.mark.parametrize("n", [1, 4, 16])
def test_linear_chain(n: int) -> None:
    system = library.linear_chain(n)
    assert system.n_states == n and system.name == f"linear_chain{n}"
    (jac,) = system.evaluate("jacobian", 0.0, system.initial_values, np.array([2.0]))
    np.testing.assert_array_equal(jac, -2.0 * np.eye(n) + np.eye(n, k=-1))


def test_linear_chain_needs_a_positive_size() -> None:
    with pytest.raises(ValueError, match="n must be a positive int"):
        library.linear_chain(0)


def test_fitzhugh_nagumo() -> None:
    fhn = library.fitzhugh_nagumo()
    assert fhn.parameter_names == ("I", "a", "b", "tau")
    v, w = 0.3, -0.2
    np.testing.assert_allclose(
        fhn.evaluate("rhs", 0.0, np.array([v, w]), np.array([0.5, 0.7, 0.8, 12.5]))[0],
        [v - v**3 / 3 - w + 0.5, (v + 0.7 - 0.8 * w) / 12.5], rtol=1e-14)
    # the initial state is the resting point without input current
    rest = fhn.evaluate("rhs", 0.0, fhn.initial_values, np.array([0.0, 0.7, 0.8, 12.5]))[0]
    assert np.abs(rest).max() < 1e-4
