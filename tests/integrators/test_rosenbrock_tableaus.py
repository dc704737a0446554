"""Rosenbrock(-W) tableaus: order conditions, W conditions, stability, dense output.

In the original form (alpha, Gamma, beta) a Rosenbrock method satisfies, per
rooted tree t, ``beta . Phi(t) == 1/gamma(t)``, where a vertex with one child
couples through ``B = alpha + Gamma`` (diagonal included) and a vertex with
several children through ``alpha`` (Hairer & Wanner II, Sect. IV.7); orders <= 4
are also checked against the explicit Table IV.7.1. A W-method (any matrix in
place of J) must satisfy the conditions of the trees whose single-child
vertices are coloured f (coupling alpha) or J (coupling Gamma), with right-hand
side 0 for every tree with a J vertex. A dense output of order q satisfies
``beta(theta) . Phi(t) == theta^|t| / gamma(t)`` for |t| <= q. The stability
function is ``R(z) = 1 + z beta^T (I - z B)^{-1} 1``. Expected orders, stage
counts and stability properties are the published ones.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from cubie_trace.integrators.rosenbrock import RosenbrockTableau, from_original
from cubie_trace.integrators.rosenbrock_tableaus import ROSENBROCK_TABLEAUS
from tests.integrators.test_implicit_tableaus import check_stability, stability
from tests.integrators.test_tableaus import COND_TOL, FAIL_TOL, density, trees

# name: (stages, order, embedded order, W order, stability, dense order); "A" is
# A-stable with |R(inf)| > 0 (published where given below).
ROS_FACTS = {
    "ros2": (2, 2, 1, 2, "L", None),
    "rosenbrock23": (3, 2, 3, 2, "L", 2),
    "ros3p": (3, 3, 2, None, "A", None),
    "rodas3p": (5, 3, 2, None, "L", 3),
    "ros34pw2": (4, 3, 2, 3, "L", None),
    "ros34pw3": (4, 4, 2, 3, "A", None),
    "grk4a": (4, 4, 3, None, "A", None),
    "rodas4": (6, 4, 3, None, "L", 3),
    "rodas4p": (6, 4, 3, None, "L", 3),
    "rodas5p": (8, 5, 4, None, "L", 4),
}
ROS_STIFFLY_ACCURATE = ["rodas3p", "ros34pw2", "rodas4", "rodas4p", "rodas5p"]


# --- Rosenbrock order conditions ---------------------------------------------------

def phi_ros(t: tuple, alpha: np.ndarray, big_b: np.ndarray) -> np.ndarray:
    if len(t) == 1:
        return big_b @ phi_ros(t[0], alpha, big_b)
    return np.prod([alpha @ phi_ros(child, alpha, big_b) for child in t]
                   + [np.ones(alpha.shape[0])], axis=0)


def ros_residual(w: np.ndarray, alpha: np.ndarray, big_b: np.ndarray, n: int,
                 theta: float = 1.0) -> float:
    out = 0.0
    for t in trees(n):
        p = phi_ros(t, alpha, big_b)
        out = max(out, abs(w @ p - theta**n / density(t)) / max(1.0, np.abs(w * p).sum()))
    return out


def coloured_phi(t: tuple, alpha: np.ndarray, big_gamma: np.ndarray) -> list[tuple]:
    """(has a J vertex, Phi) for every colouring of t's single-child vertices as f or J."""
    out = []
    for kids in itertools.product(*(coloured_phi(c, alpha, big_gamma) for c in t)):
        has_j = any(k[0] for k in kids)
        out.append((has_j, np.prod([alpha @ k[1] for k in kids]
                                   + [np.ones(alpha.shape[0])], axis=0)))
        if len(t) == 1:
            out.append((True, big_gamma @ kids[0][1]))
    return out


def w_residual(w: np.ndarray, alpha: np.ndarray, big_gamma: np.ndarray, n: int) -> float:
    out = 0.0
    for t in trees(n):
        for has_j, p in coloured_phi(t, alpha, big_gamma):
            target = 0.0 if has_j else 1 / density(t)
            out = max(out, abs(w @ p - target) / max(1.0, np.abs(w * p).sum()))
    return out


def table_7_1(b: np.ndarray, alpha: np.ndarray, big_gamma: np.ndarray, g: float) -> list[float]:
    """Residuals of HW II Table IV.7.1 (orders 1..4; beta_ij strictly lower)."""
    beta = np.tril(alpha + big_gamma, -1)
    al, be = alpha.sum(axis=1), beta.sum(axis=1)
    return [b.sum() - 1,
            b @ be - (0.5 - g),
            b @ al**2 - 1 / 3,
            b @ beta @ be - (1 / 6 - g + g**2),
            b @ al**3 - 1 / 4,
            b @ (al * (alpha @ be)) - (1 / 8 - g / 3),
            b @ beta @ al**2 - (1 / 12 - g / 3),
            b @ beta @ beta @ be - (1 / 24 - g / 2 + 1.5 * g**2 - g**3)]


def test_rosenbrock_catalogue() -> None:
    assert set(ROSENBROCK_TABLEAUS) == set(ROS_FACTS)
    for name, tab in ROSENBROCK_TABLEAUS.items():
        stages, order, error_order, w_order, _, dense_order = ROS_FACTS[name]
        assert (tab.name, tab.stages, tab.order, tab.error_order, tab.w_order,
                tab.dense_order) == (name, stages, order, error_order, w_order, dense_order)
        # Stiffly accurate: y_new is the last stage's argument plus U_s.
        sa = np.allclose(tab.b[:-1], tab.a[-1][:-1], rtol=1e-15, atol=1e-15) and tab.b[-1] == 1
        assert (sa and tab.c[-1] == 1) == (name in ROS_STIFFLY_ACCURATE)


@pytest.mark.parametrize("name", list(ROS_FACTS))
def test_rosenbrock_order_conditions(name: str) -> None:
    tab = ROSENBROCK_TABLEAUS[name]
    alpha, big_gamma = tab.alpha(), tab.gamma_matrix()
    scale = 1e-13 * np.maximum(1.0, np.abs(tab.a).sum(axis=1))
    assert np.all(np.abs(alpha.sum(axis=1) - tab.c) <= scale)
    assert np.all(np.abs(big_gamma.sum(axis=1) - tab.d) <= scale)
    np.testing.assert_allclose(np.diag(big_gamma), tab.gamma, rtol=1e-14)
    big_b = alpha + big_gamma
    for weights, order in ((tab.b, tab.order), (tab.b_error, tab.error_order)):
        w = tab.original_weights(weights)
        n_table = {1: 1, 2: 2, 3: 4, 4: 8}[min(order, 4)]
        assert np.abs(table_7_1(w, alpha, big_gamma, tab.gamma)[:n_table]).max() < 1e-12
        for n in range(1, order + 1):
            assert ros_residual(w, alpha, big_b, n) < COND_TOL, f"order {n} fails"
        assert ros_residual(w, alpha, big_b, order + 1) > FAIL_TOL


@pytest.mark.parametrize("name", [n for n, f in ROS_FACTS.items() if f[3] is not None])
def test_w_order_conditions(name: str) -> None:
    tab = ROSENBROCK_TABLEAUS[name]
    alpha, big_gamma = tab.alpha(), tab.gamma_matrix()
    w = tab.original_weights(tab.b)
    for n in range(1, tab.w_order + 1):
        assert w_residual(w, alpha, big_gamma, n) < COND_TOL, f"W order {n} fails"
    assert w_residual(w, alpha, big_gamma, tab.w_order + 1) > FAIL_TOL


@pytest.mark.parametrize("name", list(ROS_FACTS))
def test_rosenbrock_stability(name: str) -> None:
    tab = ROSENBROCK_TABLEAUS[name]
    alpha, big_gamma = tab.alpha(), tab.gamma_matrix()
    check_stability(alpha + big_gamma, tab.original_weights(tab.b), ROS_FACTS[name][4])


def test_published_values_at_infinity() -> None:
    """ROS3P: |R(inf)| = 0.73 (Lang & Verwer 2001); ROS34PW2's embedded: 0.48 (Rang &
    Angermann 2005, as listed by PETSc's TSROSWRA34PW2)."""
    for name, weights, value in (("ros3p", "b", 0.73), ("ros34pw2", "b_error", 0.48)):
        tab = ROSENBROCK_TABLEAUS[name]
        alpha, big_gamma = tab.alpha(), tab.gamma_matrix()
        w = tab.original_weights(getattr(tab, weights))
        assert abs(abs(stability(alpha + big_gamma, w, -1e9)) - value) < 0.005


@pytest.mark.parametrize("name", [n for n, f in ROS_FACTS.items() if f[5] is not None])
def test_rosenbrock_dense_output(name: str) -> None:
    tab = ROSENBROCK_TABLEAUS[name]
    alpha, big_gamma = tab.alpha(), tab.gamma_matrix()
    np.testing.assert_allclose(tab.dense_weights(1.0), tab.b, rtol=0, atol=1e-12)
    assert tab.dense_weights(0.0) == (0.0,) * tab.stages
    for theta in (0.2, 0.5, 0.8):
        w = tab.original_weights(tab.dense_weights(theta))
        for n in range(1, tab.dense_order + 1):
            assert ros_residual(w, alpha, alpha + big_gamma, n, theta) < COND_TOL, (theta, n)
        assert ros_residual(w, alpha, alpha + big_gamma, tab.dense_order + 1, theta) > FAIL_TOL


# --- Rosenbrock convergence with numpy ---------------------------------------------

def pendulum(t: float, y: np.ndarray) -> np.ndarray:
    return np.array([y[1], -np.sin(y[0]) + 0.5 * np.cos(t)])


def pendulum_jac(t: float, y: np.ndarray) -> np.ndarray:
    return np.array([[0.0, 1.0], [-np.cos(y[0]), 0.0]])


def pendulum_ft(t: float, y: np.ndarray) -> np.ndarray:
    return np.array([0.0, -0.5 * np.sin(t)])


T_END = 2.0
Y0 = np.array([1.0, 0.0])
JAC_ERROR = np.array([[0.3, -0.2], [0.1, 0.4]])


def ros_solve(tab: RosenbrockTableau, dt: float, jac_error: np.ndarray) -> np.ndarray:
    """y(T_END) by fixed steps of the transformed form, with J + jac_error."""
    a, cm = np.array(tab.a), np.array(tab.coupling)
    y = Y0.copy()
    for step in range(int(round(T_END / dt))):
        t = step * dt
        m = np.eye(2) / (tab.gamma * dt) - pendulum_jac(t, y) - jac_error
        ft = pendulum_ft(t, y)
        u = np.zeros((tab.stages, 2))
        for i in range(tab.stages):
            rhs = (pendulum(t + tab.c[i] * dt, y + a[i] @ u) + cm[i] @ u / dt
                   + dt * tab.d[i] * ft)
            u[i] = np.linalg.solve(m, rhs)
        y = y + np.array(tab.b) @ u
    return y


@pytest.fixture(scope="module")
def reference() -> np.ndarray:
    sol = solve_ivp(pendulum, (0.0, T_END), Y0, method="DOP853", rtol=1e-13, atol=1e-14)
    return sol.y[:, -1]


@pytest.mark.parametrize("name", list(ROS_FACTS))
def test_rosenbrock_convergence(name: str, reference: np.ndarray) -> None:
    """Observed order with the exact Jacobian, and with a wrong one for W-methods."""
    tab = ROSENBROCK_TABLEAUS[name]
    cases = [(np.zeros((2, 2)), tab.order)]
    if tab.w_order is not None:
        cases.append((JAC_ERROR, tab.w_order))
    for jac_error, order in cases:
        # Order 5 is reached late on this problem (4.6 at dt = 0.1, 4.8 at 0.05).
        dts = [0.1, 0.05] if order == 4 else [0.05, 0.025]
        errs = [np.abs(ros_solve(tab, dt, jac_error) - reference).max() for dt in dts]
        assert errs[-1] > 1e-12, "finest error is at round-off; use larger steps"
        observed = np.log2(errs[0] / errs[1])
        assert abs(observed - order) < 0.45, f"errors {errs}, observed {observed:.2f}"


def test_published_original_forms() -> None:
    """Back-transformed data against the original-form tables: ROS2 (Verwer et al. 1999)
    and ROS3P (Lang & Verwer 2001)."""
    ros2 = ROSENBROCK_TABLEAUS["ros2"]
    g = 1 + 1 / np.sqrt(2)
    np.testing.assert_allclose(ros2.alpha(), [[0, 0], [1, 0]], atol=1e-15)
    np.testing.assert_allclose(ros2.gamma_matrix(), [[g, 0], [-2 * g, g]], rtol=1e-15)
    np.testing.assert_allclose(ros2.original_weights(ros2.b), [0.5, 0.5], rtol=1e-15)
    ros3p = ROSENBROCK_TABLEAUS["ros3p"]
    g = 7.886751345948129e-01
    np.testing.assert_allclose(ros3p.alpha(), [[0, 0, 0], [1, 0, 0], [1, 0, 0]], atol=1e-15)
    np.testing.assert_allclose(ros3p.gamma_matrix(), [[g, 0, 0], [-1, g, 0],
                                                      [-g, -1.077350269189626, g]], atol=1e-15)
    np.testing.assert_allclose(ros3p.original_weights(ros3p.b), [2 / 3, 0, 1 / 3], atol=1e-15)
    np.testing.assert_allclose(ros3p.original_weights(ros3p.b_error), [1 / 3] * 3, atol=1e-15)


def test_from_original_round_trip() -> None:
    alpha = [[0, 0, 0], [0.5, 0, 0], [0.2, 0.7, 0]]
    gamma_lower = [[0, 0, 0], [-0.3, 0, 0], [0.1, -0.4, 0]]
    tab = from_original("x", 0.4, alpha, gamma_lower, b=[0.2, 0.3, 0.5], order=1,
                        b_error=[1, 0, 0], error_order=1, dense=[[1, -0.8], [0, 0.3], [0, 0.5]],
                        dense_order=1)
    np.testing.assert_allclose(tab.alpha(), alpha, atol=1e-15)
    np.testing.assert_allclose(tab.gamma_matrix(), np.array(gamma_lower) + 0.4 * np.eye(3),
                               atol=1e-15)
    np.testing.assert_allclose(tab.original_weights(tab.b), [0.2, 0.3, 0.5], atol=1e-15)
    np.testing.assert_allclose(tab.original_weights(tab.b_error), [1, 0, 0], atol=1e-15)
    np.testing.assert_allclose(tab.original_weights(tab.dense_weights(0.5)),
                               [0.5 - 0.2, 0.075, 0.125], atol=1e-15)
    np.testing.assert_allclose([tab.c, tab.d], [[0, 0.5, 0.9], [0.4, 0.1, 0.1]], atol=1e-15)


@pytest.mark.parametrize("kwargs, match", [
    (dict(a=[[0, 0], [1, 1]]), "a must be strictly lower"),
    (dict(coupling=[[0]]), "coupling must be 2 x 2"),
    (dict(d=[0.5]), "d must have"),
    (dict(gamma=0), "gamma must be positive"),
    (dict(b_error=[1, 0]), "given together"),
    (dict(dense=[[1], [0, 1]], dense_order=1), "dense must"),
    (dict(order=0), "order must"),
])
def test_validation(kwargs: dict, match: str) -> None:
    base = dict(name="bad", gamma=0.5, a=[[0, 0], [1, 0]], coupling=[[0, 0], [-1, 0]],
                b=[0.5, 0.5], c=[0, 1], d=[0.5, 0], order=2)
    with pytest.raises(ValueError, match=match):
        RosenbrockTableau(**{**base, **kwargs})
