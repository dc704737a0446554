"""Diagonally implicit Runge-Kutta tableaus: DIRK, SDIRK and ESDIRK methods.

Each is a `ButcherTableau` (see `butcher.py` for the conventions) whose ``a`` is
lower triangular with a nonzero diagonal somewhere; a stage with ``a_ii == 0``
is explicit (the first stage of an ESDIRK, the trailing stages of an ELDIRK).
Stiffly accurate methods have ``b`` equal to the last row of ``a``; the embedded
solution of the Kvaerno pairs is the previous stage's row, so the error estimate
costs nothing extra, and a stiffly accurate ESDIRK's last stage derivative is
``f(t + dt, y_new)``, the next step's first stage. Where ``error_order > order``
(TR-BDF2, ELDIRK) the step advances the lower-order solution and the companion
only estimates its error.

Coefficients come from the cited papers (exact rationals and surds where they
are published as such) and are checked against the order conditions and the
stability functions by ``tests/integrators/test_implicit_tableaus.py``.
"""

from __future__ import annotations

import math
from fractions import Fraction as F

import numpy as np

from cubie_trace.integrators.butcher import ButcherTableau

SQRT2 = math.sqrt(2.0)


def _l_stable_gamma(stages: int, root: int) -> float:
    """The diagonal ``gamma = 1/x`` with x the `root`-th smallest zero of L_stages.

    A stiffly accurate SDIRK (or ESDIRK) with `stages` implicit stages of
    order `stages` has R(inf) proportional to the Laguerre polynomial
    L_stages(1/gamma), so its L-stable diagonals are the reciprocal zeros
    (Hairer & Wanner II, Sect. IV.6).
    """
    zeros = np.sort(np.polynomial.laguerre.lagroots([0] * stages + [1]))
    return float(1.0 / zeros[root])


# --- one and two stages --------------------------------------------------------

BACKWARD_EULER = ButcherTableau("backward_euler", [[1]], [1], [1], order=1)

# The 1-stage Gauss method: symmetric, symplectic, A-stable with |R(iy)| = 1.
IMPLICIT_MIDPOINT = ButcherTableau("implicit_midpoint", [[F(1, 2)]], [1], [F(1, 2)], order=2)

# The trapezoidal rule as a 2-stage ESDIRK (explicit first stage, FSAL-like).
TRAPEZOIDAL = ButcherTableau(
    "trapezoidal", [[0, 0], [F(1, 2), F(1, 2)]], b=[F(1, 2), F(1, 2)], c=[0, 1], order=2)

# Crank-Nicolson with a backward-Euler companion: a third stage solves
# k3 = f(t + dt, y + dt k3), and the error estimate is the difference between
# the trapezoidal and the backward Euler solutions (two implicit solves a step).
CRANK_NICOLSON = ButcherTableau(
    "crank_nicolson",
    [[0, 0, 0], [F(1, 2), F(1, 2), 0], [0, 0, 1]],
    b=[F(1, 2), F(1, 2), 0],
    c=[0, 1, 1],
    order=2,
    b_error=[0, 0, 1],
    error_order=1,
)

# Alexander (1977), SIAM J. Numer. Anal. 14, 1006, Theorem 5: the L-stable,
# stiffly accurate 2-stage SDIRK with gamma = 1 - 1/sqrt(2).
_G2 = 1.0 - 1.0 / SQRT2
SDIRK_2_2 = ButcherTableau(
    "sdirk_2_2", [[_G2, 0], [1 - _G2, _G2]], b=[1 - _G2, _G2], c=[_G2, 1], order=2)

# TR-BDF2 as an ESDIRK: Hosea & Shampine (1996), Appl. Numer. Math. 20, 21,
# with gamma = 2 - sqrt(2) (trapezoidal stage to t + gamma dt, then BDF2).
# The embedded solution is the third-order companion of the paper, so the
# step advances the second-order solution and estimates with a higher order.
_TRB_G = 2.0 - SQRT2
_TRB_D = _TRB_G / 2.0
_TRB_W = SQRT2 / 4.0
TRBDF2 = ButcherTableau(
    "trbdf2",
    [[0, 0, 0], [_TRB_D, _TRB_D, 0], [_TRB_W, _TRB_W, _TRB_D]],
    b=[_TRB_W, _TRB_W, _TRB_D],
    c=[0, _TRB_G, 1],
    order=2,
    b_error=[(1 - _TRB_W) / 3, (3 * _TRB_W + 1) / 3, _TRB_D / 3],
    error_order=3,
)

# --- order 3 -------------------------------------------------------------------

# gamma of the 3-stage order-3 L-stable SDIRK: the zero near 0.4359 of
# x^3 - 3x^2 + 3x/2 - 1/6 (= 1/x, x a zero of L_3), in closed trigonometric form.
_THETA3 = math.atan(SQRT2 / 4.0) / 3.0
GAMMA3 = 1.0 - SQRT2 * math.cos(_THETA3) / 2.0 + math.sqrt(6.0) * math.sin(_THETA3) / 2.0

# Alexander (1977), Theorem 5 (also Crouzeix 1975): 3-stage, order 3,
# L-stable and stiffly accurate; b1, b2 follow from the order conditions.
_D3_B1 = -(6 * GAMMA3**2 - 16 * GAMMA3 + 1) / 4
_D3_B2 = (6 * GAMMA3**2 - 20 * GAMMA3 + 5) / 4
L_STABLE_DIRK_3 = ButcherTableau(
    "l_stable_dirk_3",
    [[GAMMA3, 0, 0], [(1 - GAMMA3) / 2, GAMMA3, 0], [_D3_B1, _D3_B2, GAMMA3]],
    b=[_D3_B1, _D3_B2, GAMMA3],
    c=[GAMMA3, (1 + GAMMA3) / 2, 1],
    order=3,
)

# Kvaerno (2004), BIT 44, 489: ESDIRK 3/2, stiffly accurate and L-stable,
# gamma = 0.4358665215 (published to 10 digits; the same zero as GAMMA3).
_K3_G = GAMMA3
_K3_ROW3 = [(-4 * _K3_G**2 + 6 * _K3_G - 1) / (4 * _K3_G), (-2 * _K3_G + 1) / (4 * _K3_G), _K3_G]
_K3_ROW4 = [(6 * _K3_G - 1) / (12 * _K3_G), -1 / ((24 * _K3_G - 12) * _K3_G),
            (-6 * _K3_G**2 + 6 * _K3_G - 1) / (6 * _K3_G - 3), _K3_G]
KVAERNO3 = ButcherTableau(
    "kvaerno3",
    [[0, 0, 0, 0], [_K3_G, _K3_G, 0, 0], _K3_ROW3 + [0], _K3_ROW4],
    b=_K3_ROW4,
    c=[0, 2 * _K3_G, 1, 1],
    order=3,
    b_error=_K3_ROW3 + [0],
    error_order=2,
)

# --- order 4 -------------------------------------------------------------------

# Hairer & Wanner II, Table IV.6.5 (eq. 6.16): the 5-stage L-stable, stiffly
# accurate SDIRK of order 4 with gamma = 1/4 and its embedded order-3 solution.
L_STABLE_SDIRK_4 = ButcherTableau(
    "l_stable_sdirk_4",
    [[F(1, 4), 0, 0, 0, 0],
     [F(1, 2), F(1, 4), 0, 0, 0],
     [F(17, 50), F(-1, 25), F(1, 4), 0, 0],
     [F(371, 1360), F(-137, 2720), F(15, 544), F(1, 4), 0],
     [F(25, 24), F(-49, 48), F(125, 16), F(-85, 12), F(1, 4)]],
    b=[F(25, 24), F(-49, 48), F(125, 16), F(-85, 12), F(1, 4)],
    c=[F(1, 4), F(3, 4), F(11, 20), F(1, 2), 1],
    order=4,
    b_error=[F(59, 48), F(-17, 96), F(225, 32), F(-85, 12), 0],
    error_order=3,
)

# Kvaerno (2004): ESDIRK 4/3 advancing with the 4th-order last stage, stiffly
# accurate and L-stable; gamma = 0.5728160625 published to 10 digits, here the
# exact reciprocal of the second zero of L_4. The coefficients are the paper's
# rational functions of gamma.
_K4_G = _l_stable_gamma(4, 1)


def _k4(*coefficients: float) -> float:
    """The polynomial with these coefficients (highest power first) at gamma."""
    return float(np.polyval(coefficients, _K4_G))


_K4_Q = _k4(12, -6, 1)
_K4_ROW3 = [_k4(144, -180, 81, -15, 1) * _K4_G / _K4_Q**2,
            _k4(-36, 39, -15, 2) * _K4_G / _K4_Q**2, _K4_G]
_K4_ROW4 = [_k4(-144, 396, -330, 117, -18, 1) / (12 * _K4_G**2 * _k4(12, -9, 2)),
            _k4(72, -126, 69, -15, 1) / (12 * _K4_G**2 * _k4(3, -1)),
            _k4(-6, 6, -1) * _K4_Q**2 / (12 * _K4_G**2 * _k4(12, -9, 2) * _k4(3, -1)),
            _K4_G]
_K4_ROW5 = [_k4(288, -312, 120, -18, 1) / (48 * _K4_G**2 * _k4(12, -9, 2)),
            _k4(24, -12, 1) / (48 * _K4_G**2 * _k4(3, -1)),
            -(_K4_Q**3) / (48 * _K4_G**2 * _k4(3, -1) * _k4(12, -9, 2) * _k4(6, -6, 1)),
            _k4(-24, 36, -12, 1) / _k4(24, -24, 4),
            _K4_G]
KVAERNO4 = ButcherTableau(
    "kvaerno4",
    [[0] * 5, [_K4_G, _K4_G, 0, 0, 0], _K4_ROW3 + [0, 0], _K4_ROW4 + [0], _K4_ROW5],
    b=_K4_ROW5,
    c=[0, 2 * _K4_G, sum(_K4_ROW3), 1, 1],
    order=4,
    b_error=_K4_ROW4 + [0],
    error_order=3,
)

# --- order 5 -------------------------------------------------------------------

# Kvaerno (2004): ESDIRK 5/4 with gamma = 0.26, stiffly accurate and L-stable;
# the coefficients as published (17 significant digits).
_K5_G = 0.26
_K5_ROW6 = [0.13855640231268224, 0, -0.04245337201752043, 0.02446657898003141,
            0.61943039072480676, _K5_G]
_K5_ROW7 = [0.13659751177640291, 0, -0.05496908796538376, -0.04118626728321046,
            0.62993304899016403, 0.06962479448202728, _K5_G]
KVAERNO5 = ButcherTableau(
    "kvaerno5",
    [[0] * 7,
     [_K5_G, _K5_G, 0, 0, 0, 0, 0],
     [0.13, 0.84033320996790809, _K5_G, 0, 0, 0, 0],
     [0.22371961478320505, 0.47675532319799699, -0.06470895363112615, _K5_G, 0, 0, 0],
     [0.16648564323248321, 0.10450018841591720, 0.03631482272098715,
      -0.13090704451073998, _K5_G, 0, 0],
     _K5_ROW6 + [0],
     _K5_ROW7],
    b=_K5_ROW7,
    c=[0, 0.52, 1.230333209967908, 0.895765984350076, 0.436393609858648, 1, 1],
    order=5,
    b_error=_K5_ROW6 + [0],
    error_order=4,
)

# --- ELDIRK: implicit schemes with an explicit last stage for a 3rd-order estimate ---

# Mahnken (2023), Comput. Mech. 71, "Derivation of third order Runge-Kutta methods
# (ELDIRK) by embedding of lower order implicit time integration schemes": the
# step advances the low-order implicit scheme and the explicit trailing stages
# give a third-order companion (coefficients as tabulated by CuBIE 0.17.0, whose
# implicit-Euler variant advances with the Euler stage's weights, b = (1, 0, 0)).
ELDIRK32_EULER = ButcherTableau(
    "eldirk32_euler",
    [[1, 0, 0], [F(1, 2), 0, 0], [F(-5, 4), F(3, 2), 0]],
    b=[1, 0, 0],
    c=[1, F(1, 2), F(1, 4)],
    order=1,
    b_error=[F(2, 9), F(1, 3), F(4, 9)],
    error_order=3,
)

ELDIRK32_TRAPEZOIDAL = ButcherTableau(
    "eldirk32_trapezoidal",
    [[0, 0, 0], [F(1, 2), F(1, 2), 0], [F(3, 8), F(1, 8), 0]],
    b=[F(1, 2), F(1, 2), 0],
    c=[0, 1, F(1, 2)],
    order=2,
    b_error=[F(1, 6), F(1, 6), F(2, 3)],
    error_order=3,
)

# Ellsiepen's method is the 2-stage SDIRK above (gamma = 1 - 1/sqrt 2).
_ELL_D = 6 * (_G2 - _G2**2)
ELDIRK32_ELLSIEPEN = ButcherTableau(
    "eldirk32_ellsiepen",
    [[_G2, 0, 0], [1 - _G2, _G2, 0], [_G2 - 1, 1 - _G2, 0]],
    b=[1 - _G2, _G2, 0],
    c=[_G2, 1, 0],
    order=2,
    b_error=[1 / _ELL_D, (2 - 3 * _G2) / (6 * (1 - _G2)), (4 * _G2 - 3 * _G2**2 - 1) / _ELL_D],
    error_order=3,
)

DIRK_TABLEAUS: dict[str, ButcherTableau] = {
    tab.name: tab
    for tab in (BACKWARD_EULER, IMPLICIT_MIDPOINT, TRAPEZOIDAL, CRANK_NICOLSON, SDIRK_2_2,
                TRBDF2, L_STABLE_DIRK_3, KVAERNO3, L_STABLE_SDIRK_4, KVAERNO4, KVAERNO5,
                ELDIRK32_EULER, ELDIRK32_TRAPEZOIDAL, ELDIRK32_ELLSIEPEN)
}
