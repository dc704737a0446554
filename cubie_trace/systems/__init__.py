"""ODE systems described with SymPy."""

from cubie_trace.systems.ode_system import ODESystem

__all__ = ["ODESystem"]
