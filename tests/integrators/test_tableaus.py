"""Butcher tableaus: consistency, rooted-tree order conditions, dense output, convergence.

The order conditions are Butcher's: for every rooted tree t with |t| <= p,
``b . Phi(t) == 1 / gamma(t)``, where Phi(t) is the vector of elementary weights
(``Phi(leaf) = 1``, ``Phi([t1..tm]) = prod_k A Phi(t_k)`` elementwise) and gamma
the tree's density. A continuous extension of order q satisfies
``b(theta) . Phi(t) == theta^|t| / gamma(t)`` for |t| <= q.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from fractions import Fraction

import attrs
import numpy as np
import pytest

from cubie_trace.integrators.butcher import ButcherTableau
from cubie_trace.integrators.tableaus import ERK_TABLEAUS, tableau

Tree = tuple  # a rooted tree: the sorted tuple of its child subtrees; () is a leaf

NAMES = list(ERK_TABLEAUS)
DENSE = ["bs32", "dopri54", "tsit5"]
FSAL = ["bs32", "dopri54", "tsit5"]
EXPECTED_STAGES = {"euler": 1, "heun": 2, "ralston3": 3, "bs32": 4, "rk4": 4, "dopri54": 7,
                   "cash_karp": 6, "fehlberg45": 6, "tsit5": 7, "dop853": 12, "vern7": 10}
EXPECTED_ORDERS = {"euler": (1, None), "heun": (2, 1), "ralston3": (3, None), "bs32": (3, 2),
                   "rk4": (4, None), "dopri54": (5, 4), "cash_karp": (5, 4),
                   "fehlberg45": (4, 5), "tsit5": (5, 4), "dop853": (8, 5), "vern7": (7, 6)}
COND_TOL = 1e-12  # relative to sum_i |w_i Phi_i|, the round-off scale of b . Phi
FAIL_TOL = 1e-8   # a residual this large means the condition really fails


# --- rooted trees --------------------------------------------------------------

def _grow(t: Tree) -> Iterator[Tree]:
    """Every tree obtained from t by attaching one new leaf."""
    yield tuple(sorted(t + ((),)))
    for i, child in enumerate(t):
        for grown in _grow(child):
            yield tuple(sorted(t[:i] + (grown,) + t[i + 1:]))


@functools.cache
def trees(n: int) -> tuple[Tree, ...]:
    """All rooted trees with n vertices."""
    if n == 1:
        return ((),)
    return tuple(sorted({g for t in trees(n - 1) for g in _grow(t)}))


def size(t: Tree) -> int:
    return 1 + sum(size(c) for c in t)


def density(t: Tree) -> int:
    return size(t) * int(np.prod([density(c) for c in t]))


def phi(t: Tree, a: np.ndarray) -> np.ndarray:
    """Elementary weights of t per stage (before the final weights)."""
    v = np.ones(a.shape[0])
    for child in t:
        v = v * (a @ phi(child, a))
    return v


def residual(w: np.ndarray, t: Tree, a: np.ndarray, theta: float = 1.0) -> float:
    """|w . Phi(t) - theta^|t| / gamma(t)|, relative to the sum's round-off scale."""
    p = phi(t, a)
    scale = max(1.0, float(np.abs(w * p).sum()))
    return abs(float(w @ p) - theta ** size(t) / density(t)) / scale


def max_residual(w: np.ndarray, a: np.ndarray, n: int, theta: float = 1.0) -> float:
    return max(residual(w, t, a, theta) for t in trees(n))


def test_tree_counts() -> None:
    assert [len(trees(n)) for n in range(1, 10)] == [1, 1, 2, 4, 9, 20, 48, 115, 286]
    assert density(((), ())) == 3 and density((((),),)) == 6


# --- catalogue -----------------------------------------------------------------

def test_catalogue_contents() -> None:
    assert set(ERK_TABLEAUS) == set(EXPECTED_STAGES)
    for name, tab in ERK_TABLEAUS.items():
        assert tab.name == name
        assert tab.stages == EXPECTED_STAGES[name]
        assert (tab.order, tab.error_order) == EXPECTED_ORDERS[name]
        assert tab.is_explicit
        assert tab.adaptive == (tab.b_error is not None)
        assert tab.fsal == (name in FSAL)
        assert (tab.dense is not None) == (name in DENSE)
        assert all(isinstance(x, float) for row in tab.a for x in row)


def test_lookup() -> None:
    assert tableau("rk4") is ERK_TABLEAUS["rk4"]
    with pytest.raises(ValueError, match="dopri54") as info:
        tableau("nope")
    assert "nope" in str(info.value)


@pytest.mark.parametrize("name", NAMES)
def test_row_sums(name: str) -> None:
    tab = ERK_TABLEAUS[name]
    a = np.array(tab.a)
    scale = np.maximum(1.0, np.abs(a).sum(axis=1))
    assert np.all(np.abs(a.sum(axis=1) - tab.c) <= 1e-14 * scale)


@pytest.mark.parametrize("name", NAMES)
def test_order_conditions(name: str) -> None:
    tab = ERK_TABLEAUS[name]
    a, b = np.array(tab.a), np.array(tab.b)
    for n in range(1, tab.order + 1):
        assert max_residual(b, a, n) < COND_TOL, f"order {n} condition fails"
    assert max_residual(b, a, tab.order + 1) > FAIL_TOL, "order is higher than claimed"


@pytest.mark.parametrize("name", [n for n in NAMES if ERK_TABLEAUS[n].adaptive])
def test_embedded_order_conditions(name: str) -> None:
    tab = ERK_TABLEAUS[name]
    a = np.array(tab.a)
    pairs = [(tab.b_error, tab.error_order), (tab.b_error2, tab.error_order2)]
    for weights, order in pairs:
        if weights is None:
            continue
        w = np.array(weights)
        for n in range(1, order + 1):
            assert max_residual(w, a, n) < COND_TOL, f"embedded order {n} fails"
        assert max_residual(w, a, order + 1) > FAIL_TOL
    assert tab.error_weights == tuple(x - y for x, y in zip(tab.b, tab.b_error))


@pytest.mark.parametrize("name", FSAL)
def test_fsal(name: str) -> None:
    tab = ERK_TABLEAUS[name]
    assert tab.c[-1] == 1.0
    np.testing.assert_allclose(tab.a[-1], tab.b, rtol=0, atol=1e-15)
    assert tab.b[-1] == 0.0


@pytest.mark.parametrize("name", DENSE)
def test_dense_output(name: str) -> None:
    tab = ERK_TABLEAUS[name]
    a = np.array(tab.a)
    assert tab.dense_order is not None and tab.dense_order >= 3
    np.testing.assert_allclose(tab.dense_weights(1.0), tab.b, rtol=0, atol=1e-13)
    assert tab.dense_weights(0.0) == (0.0,) * tab.stages
    for theta in (0.1, 0.3, 0.5, 0.7, 0.9):
        w = np.array(tab.dense_weights(theta))
        for n in range(1, tab.dense_order + 1):
            assert max_residual(w, a, n, theta) < COND_TOL, f"theta={theta} order {n}"


# --- construction and validation -----------------------------------------------

def test_fractions_become_floats_and_frozen() -> None:
    tab = ButcherTableau("mid", [[0, 0], [Fraction(1, 2), 0]], [0, 1], [0, Fraction(1, 2)], 2)
    assert tab.a == ((0.0, 0.0), (0.5, 0.0)) and tab.c == (0.0, 0.5)
    assert type(tab.c[1]) is float and not tab.adaptive and tab.is_explicit
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        tab.order = 3  # type: ignore[misc]
    with pytest.raises(ValueError, match="no dense output"):
        tab.dense_weights(0.5)


def test_implicit_tableau_is_allowed_but_not_explicit() -> None:
    tab = ButcherTableau("implicit_midpoint", [[0.5]], [1], [0.5], 2)
    assert not tab.is_explicit and tab.stages == 1


@pytest.mark.parametrize("kwargs, match", [
    (dict(a=[[0, 0]], b=[1, 0], c=[0, 1]), "a must be"),
    (dict(a=[[0, 0], [1, 0]], b=[1, 0], c=[0]), "c must"),
    (dict(b_error=[1, 0, 0], error_order=1), "b_error must have"),
    (dict(b_error=[1, 0]), "given together"),
    (dict(dense=[[1], [0, 1]], dense_order=1), "dense must"),
    (dict(fsal=True), "fsal requires"),
    (dict(order=0), "order must"),
    (dict(a=[], b=[], c=[]), "must not be empty"),
])
def test_validation(kwargs: dict, match: str) -> None:
    base = dict(name="bad", a=[[0, 0], [1, 0]], b=[0.5, 0.5], c=[0, 1], order=2)
    with pytest.raises(ValueError, match=match):
        ButcherTableau(**{**base, **kwargs})


# --- convergence with plain numpy ------------------------------------------------

T_END = 4.0


def integrate(tab: ButcherTableau, f: Callable, y0: list[float], dt: float) -> np.ndarray:
    """Fixed-step ERK solution at every step, shape (n_steps + 1, n)."""
    a, b, c = np.array(tab.a), np.array(tab.b), np.array(tab.c)
    y = np.array(y0, dtype=float)
    out = [y]
    k = np.zeros((tab.stages, y.size))
    for step in range(int(round(T_END / dt))):
        t = step * dt
        for i in range(tab.stages):
            k[i] = f(t + c[i] * dt, y + dt * (a[i, :i] @ k[:i]))
        y = y + dt * (b @ k)
        out.append(y)
    return np.array(out)


def forced(t: float, y: np.ndarray) -> np.ndarray:
    return -y + np.sin(t)


def forced_exact(t: np.ndarray) -> np.ndarray:
    return ((np.sin(t) - np.cos(t)) / 2 + 1.5 * np.exp(-t))[:, None]


def pendulum(t: float, y: np.ndarray) -> np.ndarray:
    return np.array([y[1], -np.sin(y[0]) + 0.5 * np.cos(t)])


REF_DT = 0.005


@functools.cache
def pendulum_reference() -> np.ndarray:
    return integrate(ERK_TABLEAUS["dop853"], pendulum, [1.0, 0.0], REF_DT)


def pendulum_at(t: np.ndarray) -> np.ndarray:
    return pendulum_reference()[::int(round((t[1] - t[0]) / REF_DT))]


@pytest.mark.parametrize("problem", ["forced", "pendulum"])
@pytest.mark.parametrize("name", NAMES)
def test_convergence_order(name: str, problem: str) -> None:
    """Observed global order over the last halving within 0.3 of the nominal order.

    High orders use larger steps (dt doubles per order above 5) so that the
    finest error stays well above round-off.
    """
    tab = ERK_TABLEAUS[name]
    f, y0, exact = {"forced": (forced, [1.0], forced_exact),
                    "pendulum": (pendulum, [1.0, 0.0], pendulum_at)}[problem]
    base = 0.025 * 2 ** max(0, tab.order - 5)
    dts = [4 * base, 2 * base, base]
    grid = np.arange(0.0, T_END + 1e-9, dts[0])
    ref = exact(grid)
    errs = [np.abs(integrate(tab, f, y0, dt)[::int(round(dts[0] / dt))] - ref).max()
            for dt in dts]
    assert errs[-1] > 1e-14, "finest error is at round-off; use larger steps"
    observed = np.log2(errs[-2] / errs[-1])
    assert abs(observed - tab.order) < 0.3, f"errors {errs}, observed order {observed:.2f}"
