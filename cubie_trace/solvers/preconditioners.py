"""Preconditioners: traced functions `P(v) ~ A^-1 v` handed to the Krylov solvers.

Every Krylov solver here applies them on the right: it iterates on `A P` and updates
`x` by `P` of its search directions, so the residual it tests is always the true
residual `b - A x` of the unpreconditioned system.

Spellings accepted by `ct.solvers.linear_solve` and `ct.solvers.newton`:

- `None` or `"identity"`: no preconditioning;
- `("jacobi", diag)`: `P v = v / diag`, `diag` a traced buffer (A's diagonal);
- `("neumann", k)`: the truncated Neumann series `sum_{j<=k} (I - A)^j v`, for
  operators close to the identity (such as `I - h gamma J` with small `h`);
- `("neumann", k, diag)`: the Jacobi-scaled series
  `sum_{j<=k} (I - D^-1 A)^j D^-1 v`, for diagonally dominant operators.

The order `k` is fixed at trace time; each order costs one application of `A`.
"""

from __future__ import annotations

from typing import Any

from cubie_trace.core import ops as ct
from cubie_trace.solvers.operators import Operator


def identity() -> Operator:
    """No preconditioning."""
    return lambda v: v


def jacobi(diag: Any) -> Operator:
    """Division by the diagonal `diag` (a traced buffer)."""
    return lambda v: v / diag


def neumann(a: Operator, order: int, diag: Any = None) -> Operator:
    """The Neumann series of `A` truncated after `order` terms (Jacobi-scaled if `diag`
    is given): `z_0 = D^-1 v`, `z_{j+1} = D^-1 v + z_j - D^-1 A z_j`."""
    if not isinstance(order, int) or isinstance(order, bool) or order < 0:
        raise ValueError(f"neumann: the order must be an int >= 0, got {order!r}")
    scale = identity() if diag is None else jacobi(diag)

    def apply(v: Any) -> Any:
        y = ct.hint(scale(v), "neumann_y")

        def term(_: Any, z: Any) -> Any:
            return y + z - scale(a(z))

        return ct.fori_loop(0, order, term, y)

    return apply


def resolve(spec: Any, a: Operator) -> Operator:
    """The preconditioner a spelling names (see the module docstring), for operator `a`."""
    if spec is None or spec == "identity":
        return identity()
    if callable(spec):
        return spec
    if isinstance(spec, tuple) and spec and spec[0] == "jacobi" and len(spec) == 2:
        return jacobi(spec[1])
    if isinstance(spec, tuple) and spec and spec[0] == "neumann" and len(spec) in (2, 3):
        return neumann(a, spec[1], spec[2] if len(spec) == 3 else None)
    raise ValueError(f"preconditioner must be None, 'identity', ('jacobi', diag), "
                     f"('neumann', k), ('neumann', k, diag) or a callable P(v), got {spec!r}")
