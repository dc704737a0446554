"""ODE systems described with SymPy, and a library of test models."""

from cubie_trace.systems import library
from cubie_trace.systems.ode_system import ODESystem

__all__ = ["ODESystem", "library"]
