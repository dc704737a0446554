"""Test models for integrators and benchmarks."""

from __future__ import annotations

from cubie_trace.systems.ode_system import ODESystem


def lorenz() -> ODESystem:
    """The Lorenz system (sigma=10, rho=28, beta=8/3), from (1, 0, 0)."""
    return ODESystem.from_equations(
        ["dx = sigma*(y - x)", "dy = x*(rho - z) - y", "dz = x*y - beta*z"],
        states={"x": 1.0, "y": 0.0, "z": 0.0},
        parameters={"sigma": 10.0, "rho": 28.0, "beta": 8 / 3}, name="lorenz")


def robertson() -> ODESystem:
    """Robertson's stiff chemical kinetics, from (1, 0, 0)."""
    return ODESystem.from_equations(
        ["dy1 = -k1*y1 + k3*y2*y3",
         "dy2 = k1*y1 - k3*y2*y3 - k2*y2**2",
         "dy3 = k2*y2**2"],
        states={"y1": 1.0, "y2": 0.0, "y3": 0.0},
        parameters={"k1": 0.04, "k2": 3e7, "k3": 1e4}, name="robertson")


def hires() -> ODESystem:
    """HIRES, the 8-state stiff problem of the Test Set for IVP Solvers (Mazzia and
    Magherini), integrated over [0, 321.8122]; no parameters."""
    return ODESystem.from_equations(
        ["dy1 = -1.71*y1 + 0.43*y2 + 8.32*y3 + 0.0007",
         "dy2 = 1.71*y1 - 8.75*y2",
         "dy3 = -10.03*y3 + 0.43*y4 + 0.035*y5",
         "dy4 = 8.32*y2 + 1.71*y3 - 1.12*y4",
         "dy5 = -1.745*y5 + 0.43*y6 + 0.43*y7",
         "r = 280*y6*y8",
         "dy6 = -r + 0.69*y4 + 1.71*y5 - 0.43*y6 + 0.69*y7",
         "dy7 = r - 1.81*y7",
         "dy8 = -r + 1.81*y7"],
        states={"y1": 1.0, "y2": 0.0, "y3": 0.0, "y4": 0.0, "y5": 0.0, "y6": 0.0, "y7": 0.0,
                "y8": 0.0057}, name="hires")


def oregonator() -> ODESystem:
    """The Oregonator (Field-Noyes model of the Belousov-Zhabotinskii reaction) in the form
    of Hairer and Wanner and the Test Set for IVP Solvers, from (1, 2, 3), integrated over
    [0, 360]."""
    return ODESystem.from_equations(
        ["dy1 = s*(y2 + y1*(1 - q*y1 - y2))",
         "dy2 = (y3 - (1 + y1)*y2)/s",
         "dy3 = w*(y1 - y3)"],
        states={"y1": 1.0, "y2": 2.0, "y3": 3.0},
        parameters={"s": 77.27, "q": 8.375e-6, "w": 0.161}, name="oregonator")


# The Pollution problem's reactions (Verwer 1994; Test Set for IVP Solvers):
# (rate constant, reactants), then d(species) as sums of the reaction rates r1..r25.
POLLUTION_RATES = (
    (0.35, "NO2"), (26.6, "NO*O3"), (1.23e4, "HO2*NO"), (8.6e-4, "HCHO"), (8.2e-4, "HCHO"),
    (1.5e4, "HCHO*OH"), (1.3e-4, "ALD"), (2.4e4, "ALD*OH"), (1.65e4, "C2O3*NO"),
    (9.0e3, "C2O3*NO2"), (0.022, "PAN"), (1.2e4, "MEO2*NO"), (1.88, "CH3O"),
    (1.63e4, "NO2*OH"), (4.8e6, "O3P"), (3.5e-4, "O3"), (0.0175, "O3"), (1.0e8, "O1D"),
    (4.44e11, "O1D"), (1240.0, "SO2*OH"), (2.1, "NO3"), (5.78, "NO3"), (0.0474, "NO2*O3"),
    (1780.0, "NO3*NO2"), (3.12, "N2O5"),
)
POLLUTION_BALANCE = {
    "NO2": "-r1 - r10 - r14 - r23 - r24 + r2 + r3 + r9 + r11 + r12 + r22 + r25",
    "NO": "-r2 - r3 - r9 - r12 + r1 + r21",
    "O3P": "-r15 + r1 + r17 + r19 + r22",
    "O3": "-r2 - r16 - r17 - r23 + r15",
    "HO2": "-r3 + 2*r4 + r6 + r7 + r13 + r20",
    "OH": "-r6 - r8 - r14 - r20 + r3 + 2*r18",
    "HCHO": "-r4 - r5 - r6 + r13",
    "CO": "r4 + r5 + r6 + r7",
    "ALD": "-r7 - r8",
    "MEO2": "-r12 + r7 + r9",
    "C2O3": "-r9 - r10 + r8 + r11",
    "CO2": "r9",
    "PAN": "-r11 + r10",
    "CH3O": "-r13 + r12",
    "HNO3": "r14",
    "O1D": "-r18 - r19 + r16",
    "SO2": "-r20",
    "SO4": "r20",
    "NO3": "-r21 - r22 - r24 + r23 + r25",
    "N2O5": "-r25 + r24",
}
POLLUTION_START = {"NO": 0.2, "O3": 0.04, "HCHO": 0.1, "CO": 0.3, "ALD": 0.01, "SO2": 0.007}


def pollution() -> ODESystem:
    """Pollution, the 20-species, 25-reaction stiff air-chemistry problem of the Test Set
    for IVP Solvers (Verwer 1994), with rate constants k1..k25 as parameters, integrated
    over [0, 60]."""
    rates = [f"r{i} = k{i}*{reactants}"
             for i, (_, reactants) in enumerate(POLLUTION_RATES, start=1)]
    balances = [f"d{name} = {rhs}" for name, rhs in POLLUTION_BALANCE.items()]
    return ODESystem.from_equations(
        rates + balances,
        states={name: POLLUTION_START.get(name, 0.0) for name in POLLUTION_BALANCE},
        parameters={f"k{i}": k for i, (k, _) in enumerate(POLLUTION_RATES, start=1)},
        name="pollution")


def van_der_pol(mu: float = 1.0) -> ODESystem:
    """The Van der Pol oscillator (parameter mu, default `mu`), from (2, 0)."""
    return ODESystem.from_equations(
        ["dx = y", "dy = mu*(1 - x**2)*y - x"],
        states={"x": 2.0, "y": 0.0}, parameters={"mu": mu}, name="van_der_pol")


def fitzhugh_nagumo() -> ODESystem:
    """The FitzHugh-Nagumo neuron (a=0.7, b=0.8, tau=12.5, input current I=0.5), from
    the resting point of I = 0, (-1.1994, -0.6243)."""
    return ODESystem.from_equations(
        ["dv = v - v**3/3 - w + I", "dw = (v + a - b*w)/tau"],
        states={"v": -1.1994, "w": -0.6243},
        parameters={"I": 0.5, "a": 0.7, "b": 0.8, "tau": 12.5}, name="fitzhugh_nagumo")


def lotka_volterra() -> ODESystem:
    """Predator-prey (alpha=1.5, beta=1, gamma=3, delta=1), from (10, 5)."""
    return ODESystem.from_equations(
        ["dx = alpha*x - beta*x*y", "dy = delta*x*y - gamma*y"],
        states={"x": 10.0, "y": 5.0},
        parameters={"alpha": 1.5, "beta": 1.0, "gamma": 3.0, "delta": 1.0},
        name="lotka_volterra")


def linear_chain(n: int = 16) -> ODESystem:
    """`dx_i = -k*x_i + x_{i-1}` (x_{-1} = 0, k=1) for i < n, from (1, 0, ..., 0)."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"linear_chain: n must be a positive int, got {n!r}")
    equations = [f"dx{i} = -k*x{i}" + (f" + x{i - 1}" if i else "") for i in range(n)]
    states = {f"x{i}": 1.0 if i == 0 else 0.0 for i in range(n)}
    return ODESystem.from_equations(equations, states=states, parameters={"k": 1.0},
                                    name=f"linear_chain{n}")
