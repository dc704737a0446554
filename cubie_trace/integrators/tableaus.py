"""Butcher tableaus of Runge-Kutta methods and the explicit catalogue.

Conventions, shared by every step that reads a tableau:

- ``a`` is the s x s stage matrix, ``b`` the weights of the propagated solution
  and ``c`` the nodes: ``k_i = f(t + c_i dt, y + dt sum_j a_ij k_j)`` and
  ``y_new = y + dt sum_i b_i k_i``.
- ``b_error`` holds the weights of the *embedded* solution (b-hat), so the
  local error estimate is ``dt * sum_i (b_i - b_error_i) k_i``; ``error_order``
  is the order of the embedded solution.
- ``fsal``: the last stage is ``f(t + dt, y_new)`` (last row of ``a`` equals
  ``b`` and ``c[-1] == 1``), so it can be reused as the next step's first stage.
- ``dense[i]`` lists the coefficients of theta^1 .. theta^k of the polynomial
  ``b_i(theta)``, so ``y(t + theta dt) ~ y + dt sum_i b_i(theta) k_i`` with
  ``b_i(1) == b_i``; ``dense_order`` is the order of that continuous extension.

Coefficients are taken from the literature (exact rationals where published as
such, converted to float at construction) and are checked against the rooted
tree order conditions by ``tests/integrators/test_tableaus.py``.
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction as F

import attrs

Floats = tuple[float, ...]
Matrix = tuple[tuple[float, ...], ...]

_FSAL_TOL = 1e-14


def _floats(values: Iterable[float | int | F]) -> Floats:
    """A tuple of floats from numbers (Fractions included)."""
    return tuple(float(v) for v in values)


def _matrix(rows: Iterable[Iterable[float | int | F]]) -> Matrix:
    """A tuple of float tuples from nested numbers."""
    return tuple(_floats(row) for row in rows)


def _opt_floats(values: Iterable[float | int | F] | None) -> Floats | None:
    return None if values is None else _floats(values)


def _opt_matrix(rows: Iterable[Iterable[float | int | F]] | None) -> Matrix | None:
    return None if rows is None else _matrix(rows)


@attrs.frozen
class ButcherTableau:
    """A Runge-Kutta tableau; see the module docstring for the conventions.

    ``b_error2``/``error_order2`` hold a second embedded solution where a method
    combines two estimates (DOP853: the 3rd-order ``bhh`` weights).
    """

    name: str
    a: Matrix = attrs.field(converter=_matrix)
    b: Floats = attrs.field(converter=_floats)
    c: Floats = attrs.field(converter=_floats)
    order: int
    b_error: Floats | None = attrs.field(default=None, converter=_opt_floats)
    error_order: int | None = None
    fsal: bool = False
    dense: Matrix | None = attrs.field(default=None, converter=_opt_matrix)
    dense_order: int | None = None
    b_error2: Floats | None = attrs.field(default=None, converter=_opt_floats)
    error_order2: int | None = None

    def __attrs_post_init__(self) -> None:
        _validate(self)

    @property
    def stages(self) -> int:
        """Number of stages s."""
        return len(self.b)

    @property
    def is_explicit(self) -> bool:
        """True when ``a`` is strictly lower triangular."""
        return all(self.a[i][j] == 0.0 for i in range(self.stages)
                   for j in range(i, self.stages))

    @property
    def adaptive(self) -> bool:
        """True when an embedded solution gives an error estimate."""
        return self.b_error is not None

    @property
    def error_weights(self) -> Floats | None:
        """``b - b_error``: the error estimate is ``dt * sum_i e_i k_i``."""
        if self.b_error is None:
            return None
        return tuple(b - bh for b, bh in zip(self.b, self.b_error))

    def dense_weights(self, theta: float) -> Floats:
        """``b_i(theta)`` of the continuous extension."""
        if self.dense is None:
            raise ValueError(f"tableau {self.name!r} has no dense output")
        return tuple(sum(p * theta ** (k + 1) for k, p in enumerate(row))
                     for row in self.dense)


def _validate(tab: ButcherTableau) -> None:
    """Shape and consistency checks; raises ValueError naming the problem."""
    s = len(tab.b)
    where = f"tableau {tab.name!r}"
    if s == 0:
        raise ValueError(f"{where}: b must not be empty")
    if len(tab.a) != s or any(len(row) != s for row in tab.a):
        raise ValueError(f"{where}: a must be {s} x {s} to match b")
    if len(tab.c) != s:
        raise ValueError(f"{where}: c must have {s} entries, got {len(tab.c)}")
    if tab.order < 1:
        raise ValueError(f"{where}: order must be >= 1, got {tab.order}")
    for weights, order, label in ((tab.b_error, tab.error_order, "b_error"),
                                  (tab.b_error2, tab.error_order2, "b_error2")):
        if (weights is None) != (order is None):
            raise ValueError(f"{where}: {label} and its order must be given together")
        if weights is not None and len(weights) != s:
            raise ValueError(f"{where}: {label} must have {s} entries, got {len(weights)}")
    if (tab.dense is None) != (tab.dense_order is None):
        raise ValueError(f"{where}: dense and dense_order must be given together")
    if tab.dense is not None:
        if len(tab.dense) != s or len({len(row) for row in tab.dense}) != 1:
            raise ValueError(f"{where}: dense must have {s} rows of equal length")
    if tab.fsal:
        if not tab.is_explicit:
            raise ValueError(f"{where}: fsal requires an explicit tableau")
        if abs(tab.c[-1] - 1.0) > _FSAL_TOL or any(
                abs(x - y) > _FSAL_TOL for x, y in zip(tab.a[-1], tab.b)):
            raise ValueError(f"{where}: fsal requires c[-1] == 1 and a[-1] == b")


def _lower(rows: list[list[float | int | F]]) -> list[list[float | int | F]]:
    """Pad ragged strictly-lower rows (row i has i entries) to an s x s matrix."""
    s = len(rows)
    return [list(row) + [0] * (s - len(row)) for row in rows]


def _erk(name: str, rows: list[list[float | int | F]], **kwargs: object) -> ButcherTableau:
    """An explicit tableau from its ragged lower rows; checks explicitness."""
    tab = ButcherTableau(name, _lower(rows), **kwargs)  # type: ignore[arg-type]
    if not tab.is_explicit:
        raise ValueError(f"tableau {name!r} must be strictly lower triangular")
    return tab


# --- low order ---------------------------------------------------------------

EULER = _erk("euler", [[]], b=[1], c=[0], order=1)

# Heun's method; the embedded solution is explicit Euler.
HEUN = _erk("heun", [[], [1]], b=[F(1, 2), F(1, 2)], c=[0, 1], order=2,
            b_error=[1, 0], error_order=1)

# Ralston (1962), the third-order method with minimum error bound.
RALSTON3 = _erk("ralston3", [[], [F(1, 2)], [0, F(3, 4)]],
                b=[F(2, 9), F(1, 3), F(4, 9)], c=[0, F(1, 2), F(3, 4)], order=3)

# Bogacki & Shampine (1989), 3(2) FSAL pair; dense output is the cubic
# Hermite interpolant written in the stages (the 4th stage is f(t + dt, y_new)).
BS32 = _erk(
    "bs32",
    [[], [F(1, 2)], [0, F(3, 4)], [F(2, 9), F(1, 3), F(4, 9)]],
    b=[F(2, 9), F(1, 3), F(4, 9), 0],
    c=[0, F(1, 2), F(3, 4), 1],
    order=3,
    b_error=[F(7, 24), F(1, 4), F(1, 3), F(1, 8)],
    error_order=2,
    fsal=True,
    dense=[[1, F(-4, 3), F(5, 9)],
           [0, 1, F(-2, 3)],
           [0, F(4, 3), F(-8, 9)],
           [0, -1, 1]],
    dense_order=3,
)

RK4 = _erk("rk4", [[], [F(1, 2)], [0, F(1, 2)], [0, 0, 1]],
           b=[F(1, 6), F(1, 3), F(1, 3), F(1, 6)], c=[0, F(1, 2), F(1, 2), 1], order=4)

# --- order 5 -----------------------------------------------------------------

# Dormand & Prince (1980), 5(4) FSAL pair. Dense output: the order-4 continuous
# extension of Shampine (1986) used by Hairer's DOPRI5 code (HNW I, II.6).
_DOPRI_B = [F(35, 384), 0, F(500, 1113), F(125, 192), F(-2187, 6784), F(11, 84), 0]
DOPRI54 = _erk(
    "dopri54",
    [[],
     [F(1, 5)],
     [F(3, 40), F(9, 40)],
     [F(44, 45), F(-56, 15), F(32, 9)],
     [F(19372, 6561), F(-25360, 2187), F(64448, 6561), F(-212, 729)],
     [F(9017, 3168), F(-355, 33), F(46732, 5247), F(49, 176), F(-5103, 18656)],
     _DOPRI_B[:6]],
    b=_DOPRI_B,
    c=[0, F(1, 5), F(3, 10), F(4, 5), F(8, 9), 1, 1],
    order=5,
    b_error=[F(5179, 57600), 0, F(7571, 16695), F(393, 640), F(-92097, 339200),
             F(187, 2100), F(1, 40)],
    error_order=4,
    fsal=True,
    dense=[[1, F(-8048581381, 2820520608), F(8663915743, 2820520608),
            F(-12715105075, 11282082432)],
           [0, 0, 0, 0],
           [0, F(131558114200, 32700410799), F(-68118460800, 10900136933),
            F(87487479700, 32700410799)],
           [0, F(-1754552775, 470086768), F(14199869525, 1410260304),
            F(-10690763975, 1880347072)],
           [0, F(127303824393, 49829197408), F(-318862633887, 49829197408),
            F(701980252875, 199316789632)],
           [0, F(-282668133, 205662961), F(2019193451, 616988883),
            F(-1453857185, 822651844)],
           [0, F(40617522, 29380423), F(-110615467, 29380423), F(69997945, 29380423)]],
    dense_order=4,
)

# Cash & Karp (1990), 5(4) pair; b is the 5th-order solution.
CASH_KARP = _erk(
    "cash_karp",
    [[],
     [F(1, 5)],
     [F(3, 40), F(9, 40)],
     [F(3, 10), F(-9, 10), F(6, 5)],
     [F(-11, 54), F(5, 2), F(-70, 27), F(35, 27)],
     [F(1631, 55296), F(175, 512), F(575, 13824), F(44275, 110592), F(253, 4096)]],
    b=[F(37, 378), 0, F(250, 621), F(125, 594), 0, F(512, 1771)],
    c=[0, F(1, 5), F(3, 10), F(3, 5), 1, F(7, 8)],
    order=5,
    b_error=[F(2825, 27648), 0, F(18575, 48384), F(13525, 55296), F(277, 14336), F(1, 4)],
    error_order=4,
)

# Fehlberg (1969), RKF45 as classically used: b holds the 4th-order weights
# (the propagated solution), b_error the 5th-order weights, so the estimate
# dt * sum (b - b_error) k is the error of the propagated 4th-order solution.
FEHLBERG45 = _erk(
    "fehlberg45",
    [[],
     [F(1, 4)],
     [F(3, 32), F(9, 32)],
     [F(1932, 2197), F(-7200, 2197), F(7296, 2197)],
     [F(439, 216), -8, F(3680, 513), F(-845, 4104)],
     [F(-8, 27), 2, F(-3544, 2565), F(1859, 4104), F(-11, 40)]],
    b=[F(25, 216), 0, F(1408, 2565), F(2197, 4104), F(-1, 5), 0],
    c=[0, F(1, 4), F(3, 8), F(12, 13), 1, F(1, 2)],
    order=4,
    b_error=[F(16, 135), 0, F(6656, 12825), F(28561, 56430), F(-9, 50), F(2, 55)],
    error_order=5,
)

# Tsitouras (2011), 5(4) FSAL pair, coefficients as in DifferentialEquations.jl
# (Tsit5) and diffrax. Dense output: Tsitouras' free order-4 interpolant.
_TSIT5_B = [
    0.09646076681806522951816731316512876333711995238157997181903319145764851595,
    F(1, 100),
    0.47988965041449957477524953229059651991304046219903324883326349442545420602,
    1.37900857410374189319227482185687277075646264309136052593494006739724569803,
    -3.29006951543608067990104758571136385011568329089493615853129679959481381105,
    2.32471052409977398241535591839876579610906023322296241194406004631446539105,
    0,
]
TSIT5 = _erk(
    "tsit5",
    [[],
     [F(161, 1000)],
     [-0.00848065549235698854442687425023077467512117739343039153736923424529419298,
      0.33548065549235698854442687425023077467512117739343039153736923424529419298],
     [2.89715305710549343213043259419293876492488728770186649031486669345502379514,
      -6.35944848997507484314815991238382562595270064741562670330592885020728872124,
      4.36229543286958141101772731819088686102781335971376021299106215675226492610],
     [5.32586482843925660442887792084051131783647625309704010120236039772798164884,
      -11.7488835640628278777471703397857729618874417825986289928866692800902061566,
      7.49553934288983620830460478456435815565867916151818672101013281621364879344,
      -0.0924950663617552492565020793320719161134998340602953524403475045293046906],
     [5.86145544294642002865925148698264789039433766616481443481815723905250733977,
      -12.9209693178471092917061186817833593954178075195574345916631225043992851927,
      8.15936789857615864318040079453925348518191832113505330574835542395500922265,
      -0.0715849732814009972245305425258297386912721314736354488272113965954637240,
      -0.0282690503940683829090030572127122414671763362687977000761787620127676457],
     _TSIT5_B[:6]],
    b=_TSIT5_B,
    c=[0, F(161, 1000), F(327, 1000), F(9, 10),
       0.98002554090450968572981028628702459549421379795630247688547642932211959508, 1, 1],
    order=5,
    b_error=[0.09468075576583945807478876255758922856117527357724631226139574065785592789,
             0.00918356554034325309677636393664531375981374624098409523890593953292295525,
             0.48777052842476157078556425996312282415166919597613637743652162403040716516,
             1.23429756693047898565510967388423765403553993074819284831542583350048487838,
             -2.70771234998352545488110997505932167068960516693819737876399225571444440715,
             1.86662841817058703575371939956621149866625550524412259399659160284125832897,
             F(1, 66)],
    error_order=4,
    fsal=True,
    dense=[[1.0, -2.763706197274826, 2.9132554618219126, -1.0530884977290216],
           [0.0, 0.13169999999999998, -0.2234, 0.1017],
           [0.0, 3.9302962368947516, -5.941033872131505, 2.490627285651253],
           [0.0, -12.411077166933676, 30.33818863028232, -16.548102889244902],
           [0.0, 37.50931341651104, -88.1789048947664, 47.37952196281928],
           [0.0, -27.896526289197286, 65.09189467479366, -34.87065786149661],
           [0.0, 1.5, -4.0, 2.5]],
    dense_order=4,
)

# --- high order --------------------------------------------------------------

# Dormand & Prince (1981) 8(5,3) as in Hairer's DOP853 code (HNW I, II.10).
# 12 stages; b is 8th order. b_error holds the 5th-order embedded weights
# (b - ER of the code), b_error2 the 3rd-order weights BHH. DOP853 combines
# them as err5 * |err5| / sqrt(err5^2 + 0.01 err3^2); a step that uses only
# b_error gets the plain 5th-order estimate. fsal is False: the 12th stage is
# not at y_new, although a loop may reuse f(t + dt, y_new) as the next k_1.
_DOP853_A = [
    [],
    [5.26001519587677318785587544488e-2],
    [1.97250569845378994544595329183e-2, 5.91751709536136983633785987549e-2],
    [2.95875854768068491816892993775e-2, 0, 8.87627564304205475450678981324e-2],
    [2.41365134159266685502369798665e-1, 0, -8.84549479328286085344864962717e-1,
     9.24834003261792003115737966543e-1],
    [3.7037037037037037037037037037e-2, 0, 0, 1.70828608729473871279604482173e-1,
     1.25467687566822425016691814123e-1],
    [3.7109375e-2, 0, 0, 1.70252211019544039314978060272e-1,
     6.02165389804559606850219397283e-2, -1.7578125e-2],
    [3.70920001185047927108779319836e-2, 0, 0, 1.70383925712239993810214054705e-1,
     1.07262030446373284651809199168e-1, -1.53194377486244017527936158236e-2,
     8.27378916381402288758473766002e-3],
    [6.24110958716075717114429577812e-1, 0, 0, -3.36089262944694129406857109825,
     -8.68219346841726006818189891453e-1, 2.75920996994467083049415600797e1,
     2.01540675504778934086186788979e1, -4.34898841810699588477366255144e1],
    [4.77662536438264365890433908527e-1, 0, 0, -2.48811461997166764192642586468,
     -5.90290826836842996371446475743e-1, 2.12300514481811942347288949897e1,
     1.52792336328824235832596922938e1, -3.32882109689848629194453265587e1,
     -2.03312017085086261358222928593e-2],
    [-9.3714243008598732571704021658e-1, 0, 0, 5.18637242884406370830023853209,
     1.09143734899672957818500254654, -8.14978701074692612513997267357,
     -1.85200656599969598641566180701e1, 2.27394870993505042818970056734e1,
     2.49360555267965238987089396762, -3.0467644718982195003823669022],
    [2.27331014751653820792359768449, 0, 0, -1.05344954667372501984066689879e1,
     -2.00087205822486249909675718444, -1.79589318631187989172765950534e1,
     2.79488845294199600508499808837e1, -2.85899827713502369474065508674,
     -8.87285693353062954433549289258, 1.23605671757943030647266201528e1,
     6.43392746015763530355970484046e-1],
]
_DOP853_B = [5.42937341165687622380535766363e-2, 0, 0, 0, 0,
             4.45031289275240888144113950566, 1.89151789931450038304281599044,
             -5.8012039600105847814672114227, 3.1116436695781989440891606237e-1,
             -1.52160949662516078556178806805e-1, 2.01365400804030348374776537501e-1,
             4.47106157277725905176885569043e-2]
_DOP853_ER = [0.1312004499419488073250102996e-1, 0, 0, 0, 0,
              -0.1225156446376204440720569753e1, -0.4957589496572501915214079952,
              0.1664377182454986536961530415e1, -0.3503288487499736816886487290,
              0.3341791187130174790297318841, 0.8192320648511571246570742613e-1,
              -0.2235530786388629525884427845e-1]
DOP853 = _erk(
    "dop853",
    _DOP853_A,
    b=_DOP853_B,
    c=[0, 0.526001519587677318785587544488e-1, 0.789002279381515978178381316732e-1,
       0.118350341907227396726757197510, 0.281649658092772603273242802490,
       F(1, 3), F(1, 4), F(4, 13), F(127, 195), F(3, 5), F(6, 7), 1],
    order=8,
    b_error=[b - e for b, e in zip(_DOP853_B, _DOP853_ER)],
    error_order=5,
    b_error2=[0.244094488188976377952755905512, 0, 0, 0, 0, 0, 0, 0,
              0.733846688281611857341361741547, 0, 0,
              0.220588235294117647058823529412e-1],
    error_order2=3,
)

# Verner's "most efficient" 7(6) pair (RKV76.IIa, Verner 2010), coefficients
# from Verner's website as used by DifferentialEquations.jl (Vern7). 10 stages:
# b (order 7) uses stages 1-9, b_error (order 6) uses stage 10; not FSAL.
VERN7 = _erk(
    "vern7",
    [[],
     [0.005],
     [-1.076790123456790123456790123456790123457, 1.185679012345679012345679012345679012346],
     [0.04083333333333333333333333333333333333333, 0, 0.1225],
     [0.6389139236255726780508121615993336109954, 0, -2.455672638223656809662640566430653894211,
      2.272258714598084131611828404831320283215],
     [-2.661577375018757131119259297861818119279, 0, 10.80451388645613769565396655365532838482,
      -8.353914657396199411968048547819291691541, 0.8204875949566569791420417341743839209619],
     [6.067741434696770992718360183877276714679, 0, -24.71127363591108579734203485290746001803,
      20.42751793078889394045773111748346612697, -1.906157978816647150624096784352757010879,
      1.006172249242068014790040335899474187268],
     [12.05467007625320299509109452892778311648, 0, -49.75478495046898932807257615331444758322,
      41.14288863860467663259698416710157354209, -4.461760149974004185641911603484815375051,
      2.042334822239174959821717077708608543738, -0.09834843665406107379530801693870224403537],
     [10.13814652288180787641845141981689030769, 0, -42.64113603171750214622846006736635730625,
      35.76384003992257007135021178023160054034, -4.348022840392907653340370296908245943710,
      2.009862268377035895441943593011827554771, 0.3487490460338272405953822853053145879140,
      -0.2714390051048312842371587140910297407572],
     [-45.03007203429867712435322405073769635151, 0, 187.3272437654588840752418206154201997384,
      -154.0288236935018690596728621034510402582, 18.56465306347536233859492332958439136765,
      -7.141809679295078854925420496823551192821, 1.308808578161378625114762706007696696508]],
    b=[0.04715561848627222170431765108838175679569, 0, 0,
       0.2575056429843415189596436101037687580986, 0.2621665397741262047713863095764527711129,
       0.1521609265673855740323133199165117535523, 0.4939969170032484246907175893227876844296,
       -0.2943031171403250441557244744092703429139, 0.08131747232495109999734599440136761892478,
       0],
    c=[0, 0.005, F(49, 450), F(49, 300), 0.4555,
       0.6095094489978381317087004421486024949638, 0.884, 0.925, 1, 1],
    order=7,
    b_error=[0.04460860660634117628731817597479197781432, 0, 0,
             0.2671640378571372680509102260943837899738, 0.2201018300177293019979715776650753096323,
             0.2188431703143156830983120833512893824578, 0.2289871705411202883378173889763552365362,
             0, 0, 0.02029518466335628222767054793810430358554],
    error_order=6,
)

ERK_TABLEAUS: dict[str, ButcherTableau] = {
    tab.name: tab
    for tab in (EULER, HEUN, RALSTON3, BS32, RK4, DOPRI54, CASH_KARP, FEHLBERG45,
                TSIT5, DOP853, VERN7)
}


def tableau(name: str) -> ButcherTableau:
    """The catalogued tableau called `name`."""
    try:
        return ERK_TABLEAUS[name]
    except KeyError:
        raise ValueError(f"unknown tableau {name!r}; known: {', '.join(ERK_TABLEAUS)}") from None
