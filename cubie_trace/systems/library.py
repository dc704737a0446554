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


def van_der_pol(mu: float = 1.0) -> ODESystem:
    """The Van der Pol oscillator (parameter mu, default `mu`), from (2, 0)."""
    return ODESystem.from_equations(
        ["dx = y", "dy = mu*(1 - x**2)*y - x"],
        states={"x": 2.0, "y": 0.0}, parameters={"mu": mu}, name="van_der_pol")


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
