"""The Rosenbrock(-W) catalogue, in the transformed form of `rosenbrock.py`.

Coefficients are the published ones (exact surds and rationals where given so);
methods published in the transformed form are transcribed as such (Hairer's
RODAS code, OrdinaryDiffEq.jl's ``RodasTableau`` data), the others are
transformed at import by `from_original`. The stiffly accurate RODAS-type
methods take ``y_new`` as the last stage's argument plus ``U_s`` and estimate
the error with ``U_s``. The Rosenbrock and W order conditions are checked by
``tests/integrators/test_rosenbrock_tableaus.py``.
"""

from __future__ import annotations

import math
from fractions import Fraction as F

from cubie_trace.integrators.butcher import lower
from cubie_trace.integrators.rosenbrock import RosenbrockTableau, dense_from_h, from_original

SQRT2 = math.sqrt(2.0)
SQRT3 = math.sqrt(3.0)


def _rodas(name: str, gamma: float, a_rows: list[list[float]], c_rows: list[list[float]],
           c: list[float], d: list[float], order: int, h: list[list[float]] | None = None,
           dense_order: int | None = None) -> RosenbrockTableau:
    """A stiffly accurate RODAS-type method from its ragged transformed rows.

    ``a_rows`` has s - 1 rows (the last stage repeats the previous argument
    plus ``U_{s-1}``); ``y_new = y + sum_j a_sj U_j + U_s`` and the embedded
    solution drops ``U_s``.
    """
    a = lower([[]] + a_rows)
    b = a[-1][:-1] + [1]
    return RosenbrockTableau(
        name, gamma, a, lower([[]] + c_rows), b=b, c=c, d=d, order=order,
        b_error=a[-1], error_order=order - 1,
        dense=None if h is None else dense_from_h(b, h), dense_order=dense_order)


# --- order 2 -------------------------------------------------------------------

# ROS2: Verwer, Spee, Blom & Hundsdorfer (1999), SIAM J. Sci. Comput. 20, 1456;
# gamma = 1 + 1/sqrt(2), L-stable, order 2 for any Jacobian (a W-method), with
# the embedded first-order solution of OrdinaryDiffEq.jl.
_ROS2_G = 1 + 1 / SQRT2
ROS2 = RosenbrockTableau(
    "ros2", _ROS2_G, lower([[], [1 / _ROS2_G]]), lower([[], [-2 / _ROS2_G]]),
    b=[3 / (2 * _ROS2_G), 1 / (2 * _ROS2_G)], c=[0, 1], d=[_ROS2_G, -_ROS2_G], order=2,
    b_error=[1 / _ROS2_G, 0], error_order=1, w_order=2)

# Shampine & Reichelt (1997), SIAM J. Sci. Comput. 18, 1 (MATLAB's ode23s):
# d = 1/(2 + sqrt 2), e32 = 6 + sqrt 2, in the original form
#   W k1 = f0 + d h T,  W k2 = f(y + h k1/2) - h d J k1,
#   W k3 = f(y_new) + h J (d (e32 - 2) k1 - e32 d k2) - d h T,
# y_new = y + h k2; the L-stable second-order solution keeps its order for any W.
# The error estimate h/6 (k1 - 2 k2 + k3) is the difference to the third-order
# solution y + h (k1 + 4 k2 + k3)/6, here the embedded one; the dense output is
# the paper's interpolant y + h (t(1-t) k1 + t(t - 2d) k2) / (1 - 2d).
_R23_D = 1 / (2 + SQRT2)
_R23_E32 = 6 + SQRT2
ROSENBROCK23 = from_original(
    "rosenbrock23", _R23_D,
    alpha=lower([[], [F(1, 2)], [0, 1]]),
    gamma_lower=lower([[], [-_R23_D], [_R23_D * (_R23_E32 - 2), -_R23_E32 * _R23_D]]),
    b=[0, 1, 0], order=2, b_error=[F(1, 6), F(2, 3), F(1, 6)], error_order=3,
    dense=[[1 / (1 - 2 * _R23_D), -1 / (1 - 2 * _R23_D)],
           [-2 * _R23_D / (1 - 2 * _R23_D), 1 / (1 - 2 * _R23_D)],
           [0, 0]],
    dense_order=2, w_order=2)

# --- order 3 -------------------------------------------------------------------

# ROS3P: Lang & Verwer (2001), BIT 41, 731: gamma = 1/2 + sqrt(3)/6, A-stable,
# no order reduction for parabolic problems; in the transformed form of
# OrdinaryDiffEq.jl (embedded weights 5 - 5/sqrt3, 1, 1 - 1/sqrt3).
_R3P_G = 0.5 + SQRT3 / 6
_R3P_IG = 1 / _R3P_G
_R3P_T = -_R3P_IG * (2 - 0.5 * _R3P_IG)
_R3P_T2 = _R3P_IG * (F(2, 3) - _R3P_IG / 6)
ROS3P = RosenbrockTableau(
    "ros3p", _R3P_G,
    lower([[], [_R3P_IG], [_R3P_IG, 0]]),
    lower([[], [-_R3P_IG**2], [-_R3P_IG * (1 - _R3P_T), _R3P_T]]),
    b=[_R3P_IG * (1 + _R3P_T2), _R3P_T2, _R3P_IG / 3],
    c=[0, 1, 1], d=[_R3P_G, _R3P_G - 1, 0.5 - 2 * _R3P_G], order=3,
    b_error=[5 - 5 / SQRT3, 1, 1 - 1 / SQRT3], error_order=2)

# RODAS3P: Steinebach (2024), Proc. JuliaCon Conf.: gamma = 1/3, 5 stages, the
# last two sharing one argument; y_new adds U_5 to it and the embedded second-
# order solution U_4; dense output of order 3 (OrdinaryDiffEq.jl's h2, h3 rows).
_R3PP_ROW4 = [F(93, 32), F(27, 8), F(13, 32), 0, 0]
RODAS3P = RosenbrockTableau(
    "rodas3p", F(1, 3),
    lower([[], [F(4, 3)], [0, 0], _R3PP_ROW4[:3], _R3PP_ROW4[:4]]),
    lower([[], [-4], [F(33, 4), F(27, 4)], [F(39, 32), F(-81, 16), F(-63, 32)],
           [F(129, 32), F(-243, 16), F(-129, 32), 6]]),
    b=_R3PP_ROW4[:4] + [1], c=[0, F(4, 9), 0, 1, 1], d=[F(1, 3), F(-1, 9), 1, 0, 0],
    order=3, b_error=_R3PP_ROW4[:3] + [1, 0], error_order=2,
    dense=dense_from_h(_R3PP_ROW4[:4] + [1], [[F(57, 32), F(27, 4), F(5, 32), -6, -1],
                                               [F(135, 32), F(-243, 16), F(-99, 32), 9, 0]]),
    dense_order=3)

# ROS34PW2: Rang & Angermann (2005), BIT 45, 761: 4 stages, order 3 for any
# Jacobian approximation, stiffly accurate and L-stable (OrdinaryDiffEq.jl data).
ROS34PW2 = RosenbrockTableau(
    "ros34pw2", 0.435866521508459,
    lower([[], [2.0], [1.4192173174557647, -0.2592322116729697],
           [4.18476048231916, -0.28519201735549593, 2.294280360279042]]),
    lower([[], [-4.588560720558084], [-4.18476048231916, 0.28519201735549593],
           [-6.368179200128359, -6.795620944466837, 2.8700986043310563]]),
    b=[4.1847604823191595, -0.28519201735549565, 2.2942803602790414, 1.0],
    c=[0, 0.871733043016918, 0.7315799577888524, 1],
    d=[0.435866521508459, -0.435866521508459, -0.4133333762338865, 0],
    order=3,
    b_error=[4.1847604823191595 - 0.2777499476479681, -0.28519201735549565 + 1.4032398951759992,
             2.2942803602790414 - 1.7726301276675507, 0.5],
    error_order=2, w_order=3)

# --- order 4 -------------------------------------------------------------------

# ROS34PW3: Rang & Angermann (2005): order 4 with the exact Jacobian, order 3
# as a W-method, A-stable (OrdinaryDiffEq.jl data). Its embedded weights (b_4 = 0)
# satisfy the order conditions to order 2 only, not 3 as sometimes listed.
ROS34PW3 = RosenbrockTableau(
    "ros34pw3", 1.0685790213016289,
    lower([[], [2.3541034887609085], [2.1274518517432335, 0.7018666706430658],
           [1.6573541366907125, 0.37998365119129385, 0.7677537933767512]]),
    lower([[], [-2.20302237067446], [-2.750060114993467, -0.8408569631081119],
           [-3.0077871973155896, -0.7070774625618249, -1.1874362749274354]]),
    b=[2.5468758076906703, 0.5527809704437551, 0.920521963049926, 0.7201674983256354],
    c=[0, 2.5155456020628817, 1.2577728010314408, 0.6288864005157204],
    d=[1.0685790213016289, -1.4469665807612528, -0.7714762485313431, -0.29371172261080924],
    order=4,
    b_error=[2.5468758076906703 - 0.20632710213677674, 0.5527809704437551 - 0.0026042321416049896,
             0.920521963049926 - 0.006723394920071124, 0],
    error_order=2, w_order=3)

# GRK4A: Kaps & Rentrop (1979), Numer. Math. 33, 55: gamma = 0.395, A-stable,
# with its embedded third-order solution (OrdinaryDiffEq.jl data).
GRK4A = RosenbrockTableau(
    "grk4a", 0.395,
    lower([[], [1.108860759493671], [2.37708526198336, 0.1850114988899692],
           [2.37708526198336, 0.1850114988899692, 0]]),
    lower([[], [-4.920188402397641], [1.055588686048583, 3.351817267668938],
           [3.846869007049313, 3.42710924126818, -2.162408848753263]]),
    b=[1.84568324040584, 0.1369796894360503, 0.7129097783291559, 0.6329113924050632],
    c=[0, 0.438, 0.87, 0.87],
    d=[0.395, -0.372672395484092, 0.06629196544571492, 0.4340946962568634],
    order=4,
    b_error=[1.84568324040584 - 0.04831870177201765, 0.1369796894360503 + 0.6471108651049505,
             0.7129097783291559 - 0.218687666050024, 0.6329113924050632 + 0.6329113924050632],
    error_order=3)

# RODAS4: Hairer & Wanner II, Sect. VI.4 (the RODAS code): 6 stages, L-stable,
# stiffly accurate, dense output of order 3.
RODAS4 = _rodas(
    "rodas4", F(1, 4),
    [[1.544],
     [0.9466785280815826, 0.2557011698983284],
     [3.314825187068521, 2.896124015972201, 0.9986419139977817],
     [1.221224509226641, 6.019134481288629, 12.53708332932087, -0.687886036105895],
     [1.221224509226641, 6.019134481288629, 12.53708332932087, -0.687886036105895, 1]],
    [[-5.6688],
     [-2.430093356833875, -0.2063599157091915],
     [-0.1073529058151375, -9.594562251023355, -20.47028614809616],
     [7.496443313967647, -10.24680431464352, -33.99990352819905, 11.7089089320616],
     [8.083246795921522, -7.981132988064893, -31.52159432874371, 16.31930543123136,
      -6.058818238834054]],
    c=[0, 0.386, 0.21, 0.63, 1, 1], d=[0.25, -0.1043, 0.1035, -0.0362, 0, 0], order=4,
    h=[[10.12623508344586, -7.487995877610167, -34.80091861555747, -7.992771707568823,
        1.025137723295662, 0],
       [-0.6762803392801253, 6.087714651680015, 16.43084320892478, 24.76722511418386,
        -6.594389125716872, 0]],
    dense_order=3)

# RODAS4P: Steinebach (1995), Preprint 1741, TH Darmstadt: RODAS4 re-derived for
# no order reduction on parabolic problems; L-stable, dense output of order 3.
RODAS4P = _rodas(
    "rodas4p", F(1, 4),
    [[3],
     [1.831036793486759, 0.4955183967433795],
     [2.304376582692669, -0.05249275245743001, -1.176798761832782],
     [-7.170454962423024, -4.741636671481785, -16.31002631330971, -1.062004044111401],
     [-7.170454962423024, -4.741636671481785, -16.31002631330971, -1.062004044111401, 1]],
    [[-12],
     [-8.791795173947035, -2.207865586973518],
     [10.81793056857153, 6.780270611428266, 19.5348594464241],
     [34.19095006749676, 15.49671153725963, 54.7476087596413, 14.16005392148534],
     [34.62605830930532, 15.30084976114473, 56.99955578662667, 18.40807009793095,
      -5.714285714285717]],
    c=[0, 0.75, 0.21, 0.63, 1, 1], d=[0.25, -0.5, -0.023504, -0.0362, 0, 0], order=4,
    h=[[25.09876703708589, 11.62013104361867, 28.49148307714626, -5.664021568594133, 0, 0],
       [1.638054557396973, -0.7373619806678748, 8.47791821923899, 15.9925314877952,
        -1.882352941176471, 0]],
    dense_order=3)

# --- order 5 -------------------------------------------------------------------

# RODAS5P: Steinebach (2023), BIT 63, 27: 8 stages, L-stable, stiffly accurate,
# dense output of order 4 (OrdinaryDiffEq.jl data).
_R5P_ROW6 = [-7.502846399306121, 2.561846144803919, -11.627539656261098,
             -0.18268767659942256, 0.030198172008377946]
RODAS5P = _rodas(
    "rodas5p", 0.21193756319429014,
    [[3.0],
     [2.849394379747939, 0.45842242204463923],
     [-6.954028509809101, 2.489845061869568, -10.358996098473584],
     [2.8029986275628964, 0.5072464736228206, -0.3988312541770524, -0.04721187230404641],
     _R5P_ROW6,
     _R5P_ROW6 + [1],
     _R5P_ROW6 + [1, 1]],
    [[-14.155112264123755],
     [-17.97296035885952, -2.859693295451294],
     [147.12150275711716, -1.41221402718213, 71.68940251302358],
     [165.43517024871676, -0.4592823456491126, 42.90938336958603, -5.961986721573306],
     [24.854864614690072, -3.0009227002832186, 47.4931110020768, 5.5814197821558125,
      -0.6610691825249471],
     [30.91273214028599, -3.1208243349937974, 77.79954646070892, 34.28646028294783,
      -19.097331116725623, -28.087943162872662],
     [37.80277123390563, -3.2571969029072276, 112.26918849496327, 66.9347231244047,
      -40.06618937091002, -54.66780262877968, -9.48861652309627]],
    c=[0, 0.6358126895828704, 0.4095798393397535, 0.9769306725060716, 0.4288403609558664,
       1, 1, 1],
    d=[0.21193756319429014, -0.42387512638858027, -0.3384627126235924, 1.8046452872882734,
       2.325825639765069, 0, 0, 0],
    order=5,
    h=[[25.948786856663858, -2.5579724845846235, 10.433815404888879, -2.3679251022685204,
        0.524948541321073, 1.1241088310450404, 0.4272876194431874, -0.17202221070155493],
       [-9.91568850695171, -0.9689944594115154, 3.0438037242978453, -24.495224566215796,
        20.176138334709044, 15.98066361424651, -6.789040303419874, -6.710236069923372],
       [11.419903575922262, 2.8879645146136994, 72.92137995996029, 80.12511834622643,
        -52.072871366152654, -59.78993625266729, -0.15582684282751913, 4.883087185713722]],
    dense_order=4)

ROSENBROCK_TABLEAUS: dict[str, RosenbrockTableau] = {
    tab.name: tab
    for tab in (ROS2, ROSENBROCK23, ROS3P, RODAS3P, ROS34PW2, ROS34PW3, GRK4A, RODAS4,
                RODAS4P, RODAS5P)
}
