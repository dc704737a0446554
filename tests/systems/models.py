"""Systems shared by the tests of cubie_trace.systems."""

from __future__ import annotations

import numpy as np

import cubie_trace as ct
from cubie_trace.systems import library

KNOTS = np.array([0.0, 0.3, 0.5, 1.2, 1.6, 2.0])
SAMPLES = np.array([1.0, -0.5, 0.25, 2.0, 1.5, -1.0])


def driven() -> ct.ODESystem:
    """A damped oscillator with a cubic and a linear driver, a constant and observables."""
    return ct.ODESystem.from_equations(
        """
        # forced, damped oscillator
        force = u + w*sin(t)     # auxiliary
        dx = v
        dv = -omega**2*x - c*v + force + g
        """,
        states={"x": 1.0, "v": 0.0}, parameters={"omega": 2.0, "c": 0.1},
        constants={"g": -0.5},
        drivers={"u": {"t": KNOTS, "values": SAMPLES},
                 "w": {"t": np.linspace(0.0, 2.0, 5), "values": [0.0, 1.0, 0.5, 0.0, 2.0],
                       "kind": "linear"}},
        observables=["energy = v**2/2 + omega**2*x**2/2", "twice = 2*energy + force"],
        name="driven")


def systems() -> dict[str, ct.ODESystem]:
    """The systems every function is checked on."""
    return {"lorenz": library.lorenz(), "robertson": library.robertson(),
            "hires": library.hires(), "chain16": library.linear_chain(16), "driven": driven()}


def operands(system: ct.ODESystem, fn: str, rng: np.random.Generator,
             t: float = 0.7) -> list[np.ndarray | float]:
    """Random operands for `fn` of `system`, in call order."""
    n = system.n_states
    values = {"t": t, "y": rng.normal(size=n), "v": rng.normal(size=n),
              "gamma_h": float(rng.uniform(0.01, 1.0)),
              "p": system.default_parameters * rng.uniform(0.5, 1.5, system.n_parameters),
              "d": system.driver_coefficients, "t_dot": float(rng.normal()),
              "gamma_h_dot": float(rng.normal()), "y_dot": rng.normal(size=n),
              "v_dot": rng.normal(size=n), "p_dot": rng.normal(size=system.n_parameters)}
    return [values[o] for o in system.definitions[fn].operands]
