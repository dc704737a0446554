"""Fully implicit Runge-Kutta tableaus: Gauss-Legendre and Radau IIA collocation.

Each is a `ButcherTableau` (conventions in `butcher.py`) with a full ``a``.
Gauss methods of s stages have order 2s and |R(iy)| = 1; Radau IIA methods of
s stages have order 2s - 1, are stiffly accurate and L-stable (Hairer & Wanner
II, Sect. IV.5). `FIRK_TRANSFORMS` holds, per tableau, the real block
diagonalisation of ``A^{-1}`` computed here at import (`firk_transform.py`).

`RADAU5_ERROR` is the embedded error estimate of Hairer's RADAU5 for the
3-stage Radau IIA method (Hairer & Wanner II, Sect. IV.8, eqs. 8.19-8.20).
"""

from __future__ import annotations

import math
from fractions import Fraction as F

import attrs

from cubie_trace.integrators.butcher import ButcherTableau, Floats, floats
from cubie_trace.integrators.firk_transform import EigenTransform, eigen_transform

SQRT3 = math.sqrt(3.0)
SQRT6 = math.sqrt(6.0)
SQRT15 = math.sqrt(15.0)

# --- Gauss-Legendre (Hairer & Wanner II, Table IV.5.1 and IV.5.2) ------------------

GAUSS_LEGENDRE_2 = ButcherTableau(
    "gauss_legendre_2",
    [[0.25, 0.25 - SQRT3 / 6], [0.25 + SQRT3 / 6, 0.25]],
    b=[0.5, 0.5],
    c=[0.5 - SQRT3 / 6, 0.5 + SQRT3 / 6],
    order=4,
)

GAUSS_LEGENDRE_3 = ButcherTableau(
    "gauss_legendre_3",
    [[5 / 36, 2 / 9 - SQRT15 / 15, 5 / 36 - SQRT15 / 30],
     [5 / 36 + SQRT15 / 24, 2 / 9, 5 / 36 - SQRT15 / 24],
     [5 / 36 + SQRT15 / 30, 2 / 9 + SQRT15 / 15, 5 / 36]],
    b=[5 / 18, 4 / 9, 5 / 18],
    c=[0.5 - SQRT15 / 10, 0.5, 0.5 + SQRT15 / 10],
    order=6,
)

# --- Radau IIA (Hairer & Wanner II, Table IV.5.5 and IV.5.6) -----------------------

RADAU_IIA_3 = ButcherTableau(
    "radau_iia_3",
    [[F(5, 12), F(-1, 12)], [F(3, 4), F(1, 4)]],
    b=[F(3, 4), F(1, 4)],
    c=[F(1, 3), 1],
    order=3,
)

_R5_B = [(16 - SQRT6) / 36, (16 + SQRT6) / 36, 1 / 9]
RADAU_IIA_5 = ButcherTableau(
    "radau_iia_5",
    [[(88 - 7 * SQRT6) / 360, (296 - 169 * SQRT6) / 1800, (-2 + 3 * SQRT6) / 225],
     [(296 + 169 * SQRT6) / 1800, (88 + 7 * SQRT6) / 360, (-2 - 3 * SQRT6) / 225],
     _R5_B],
    b=_R5_B,
    c=[(4 - SQRT6) / 10, (4 + SQRT6) / 10, 1],
    order=5,
)

# The 5-stage method (order 9): collocation at the zeros of
# d^4/dx^4 (x^5 (x - 1)^4) (Hairer & Wanner II, Theorem IV.5.2); the
# coefficients are double-precision values of that construction as tabulated
# by CuBIE 0.17.0 (generic_firk_tableaus.py).
_R9_B = [0.14371356079122594, 0.28135601514946207, 0.31182652297574126,
         0.22310390108357075, 0.04]
RADAU_IIA_9 = ButcherTableau(
    "radau_iia_9",
    [[0.07299886431790333, -0.02673533110794557, 0.018676929763984353,
      -0.01287910609330644, 0.005042839233882015],
     [0.15377523147918246, 0.14621486784749352, -0.03644456890512809,
      0.02123306311930472, -0.007935579902728777],
     [0.14006304568480987, 0.29896712949128346, 0.16758507013524895,
      -0.03396910168661774, 0.010944288744192253],
     [0.14489430810953477, 0.2765000687601592, 0.32579792291042103,
      0.12875675325490976, -0.015708917378805327],
     _R9_B],
    b=_R9_B,
    c=[0.05710419611451768, 0.2768430136381238, 0.5835904323689168, 0.8602401356562195, 1],
    order=9,
)

FIRK_TABLEAUS: dict[str, ButcherTableau] = {
    tab.name: tab
    for tab in (GAUSS_LEGENDRE_2, GAUSS_LEGENDRE_3, RADAU_IIA_3, RADAU_IIA_5, RADAU_IIA_9)
}

FIRK_TRANSFORMS: dict[str, EigenTransform] = {
    name: eigen_transform(tab.a) for name, tab in FIRK_TABLEAUS.items()
}


# --- RADAU5's embedded error estimate -------------------------------------------------

@attrs.frozen
class RadauErrorEstimate:
    """The embedded estimate ``err = gamma0 dt f(t, y) + sum_i e_i z_i``.

    ``z_i = Y_i - y`` are the stage increments and ``gamma0`` the real
    eigenvalue of ``A`` (so the same LU as the real Newton block serves:
    RADAU5 smooths the estimate with ``(I - gamma0 dt J)^{-1}``). In
    stage-derivative form ``sum_i e_i z_i = dt sum_j w_j k_j`` with
    ``w = e^T A``; `k_weights` returns w.
    """

    gamma0: float
    e: Floats = attrs.field(converter=floats)

    def k_weights(self, a: tuple[tuple[float, ...], ...]) -> Floats:
        """``w_j = sum_i e_i a_ij``: the estimate's weights on ``dt k_j``."""
        return tuple(sum(self.e[i] * a[i][j] for i in range(len(a))) for j in range(len(a)))


# RADAU5 (Hairer & Wanner, 1996): U1 = 30 / (6 + 81^(1/3) - 9^(1/3)) is the real
# eigenvalue of A^{-1}, gamma0 = 1 / U1, and DD = (-(13 + 7 sqrt6), -13 + 7 sqrt6, -1) / 3.
# The code scales DD by 1/dt and the f term by 1/(gamma0 dt); here both are
# written for err itself, so e = gamma0 * DD.
_GAMMA0 = (6 + 81 ** (1 / 3) - 9 ** (1 / 3)) / 30
RADAU5_ERROR = RadauErrorEstimate(
    gamma0=_GAMMA0,
    e=[_GAMMA0 * -(13 + 7 * SQRT6) / 3, _GAMMA0 * (-13 + 7 * SQRT6) / 3, _GAMMA0 * -1 / 3],
)
