"""Solvers for use inside traced steps: matrix-free Newton-Krylov, Krylov linear solvers,
a static-pattern sparse LU and preconditioners. Each solve is a traced child program
whose scratch the layout plans like any other buffer.

    x, info = ct.solvers.linear_solve(A, b, method="bicgstab", preconditioner=None,
                                      tol=1e-10, max_iters=None, x0=None)
    x, info = ct.solvers.newton(F, x0, jvp, linear="bicgstab", tol=1e-10, max_iters=8)
    lu = ct.solvers.SparseLU(pattern); factors, status = lu.factor(values)
    x = lu.solve(factors, b)
"""

from cubie_trace.solvers.info import Info, Outcome
from cubie_trace.solvers.linear import METHODS, linear_solve
from cubie_trace.solvers.newton import newton
from cubie_trace.solvers.operators import diagonal, matvec
from cubie_trace.solvers.ordering import minimum_degree
from cubie_trace.solvers.preconditioners import identity, jacobi, neumann
from cubie_trace.solvers.sparse_lu import SparseLU

__all__ = ["diagonal", "identity", "Info", "jacobi", "linear_solve", "matvec", "METHODS",
           "minimum_degree", "neumann", "newton", "Outcome", "SparseLU"]
