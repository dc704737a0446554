"""The continuous extension of DOP853 (Hairer, Norsett and Wanner I, II.6; the DOP853
code): a polynomial of degree 7 in theta built from the step's 12 stages, f at the
new point and three more stages, evaluated only for steps that hold save times.

With dy = y_new - y, the coefficients are F0 = dy, F1 = dt*k1 - dy,
F2 = 2*dy - dt*(k1 + f(t + dt, y_new)) and F3..F6 = dt * D k (over the 16
stages), and y(t + theta dt) = y + theta (F0 + (1 - theta) (F1 + theta (F2 + (1 - theta)
(F3 + theta (F4 + (1 - theta) (F5 + theta F6)))))).
"""

from __future__ import annotations

from typing import Any

from cubie_trace.core.step import Dense

C_EXTRA = (0.1, 0.2, 0.7777777777777778)
# rows 14..16 of the extended tableau (their entries for stages 1..13, 1..14, 1..15)
A_EXTRA = (
    [
        0.056167502283047954, 0.0, 0.0, 0.0, 0.0, 0.0, 0.25350021021662483,
        -0.2462390374708025, -0.12419142326381637, 0.15329179827876568,
        0.00820105229563469, 0.007567897660545699, -0.008298],
    [
        0.03183464816350214, 0.0, 0.0, 0.0, 0.0, 0.028300909672366776,
        0.053541988307438566, -0.05492374857139099, 0.0, 0.0, -0.00010834732869724932,
        0.0003825710908356584, -0.00034046500868740456, 0.1413124436746325],
    [
        -0.42889630158379194, 0.0, 0.0, 0.0, 0.0, -4.697621415361164, 7.683421196062599,
        4.06898981839711, 0.3567271874552811, 0.0, 0.0, 0.0, -0.0013990241651590145,
        2.9475147891527724, -9.15095847217987],
)
D = (
    [
        -8.428938276109013, 0.0, 0.0, 0.0, 0.0, 0.5667149535193777, -3.0689499459498917,
        2.38466765651207, 2.117034582445028, -0.871391583777973, 2.2404374302607883,
        0.6315787787694688, -0.08899033645133331, 18.148505520854727, -9.194632392478356,
        -4.436036387594894],
    [
        10.427508642579134, 0.0, 0.0, 0.0, 0.0, 242.28349177525817, 165.20045171727028,
        -374.5467547226902, -22.113666853125306, 7.733432668472264, -30.674084731089398,
        -9.332130526430229, 15.697238121770845, -31.139403219565178, -9.35292435884448,
        35.81684148639408],
    [
        19.985053242002433, 0.0, 0.0, 0.0, 0.0, -387.0373087493518, -189.17813819516758,
        527.8081592054236, -11.57390253995963, 6.8812326946963, -1.0006050966910838,
        0.7777137798053443, -2.778205752353508, -60.19669523126412, 84.32040550667716,
        11.99229113618279],
    [
        -25.69393346270375, 0.0, 0.0, 0.0, 0.0, -154.18974869023643, -231.5293791760455,
        357.6391179106141, 93.40532418362432, -37.45832313645163, 104.0996495089623,
        29.8402934266605, -43.53345659001114, 96.32455395918828, -39.17726167561544,
        -149.72683625798564],
)


def _combine(dt: Any, weights: Any, k: list[Any]) -> Any:
    total = None
    for w, k_i in zip(weights, k):
        if w != 0.0:
            term = (w * dt) * k_i
            total = term if total is None else total + term
    return total


def _prepare(f: Any, t: Any, dt: Any, y: Any, y_new: Any, stages: tuple) -> tuple:
    k = [*stages, f(t + dt, y_new)]
    for c, row in zip(C_EXTRA, A_EXTRA):
        k.append(f(t + c * dt, y + _combine(dt, row, k)))
    dy = y_new - y
    return (dy, dt * k[0] - dy, 2.0 * dy - dt * (k[0] + k[12]),
            *(_combine(dt, row, k) for row in D))


def _interpolate(coeffs: tuple, y: Any, y_new: Any, dt: Any, theta: Any) -> Any:
    acc = None
    for i, c in enumerate(reversed(coeffs)):
        acc = c if acc is None else acc + c
        acc = acc * theta if i % 2 == 0 else acc * (1.0 - theta)
    return y + acc


def dop853_dense(returning: Any) -> Dense:
    """DOP853's extension, over its step function returning all 12 stages."""
    return Dense(returning(range(12)), _interpolate, 7, prepare=_prepare, n_prepared=7)
