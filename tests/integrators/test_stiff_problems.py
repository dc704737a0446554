"""The stiff library models against the independent numpy problems of
`stiff_references`, and those problems' published end values against scipy."""

from __future__ import annotations

import numpy as np
import pytest

from cubie_trace.systems import library
from tests.integrators import stiff_references as refs

MODELS = {"robertson": library.robertson, "van_der_pol": library.van_der_pol,
          "hires": library.hires, "oregonator": library.oregonator,
          "pollution": library.pollution}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_matches_the_numpy_problem(name: str) -> None:
    system, problem = MODELS[name](), refs.PROBLEMS[name]
    rng = np.random.default_rng(7)
    y = rng.uniform(0.1, 2.0, system.n_states)
    p = np.asarray(problem.parameters) * rng.uniform(0.5, 1.5, len(problem.parameters))
    (rhs,) = system.evaluate("rhs", 0.3, y, p)
    (jac,) = system.evaluate("jacobian", 0.3, y, p)
    np.testing.assert_allclose(rhs, problem.rhs(0.3, y, *p), rtol=1e-13,
                               atol=1e-13 * np.abs(problem.rhs(0.3, y, *p)).max())
    np.testing.assert_allclose(jac, problem.jac(0.3, y, *p), rtol=1e-13,
                               atol=1e-13 * np.abs(jac).max())


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_defaults_are_the_problem_s(name: str) -> None:
    system, problem = MODELS[name](), refs.PROBLEMS[name]
    np.testing.assert_array_equal(system.initial_values, problem.y0)
    expected = (1.0,) if name == "van_der_pol" else problem.parameters  # mu defaults to 1
    np.testing.assert_array_equal(system.default_parameters, expected)


def test_numpy_jacobians_are_the_rhs_derivatives() -> None:
    rng = np.random.default_rng(3)
    for name, problem in refs.PROBLEMS.items():
        y = rng.uniform(0.1, 2.0, len(problem.y0))
        h = 1e-6 * np.maximum(np.abs(y), 1.0)
        jac = problem.jac(0.0, y, *problem.parameters)
        for i in range(len(y)):
            step = np.zeros_like(y)
            step[i] = h[i]
            column = (problem.rhs(0.0, y + step, *problem.parameters)
                      - problem.rhs(0.0, y - step, *problem.parameters)) / (2 * h[i])
            np.testing.assert_allclose(jac[:, i], column, rtol=1e-6,
                                       atol=1e-7 * np.abs(jac).max(), err_msg=name)


def test_pollution_conserves_nitrogen_and_sulphur() -> None:
    system = library.pollution()
    y = np.random.default_rng(5).uniform(0.0, 1.0, 20)
    (rhs,) = system.evaluate("rhs", 0.0, y, system.default_parameters)
    index = {name: i for i, name in enumerate(system.state_names)}
    nitrogen = {"NO2": 1, "NO": 1, "PAN": 1, "HNO3": 1, "NO3": 1, "N2O5": 2}
    total = sum(atoms * rhs[index[name]] for name, atoms in nitrogen.items())
    assert abs(total) <= 1e-12 * np.abs(rhs).max()
    assert abs(rhs[index["SO2"]] + rhs[index["SO4"]]) <= 1e-12 * np.abs(rhs).max()


@pytest.mark.parametrize("case", sorted(refs.PUBLISHED))
def test_published_end_values_against_scipy_radau_loosely(case: tuple[str, float]) -> None:
    name, t_end = case
    end = refs.radau(name, t_end, rtol=1e-8)
    np.testing.assert_allclose(end, refs.PUBLISHED[case], rtol=1e-7)


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(refs.PUBLISHED))
def test_published_end_values_against_scipy_radau(case: tuple[str, float]) -> None:
    name, t_end = case
    end = refs.radau(name, t_end, rtol=1e-12)
    np.testing.assert_allclose(end, refs.PUBLISHED[case], rtol=1e-11)


def test_end_state_prefers_the_published_value() -> None:
    np.testing.assert_array_equal(refs.end_state("hires", refs.HIRES_T_END), refs.HIRES_END)
    perturbed = refs.end_state("robertson", 1.0, parameters=(0.05, 3e7, 1e4))
    assert perturbed.shape == (3,) and abs(perturbed.sum() - 1.0) < 1e-10


@pytest.mark.slow
def test_robertson_reference_on_a_log_grid_conserves_mass_and_matches_its_end() -> None:
    times = np.logspace(-5, 5, 11)
    grid = refs.radau("robertson", 1e5, times=times)
    assert grid.shape == (11, 3)
    np.testing.assert_allclose(grid.sum(axis=1), 1.0, rtol=1e-11)
    np.testing.assert_allclose(grid[-1], refs.radau("robertson", 1e5), rtol=1e-9, atol=1e-15)
