"""Implicit tableaus: order conditions, stability functions, transforms and names.

Runge-Kutta tableaus use Butcher's rooted-tree conditions (test_tableaus.py).
Rosenbrock methods in the original form (alpha, Gamma, beta) satisfy, per tree t,
``beta . Phi(t) == 1/gamma(t)`` where a vertex with one child couples through
``B = alpha + Gamma`` (diagonal included) and a vertex with several children
through ``alpha`` (Hairer & Wanner II, Sect. IV.7); orders <= 4 are also checked
against the explicit Table IV.7.1. W-methods must satisfy the conditions of
trees whose single-child vertices are coloured f (coupling alpha) or J
(coupling Gamma), with right-hand side 0 for every tree with a J vertex. The
stability function is ``R(z) = 1 + z b^T (I - z A)^{-1} 1`` (B for Rosenbrock).
Expected orders, stage counts and stability properties are the published ones.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from cubie_trace.integrators.dirk_tableaus import DIRK_TABLEAUS
from cubie_trace.integrators.firk_tableaus import FIRK_TABLEAUS, FIRK_TRANSFORMS, RADAU5_ERROR
from cubie_trace.integrators.implicit_methods import (
    IMPLICIT_METHODS,
    canonical_name,
    implicit_method,
)
from cubie_trace.integrators.rosenbrock import RosenbrockTableau
from cubie_trace.integrators.rosenbrock_tableaus import ROSENBROCK_TABLEAUS
from cubie_trace.integrators.tableaus import ERK_TABLEAUS
from tests.integrators.test_tableaus import COND_TOL, FAIL_TOL, density, max_residual, trees

RK = {**DIRK_TABLEAUS, **FIRK_TABLEAUS}
# name: (stages, order, embedded order, stiffly accurate, stability) with stability
# "L" (L-stable) or "I" (A-stable with |R(iy)| == 1, R(inf) = (-1)^k).
RK_FACTS = {
    "backward_euler": (1, 1, None, True, "L"),
    "implicit_midpoint": (1, 2, None, False, "I"),
    "trapezoidal": (2, 2, None, True, "I"),
    "crank_nicolson": (3, 2, 1, False, "I"),
    "sdirk_2_2": (2, 2, None, True, "L"),
    "trbdf2": (3, 2, 3, True, "L"),
    "l_stable_dirk_3": (3, 3, None, True, "L"),
    "kvaerno3": (4, 3, 2, True, "L"),
    "l_stable_sdirk_4": (5, 4, 3, True, "L"),
    "kvaerno4": (5, 4, 3, True, "L"),
    "kvaerno5": (7, 5, 4, True, "L"),
    "gauss_legendre_2": (2, 4, None, False, "I"),
    "gauss_legendre_3": (3, 6, None, False, "I"),
    "radau_iia_3": (2, 3, None, True, "L"),
    "radau_iia_5": (3, 5, None, True, "L"),
    "radau_iia_9": (5, 9, None, True, "L"),
}
# Published diagonals: Alexander (1977), Kvaerno (2004, to 10 digits), HW Table IV.6.5.
SDIRK_GAMMA = {"sdirk_2_2": (1 - 1 / math.sqrt(2), 1e-16), "l_stable_dirk_3": (0.4358665215, 1e-10),
               "kvaerno3": (0.4358665215, 1e-10), "kvaerno4": (0.5728160625, 1e-10),
               "kvaerno5": (0.26, 0), "l_stable_sdirk_4": (0.25, 0), "trbdf2": (1 - 2**-0.5, 1e-16)}
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
Y_AXIS = np.concatenate([np.logspace(-3, 6, 500), [0.5, 1, 2, 3]])


def stability(a: np.ndarray, b: np.ndarray, z: complex) -> complex:
    s = len(b)
    return complex(1 + z * b @ np.linalg.solve(np.eye(s) - z * a, np.ones(s)))


def check_stability(a: np.ndarray, b: np.ndarray, kind: str) -> None:
    """L: R(-inf) = 0; I: |R(iy)| == 1; both: A-stable (poles right, |R(iy)| <= 1)."""
    eig = np.linalg.eigvals(a)
    assert np.all(eig.real > -1e-14), "a pole of R lies in the left half-plane"
    on_axis = np.array([abs(stability(a, b, 1j * y)) for y in Y_AXIS])
    assert on_axis.max() <= 1 + 1e-12
    at_inf = stability(a, b, -1e8)
    if kind == "L":
        assert abs(at_inf) < 1e-6
    elif kind == "I":
        np.testing.assert_allclose(on_axis, 1.0, rtol=0, atol=1e-12)
        assert abs(abs(at_inf) - 1) < 1e-6
    else:
        assert 1e-3 < abs(at_inf) < 1


# --- Runge-Kutta tableaus ---------------------------------------------------------

def test_rk_catalogue() -> None:
    assert set(RK) == set(RK_FACTS) and not set(DIRK_TABLEAUS) & set(FIRK_TABLEAUS)
    for name, tab in RK.items():
        stages, order, error_order, _, _ = RK_FACTS[name]
        assert (tab.name, tab.stages, tab.order, tab.error_order) == (name, stages, order,
                                                                        error_order)
        assert not tab.is_explicit
    for tab in DIRK_TABLEAUS.values():
        assert all(tab.a[i][j] == 0.0 for i in range(tab.stages) for j in range(i + 1, tab.stages))


@pytest.mark.parametrize("name", list(RK_FACTS))
def test_rk_order_conditions(name: str) -> None:
    tab = RK[name]
    a, b = np.array(tab.a), np.array(tab.b)
    scale = np.maximum(1.0, np.abs(a).sum(axis=1))
    assert np.all(np.abs(a.sum(axis=1) - tab.c) <= 1e-14 * scale)
    for n in range(1, tab.order + 1):
        assert max_residual(b, a, n) < COND_TOL, f"order {n} condition fails"
    assert max_residual(b, a, tab.order + 1) > FAIL_TOL, "order is higher than claimed"
    if tab.b_error is not None:
        w = np.array(tab.b_error)
        for n in range(1, tab.error_order + 1):
            assert max_residual(w, a, n) < COND_TOL, f"embedded order {n} fails"
        assert max_residual(w, a, tab.error_order + 1) > FAIL_TOL


@pytest.mark.parametrize("name", list(RK_FACTS))
def test_rk_stability_and_stiff_accuracy(name: str) -> None:
    tab = RK[name]
    *_, stiffly_accurate, kind = RK_FACTS[name]
    assert (tab.a[-1] == tab.b and tab.c[-1] == 1.0) == stiffly_accurate
    check_stability(np.array(tab.a), np.array(tab.b), kind)


@pytest.mark.parametrize("name", list(SDIRK_GAMMA))
def test_sdirk_diagonal_is_the_published_gamma(name: str) -> None:
    tab = DIRK_TABLEAUS[name]
    diagonal = {tab.a[i][i] for i in range(tab.stages) if tab.a[i][i] != 0.0}
    assert len(diagonal) == 1
    gamma, tol = SDIRK_GAMMA[name]
    assert abs(diagonal.pop() - gamma) <= tol


# --- FIRK: eigen-transform and RADAU5 error estimate ------------------------------

@pytest.mark.parametrize("name", list(FIRK_TABLEAUS))
def test_eigen_transform_block_diagonalises_a_inverse(name: str) -> None:
    tr = FIRK_TRANSFORMS[name]
    s = FIRK_TABLEAUS[name].stages
    a_inv = np.linalg.inv(np.array(FIRK_TABLEAUS[name].a))
    t, t_inv = np.array(tr.t), np.array(tr.t_inv)
    assert (len(tr.real), len(tr.pairs)) == (s % 2, s // 2)
    np.testing.assert_allclose(t @ t_inv, np.eye(s), atol=1e-13)
    np.testing.assert_allclose(t_inv @ a_inv @ t, tr.block_diagonal(),
                               atol=1e-13 * np.abs(a_inv).max())
    expected = np.sort_complex(np.linalg.eigvals(a_inv))
    found = np.sort_complex(np.array([*tr.real, *(complex(al, sg * be) for al, be in tr.pairs
                                                   for sg in (1, -1))]))
    np.testing.assert_allclose(found, expected, rtol=1e-12)


def test_published_eigenvalues() -> None:
    """A^{-1} of Gauss 2: 3 +- i sqrt3; Radau IIA 2: 2 +- i sqrt2; Radau IIA 3: RADAU5's."""
    np.testing.assert_allclose(FIRK_TRANSFORMS["gauss_legendre_2"].pairs, [(3, math.sqrt(3))],
                               rtol=1e-14)
    np.testing.assert_allclose(FIRK_TRANSFORMS["radau_iia_3"].pairs, [(2, math.sqrt(2))],
                               rtol=1e-14)
    # RADAU5 (Hairer & Wanner 1996), subroutine RADCOR: U1, ALPH, BETA and T.
    u1 = 30 / (6 + 81 ** (1 / 3) - 9 ** (1 / 3))
    alph = (12 - 81 ** (1 / 3) + 9 ** (1 / 3)) / 60
    beta = (81 ** (1 / 3) + 9 ** (1 / 3)) * math.sqrt(3) / 60
    cno = alph**2 + beta**2
    tr = FIRK_TRANSFORMS["radau_iia_5"]
    np.testing.assert_allclose(tr.real, [u1], rtol=1e-14)
    np.testing.assert_allclose(tr.pairs, [(alph / cno, beta / cno)], rtol=1e-14)
    hairer_t = np.array([[9.1232394870892942792e-02, -0.14125529502095420843,
                          -3.0029194105147424492e-02],
                         [0.24171793270710701896, 0.20412935229379993199, 0.38294211275726193779],
                         [0.96604818261509293619, 1.0, 0.0]])
    t = np.array(tr.t)
    np.testing.assert_allclose(t[:, 1:], hairer_t[:, 1:], atol=1e-14)
    np.testing.assert_allclose(t[:, 0] * hairer_t[2, 0], hairer_t[:, 0], atol=1e-14)


def test_radau5_error_estimate() -> None:
    """gamma0 is A's real eigenvalue; y1 + err is an order-3 solution (HW IV.8)."""
    tab = FIRK_TABLEAUS["radau_iia_5"]
    a = np.array(tab.a)
    real = [ev.real for ev in np.linalg.eigvals(a) if abs(ev.imag) < 1e-12]
    np.testing.assert_allclose(RADAU5_ERROR.gamma0, real, rtol=1e-14)
    # y_hat = y + dt (gamma0 f(y) + sum (b + w)_j k_j): an extra explicit stage at c = 0.
    a_aug = np.zeros((4, 4))
    a_aug[1:, 1:] = a
    w = np.array([RADAU5_ERROR.gamma0, *(np.array(tab.b) + RADAU5_ERROR.k_weights(tab.a))])
    for n in range(1, 4):
        assert max_residual(w, a_aug, n) < COND_TOL
    assert max_residual(w, a_aug, 4) > FAIL_TOL


# --- Rosenbrock order conditions ---------------------------------------------------

def original(tab: RosenbrockTableau) -> tuple[np.ndarray, np.ndarray]:
    """(alpha, Gamma) of the original form."""
    return tab.alpha(), tab.gamma_matrix()


def phi_ros(t: tuple, alpha: np.ndarray, big_b: np.ndarray) -> np.ndarray:
    if len(t) == 1:
        return big_b @ phi_ros(t[0], alpha, big_b)
    v = np.ones(alpha.shape[0])
    for child in t:
        v = v * (alpha @ phi_ros(child, alpha, big_b))
    return v


def ros_residual(w: np.ndarray, alpha: np.ndarray, big_b: np.ndarray, n: int,
                 theta: float = 1.0) -> float:
    out = 0.0
    for t in trees(n):
        p = phi_ros(t, alpha, big_b)
        out = max(out, abs(w @ p - theta**n / density(t)) / max(1.0, np.abs(w * p).sum()))
    return out


def coloured(t: tuple) -> list[tuple]:
    """Every colouring of t: ("f", kids) or, for one child, ("J", kids)."""
    out = []
    for kids in itertools.product(*(coloured(c) for c in t)):
        out.append(("f", kids))
        if len(t) == 1:
            out.append(("J", kids))
    return out


def phi_w(ct: tuple, alpha: np.ndarray, big_gamma: np.ndarray) -> np.ndarray:
    kind, kids = ct
    if kind == "J":
        return big_gamma @ phi_w(kids[0], alpha, big_gamma)
    v = np.ones(alpha.shape[0])
    for child in kids:
        v = v * (alpha @ phi_w(child, alpha, big_gamma))
    return v


def w_residual(w: np.ndarray, alpha: np.ndarray, big_gamma: np.ndarray, n: int) -> float:
    def has_j(ct: tuple) -> bool:
        return ct[0] == "J" or any(has_j(k) for k in ct[1])

    def dens(ct: tuple) -> int:
        return size(ct) * int(np.prod([dens(k) for k in ct[1]]))

    def size(ct: tuple) -> int:
        return 1 + sum(size(k) for k in ct[1])

    out = 0.0
    for ct in (c for t in trees(n) for c in coloured(t)):
        p = phi_w(ct, alpha, big_gamma)
        target = 0.0 if has_j(ct) else 1 / dens(ct)
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


@pytest.mark.parametrize("name", list(ROS_FACTS))
def test_rosenbrock_order_conditions(name: str) -> None:
    tab = ROSENBROCK_TABLEAUS[name]
    alpha, big_gamma = original(tab)
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
    alpha, big_gamma = original(tab)
    w = tab.original_weights(tab.b)
    for n in range(1, tab.w_order + 1):
        assert w_residual(w, alpha, big_gamma, n) < COND_TOL, f"W order {n} fails"
    assert w_residual(w, alpha, big_gamma, tab.w_order + 1) > FAIL_TOL


@pytest.mark.parametrize("name", list(ROS_FACTS))
def test_rosenbrock_stability(name: str) -> None:
    tab = ROSENBROCK_TABLEAUS[name]
    alpha, big_gamma = original(tab)
    check_stability(alpha + big_gamma, tab.original_weights(tab.b), ROS_FACTS[name][4])


def test_published_values_at_infinity() -> None:
    """ROS3P: |R(inf)| = 0.73 (Lang & Verwer 2001); ROS34PW2's embedded: 0.48 (Rang &
    Angermann 2005, as listed by PETSc's TSROSWRA34PW2)."""
    for name, weights, value in (("ros3p", "b", 0.73), ("ros34pw2", "b_error", 0.48)):
        tab = ROSENBROCK_TABLEAUS[name]
        alpha, big_gamma = original(tab)
        w = tab.original_weights(getattr(tab, weights))
        assert abs(abs(stability(alpha + big_gamma, w, -1e9)) - value) < 0.005


@pytest.mark.parametrize("name", ROS_STIFFLY_ACCURATE)
def test_rosenbrock_stiffly_accurate(name: str) -> None:
    """y_new is the last stage's argument plus U_s (so c_s = 1)."""
    tab = ROSENBROCK_TABLEAUS[name]
    np.testing.assert_allclose(tab.b[:-1], tab.a[-1][:-1], rtol=1e-15, atol=1e-15)
    assert tab.b[-1] == 1.0 and tab.c[-1] == 1.0


@pytest.mark.parametrize("name", [n for n, f in ROS_FACTS.items() if f[5] is not None])
def test_rosenbrock_dense_output(name: str) -> None:
    tab = ROSENBROCK_TABLEAUS[name]
    alpha, big_gamma = original(tab)
    np.testing.assert_allclose(tab.dense_weights(1.0), tab.b, rtol=0, atol=1e-12)
    assert tab.dense_weights(0.0) == (0.0,) * tab.stages
    for theta in (0.2, 0.5, 0.8):
        w = tab.original_weights(tab.dense_weights(theta))
        for n in range(1, tab.dense_order + 1):
            assert ros_residual(w, alpha, alpha + big_gamma, n, theta) < 1e-11, (theta, n)


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


# --- names -----------------------------------------------------------------------

CUBIE_NAMES = {
    "backwards_euler": "backward_euler", "backwards_euler_pc": "backward_euler",
    "crank_nicolson": "crank_nicolson", "implicit_midpoint": "implicit_midpoint",
    "trapezoidal_dirk": "trapezoidal", "ode23t": "trapezoidal", "sdirk_2_2": "sdirk_2_2",
    "l_stable_dirk_3": "l_stable_dirk_3", "l_stable_sdirk_4": "l_stable_sdirk_4",
    "kvaerno3": "kvaerno3", "kvaerno5": "kvaerno5", "radau": "radau_iia_5",
    "radau_iia_3": "radau_iia_3", "radau_iia_5": "radau_iia_5", "radau_iia_9": "radau_iia_9",
    "firk_gauss_legendre_2": "gauss_legendre_2", "ros3p": "ros3p", "rodas3p": "rodas3p",
    "rodas4": "rodas4", "rodas4p": "rodas4p", "rodas5p": "rodas5p",
    "rosenbrock23": "rosenbrock23", "ode23s": "rosenbrock23", "ros34pw2": "ros34pw2",
    "ros34pw3": "ros34pw3", "ros2": "ros2", "grk4a": "grk4a",
}
COMMON_ALIASES = {"sdirk4": "l_stable_sdirk_4", "trbdf2": "trbdf2", "ode23tb": "trbdf2",
                  "radau5": "radau_iia_5", "gauss_legendre_2": "gauss_legendre_2",
                  "gauss_legendre_3": "gauss_legendre_3", "kvaerno4": "kvaerno4"}


@pytest.mark.parametrize("name, tableau", [*CUBIE_NAMES.items(), *COMMON_ALIASES.items()])
def test_names_resolve_to_the_intended_tableau(name: str, tableau: str) -> None:
    method = implicit_method(name)
    assert method.tableau.name == tableau
    family = ("rosenbrock" if tableau in ROS_FACTS else
              "firk" if tableau in FIRK_TABLEAUS else "dirk")
    assert method.family == family


def test_registry_is_consistent() -> None:
    names = list(IMPLICIT_METHODS)
    aliases = [a for m in IMPLICIT_METHODS.values() for a in m.aliases]
    assert len(set(names + aliases)) == len(names) + len(aliases), "a name is used twice"
    assert not set(names + aliases) & set(ERK_TABLEAUS), "clashes with an explicit method"
    tableaus = {m.tableau.name for m in IMPLICIT_METHODS.values()}
    assert tableaus == set(RK) | set(ROSENBROCK_TABLEAUS), "a tableau has no name"
    for name in names + aliases:
        assert canonical_name(name) in IMPLICIT_METHODS
    with pytest.raises(ValueError, match="radau5") as info:
        implicit_method("nope")
    assert "nope" in str(info.value)
