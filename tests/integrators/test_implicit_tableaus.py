"""Implicit tableaus: order conditions, stability functions, transforms and names.

Runge-Kutta tableaus use Butcher's rooted-tree conditions (test_tableaus.py);
the stability function is ``R(z) = 1 + z b^T (I - z A)^{-1} 1``. Expected orders,
stage counts and stability properties are the published ones. The Rosenbrock
checks are in test_rosenbrock_tableaus.py; the names of all implicit methods here.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from cubie_trace.integrators.dirk_tableaus import DIRK_TABLEAUS
from cubie_trace.integrators.firk_tableaus import FIRK_TABLEAUS, FIRK_TRANSFORMS, RADAU5_ERROR
from cubie_trace.integrators.implicit_methods import (
    IMPLICIT_METHODS,
    canonical_name,
    implicit_method,
)
from cubie_trace.integrators.rosenbrock_tableaus import ROSENBROCK_TABLEAUS
from cubie_trace.integrators.tableaus import ERK_TABLEAUS
from tests.integrators.test_tableaus import COND_TOL, FAIL_TOL, max_residual

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
    "eldirk32_euler": (3, 1, 3, False, "L"),
    "eldirk32_trapezoidal": (3, 2, 3, False, "I"),
    "eldirk32_ellsiepen": (3, 2, 3, False, "L"),
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


# --- names -----------------------------------------------------------------------

CUBIE_NAMES = {
    "backwards_euler": "backward_euler", "backwards_euler_pc": "backward_euler",
    "crank_nicolson": "crank_nicolson", "implicit_midpoint": "implicit_midpoint",
    "trapezoidal_dirk": "trapezoidal", "ode23t": "trapezoidal", "sdirk_2_2": "sdirk_2_2",
    "l_stable_dirk_3": "l_stable_dirk_3", "l_stable_sdirk_4": "l_stable_sdirk_4",
    "kvaerno3": "kvaerno3", "kvaerno5": "kvaerno5", "radau": "radau_iia_5",
    "radau_iia_3": "radau_iia_3", "radau_iia_5": "radau_iia_5", "radau_iia_9": "radau_iia_9",
    "firk_gauss_legendre_2": "gauss_legendre_2", "eldirk32_euler": "eldirk32_euler",
    "eldirk32_trapezoidal": "eldirk32_trapezoidal", "eldirk32_ellsiepen": "eldirk32_ellsiepen",
    "ros3p": "ros3p", "rodas3p": "rodas3p",
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
    family = ("rosenbrock" if tableau in ROSENBROCK_TABLEAUS else
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
