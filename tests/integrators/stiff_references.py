"""Stiff test problems written in numpy, independently of cubie_trace, with their
reference solutions: published end values where the Test Set for IVP Solvers gives them,
otherwise scipy's Radau at rtol = 1e-13 with the analytic Jacobian (computed on demand
and cached for the process).

Published values: F. Mazzia and F. Iavernaro, Test Set for Initial Value Problem
Solvers, University of Bari (https://archimede.uniba.it/~testset/), problems HIRES,
OREGO and POLLU (the "reference solution" of each problem's description; computed
there with RADAU5 in quadruple-precision arithmetic at rtol = atol = h0 = 1.1e-18 for
HIRES and POLLU).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.integrate import solve_ivp

REF_RTOL = 1e-13

# --- right-hand sides and Jacobians ---------------------------------------------


def robertson_rhs(t: float, y: np.ndarray, k1: float, k2: float, k3: float) -> np.ndarray:
    y1, y2, y3 = y
    return np.array([-k1 * y1 + k3 * y2 * y3, k1 * y1 - k3 * y2 * y3 - k2 * y2 ** 2,
                     k2 * y2 ** 2])


def robertson_jac(t: float, y: np.ndarray, k1: float, k2: float, k3: float) -> np.ndarray:
    _, y2, y3 = y
    return np.array([[-k1, k3 * y3, k3 * y2],
                     [k1, -k3 * y3 - 2 * k2 * y2, -k3 * y2],
                     [0.0, 2 * k2 * y2, 0.0]])


def vdp_rhs(t: float, y: np.ndarray, mu: float) -> np.ndarray:
    return np.array([y[1], mu * (1 - y[0] ** 2) * y[1] - y[0]])


def vdp_jac(t: float, y: np.ndarray, mu: float) -> np.ndarray:
    return np.array([[0.0, 1.0], [-2 * mu * y[0] * y[1] - 1, mu * (1 - y[0] ** 2)]])


HIRES_LINEAR = np.array([
    [-1.71, 0.43, 8.32, 0, 0, 0, 0, 0],
    [1.71, -8.75, 0, 0, 0, 0, 0, 0],
    [0, 0, -10.03, 0.43, 0.035, 0, 0, 0],
    [0, 8.32, 1.71, -1.12, 0, 0, 0, 0],
    [0, 0, 0, 0, -1.745, 0.43, 0.43, 0],
    [0, 0, 0, 0.69, 1.71, -0.43, 0.69, 0],
    [0, 0, 0, 0, 0, 0, -1.81, 0],
    [0, 0, 0, 0, 0, 0, 1.81, 0]])
HIRES_SOURCE = np.array([0.0007, 0, 0, 0, 0, 0, 0, 0])
HIRES_REACTION = np.array([0, 0, 0, 0, 0, -1.0, 1.0, -1.0])  # times 280 y6 y8


def hires_rhs(t: float, y: np.ndarray) -> np.ndarray:
    return HIRES_LINEAR @ y + HIRES_SOURCE + HIRES_REACTION * (280 * y[5] * y[7])


def hires_jac(t: float, y: np.ndarray) -> np.ndarray:
    jac = HIRES_LINEAR.copy()
    jac[:, 5] += HIRES_REACTION * 280 * y[7]
    jac[:, 7] += HIRES_REACTION * 280 * y[5]
    return jac


def oregonator_rhs(t: float, y: np.ndarray, s: float, q: float, w: float) -> np.ndarray:
    y1, y2, y3 = y
    return np.array([s * (y2 - y1 * y2 + y1 - q * y1 ** 2), (-y2 - y1 * y2 + y3) / s,
                     w * (y1 - y3)])


def oregonator_jac(t: float, y: np.ndarray, s: float, q: float, w: float) -> np.ndarray:
    y1, y2, _ = y
    return np.array([[s * (1 - y2 - 2 * q * y1), s * (1 - y1), 0.0],
                     [-y2 / s, -(1 + y1) / s, 1 / s],
                     [w, 0.0, -w]])


# Pollution as a reaction network: reaction j has rate k_j * prod(y[REACTANTS[j]]) and
# changes the species by STOICHIOMETRY[:, j]. Species order: NO2 NO O3P O3 HO2 OH HCHO
# CO ALD MEO2 C2O3 CO2 PAN CH3O HNO3 O1D SO2 SO4 NO3 N2O5 (indices 0..19).
POLLUTION_K = np.array([
    0.35, 0.266e2, 0.123e5, 0.86e-3, 0.82e-3, 0.15e5, 0.13e-3, 0.24e5, 0.165e5, 0.9e4,
    0.22e-1, 0.12e5, 0.188e1, 0.163e5, 0.48e7, 0.35e-3, 0.175e-1, 0.1e9, 0.444e12, 0.124e4,
    0.21e1, 0.578e1, 0.474e-1, 0.178e4, 0.312e1])
POLLUTION_REACTIONS = [  # (reactants, products), species indices, one entry per molecule
    ((0,), (1, 2)), ((1, 3), (0,)), ((4, 1), (0, 5)), ((6,), (4, 4, 7)), ((6,), (7,)),
    ((6, 5), (4, 7)), ((8,), (9, 4, 7)), ((8, 5), (10,)), ((10, 1), (0, 9, 11)),
    ((10, 0), (12,)), ((12,), (10, 0)), ((9, 1), (13, 0)), ((13,), (6, 4)), ((0, 5), (14,)),
    ((2,), (3,)), ((3,), (15,)), ((3,), (2,)), ((15,), (5, 5)), ((15,), (2,)),
    ((16, 5), (17, 4)), ((18,), (1,)), ((18,), (0, 2)), ((0, 3), (18,)), ((18, 0), (19,)),
    ((19,), (18, 0))]
POLLUTION_Y0 = np.zeros(20)
POLLUTION_Y0[[1, 3, 6, 7, 8, 16]] = [0.2, 0.04, 0.1, 0.3, 0.01, 0.007]


def _pollution_stoichiometry() -> np.ndarray:
    matrix = np.zeros((20, len(POLLUTION_REACTIONS)))
    for j, (reactants, products) in enumerate(POLLUTION_REACTIONS):
        np.subtract.at(matrix[:, j], list(reactants), 1.0)
        np.add.at(matrix[:, j], list(products), 1.0)
    return matrix


POLLUTION_STOICHIOMETRY = _pollution_stoichiometry()


def pollution_rhs(t: float, y: np.ndarray, *k: float) -> np.ndarray:
    rates = np.array([kj * np.prod(y[list(reactants)])
                      for kj, (reactants, _) in zip(k, POLLUTION_REACTIONS)])
    return POLLUTION_STOICHIOMETRY @ rates


def pollution_jac(t: float, y: np.ndarray, *k: float) -> np.ndarray:
    rate_jac = np.zeros((len(POLLUTION_REACTIONS), 20))
    for j, (kj, (reactants, _)) in enumerate(zip(k, POLLUTION_REACTIONS)):
        for position, species in enumerate(reactants):
            others = reactants[:position] + reactants[position + 1:]
            rate_jac[j, species] += kj * np.prod(y[list(others)])
    return POLLUTION_STOICHIOMETRY @ rate_jac


# --- problems --------------------------------------------------------------------


@dataclass(frozen=True)
class StiffProblem:
    """A problem as scipy sees it: rhs(t, y, *p), jac(t, y, *p), the default start and
    parameters (in the order of the cubie_trace library model's parameters) and the
    absolute tolerance of its reference solutions."""

    rhs: Callable[..., np.ndarray]
    jac: Callable[..., np.ndarray]
    y0: tuple[float, ...]
    parameters: tuple[float, ...]
    ref_atol: float


PROBLEMS = {
    "robertson": StiffProblem(robertson_rhs, robertson_jac, (1.0, 0.0, 0.0),
                              (0.04, 3e7, 1e4), 1e-20),
    "van_der_pol": StiffProblem(vdp_rhs, vdp_jac, (2.0, 0.0), (1000.0,), 1e-12),
    "hires": StiffProblem(hires_rhs, hires_jac, (1, 0, 0, 0, 0, 0, 0, 0.0057), (), 1e-18),
    "oregonator": StiffProblem(oregonator_rhs, oregonator_jac, (1.0, 2.0, 3.0),
                               (77.27, 8.375e-6, 0.161), 1e-12),
    "pollution": StiffProblem(pollution_rhs, pollution_jac, tuple(POLLUTION_Y0),
                              tuple(POLLUTION_K), 1e-22),
}

# Published end values (Test Set for IVP Solvers; see the module docstring).
HIRES_T_END = 321.8122
HIRES_END = np.array([
    0.7371312573325668e-3, 0.1442485726316185e-3, 0.5888729740967575e-4,
    0.1175651343283149e-2, 0.2386356198831331e-2, 0.6238968252742796e-2,
    0.2849998395185769e-2, 0.2850001604814231e-2])
OREGONATOR_T_END = 360.0
OREGONATOR_END = np.array([0.1000814870318523e1, 0.1228178521549917e4, 0.1320554942846706e3])
POLLUTION_T_END = 60.0
POLLUTION_END = np.array([
    0.5646255480022769e-1, 0.1342484130422339, 0.4139734331099427e-8,
    0.5523140207484359e-2, 0.2018977262302196e-6, 0.1464541863493966e-6,
    0.7784249118997964e-1, 0.3245075353396018, 0.7494013383880406e-2,
    0.1622293157301561e-7, 0.1135863833257075e-7, 0.2230505975721359e-2,
    0.2087162882798630e-3, 0.1396921016840158e-4, 0.8964884856898295e-2,
    0.4352846369330103e-17, 0.6899219696263405e-2, 0.1007803037365946e-3,
    0.1772146513969984e-5, 0.5682943292316392e-4])
PUBLISHED = {("hires", HIRES_T_END): HIRES_END,
             ("oregonator", OREGONATOR_T_END): OREGONATOR_END,
             ("pollution", POLLUTION_T_END): POLLUTION_END}

# The spans the implicit-method tests and the stiff benchmark use.
SPANS = {"robertson": 40.0, "robertson_long": 1e5, "van_der_pol": 2000.0,
         "hires": HIRES_T_END, "oregonator": OREGONATOR_T_END, "pollution": POLLUTION_T_END}


def radau(name: str, t_end: float, parameters: Sequence[float] | None = None,
          y0: Sequence[float] | None = None, times: Sequence[float] | None = None,
          rtol: float = REF_RTOL) -> np.ndarray:
    """scipy Radau (analytic Jacobian) on problem `name` from t = 0: the state at `t_end`
    (n,), or at each of `times` (len(times), n); cached per argument tuple."""
    problem = PROBLEMS[name]
    return _radau(name, float(t_end),
                  tuple(map(float, problem.parameters if parameters is None else parameters)),
                  tuple(map(float, problem.y0 if y0 is None else y0)),
                  None if times is None else tuple(map(float, times)), float(rtol)).copy()


@functools.lru_cache(maxsize=256)
def _radau(name: str, t_end: float, parameters: tuple[float, ...], y0: tuple[float, ...],
           times: tuple[float, ...] | None, rtol: float) -> np.ndarray:
    problem = PROBLEMS[name]
    sol = solve_ivp(problem.rhs, (0.0, t_end), np.array(y0), method="Radau", rtol=rtol,
                    atol=problem.ref_atol, jac=problem.jac, args=parameters,
                    t_eval=times if times is not None else (t_end,))
    assert sol.success, sol.message
    return sol.y.T if times is not None else sol.y[:, -1]


def end_state(name: str, t_end: float, parameters: Sequence[float] | None = None,
              y0: Sequence[float] | None = None) -> np.ndarray:
    """The published end value where the Test Set gives one for these defaults, else
    `radau`'s."""
    problem = PROBLEMS[name]
    defaults = (parameters is None or tuple(parameters) == problem.parameters) and \
        (y0 is None or tuple(y0) == problem.y0)
    if defaults and (name, t_end) in PUBLISHED:
        return PUBLISHED[(name, t_end)].copy()
    return radau(name, t_end, parameters, y0)
