"""IR values: typed SSA variables, literals and abstract shapes.

A `Var` is defined exactly once. A *buffer* has a static shape, `(n,)` or
`(rows, n)`; a *scalar* has shape `()`. The dtype "float" is the working
precision, chosen when a program is interpreted or lowered; "float32" and
"float64" pin a precision; "int32" counts; "bool" holds predicates.
"""

from __future__ import annotations

import math
from functools import cached_property
from typing import Union

import attrs
import numpy as np

DTYPES = ("float", "float32", "float64", "int32", "bool")
FLOAT_DTYPES = ("float", "float32", "float64")


def check_dtype(dtype: str) -> str:
    """Return `dtype` if it is one of the IR's dtypes, else raise."""
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
    return dtype


def numpy_dtype(dtype: str, precision: str = "float64") -> np.dtype:
    """The numpy dtype of an IR dtype under a working precision."""
    if dtype == "float":
        return np.dtype(precision)
    return np.dtype(dtype)


def itemsize(dtype: str, precision: str = "float64") -> int:
    """Bytes per element of an IR dtype under a working precision."""
    return numpy_dtype(dtype, precision).itemsize


def epsilon(precision: str) -> float:
    """The machine epsilon of a working precision ("float32" or "float64")."""
    return float(np.finfo(numpy_dtype("float", precision)).eps)


@attrs.frozen
class Aval:
    """The abstract value of a variable: its static shape and dtype."""

    shape: tuple[int, ...]
    dtype: str = "float"

    def __attrs_post_init__(self) -> None:
        check_dtype(self.dtype)
        if len(self.shape) > 2 or any(int(d) != d or d < 0 for d in self.shape):
            raise ValueError(f"shape must be (), (n,) or (rows, n) of sizes >= 0, got {self.shape}")

    @property
    def is_scalar(self) -> bool:
        return self.shape == ()

    @property
    def elements(self) -> int:
        return math.prod(self.shape)

    def short(self) -> str:
        """Compact form for printing, e.g. `f[3]`, `i[]`, `f[4,3]`."""
        letter = {"float": "f", "float32": "f32", "float64": "f64", "int32": "i", "bool": "b"}
        return f"{letter[self.dtype]}[{','.join(str(d) for d in self.shape)}]"


def buffer(n: int, dtype: str = "float", rows: int | None = None) -> Aval:
    """Abstract buffer of length `n` (a `rows` x `n` stack if `rows` is given)."""
    return Aval((n,) if rows is None else (rows, n), dtype)


def scalar(dtype: str = "float") -> Aval:
    """Abstract scalar."""
    return Aval((), dtype)


@attrs.frozen(eq=False, repr=False)
class Var:
    """An SSA variable. Compared and hashed by identity."""

    aval: Aval

    @property
    def shape(self) -> tuple[int, ...]:
        return self.aval.shape

    @property
    def dtype(self) -> str:
        return self.aval.dtype

    @property
    def is_buffer(self) -> bool:
        return not self.aval.is_scalar

    def __repr__(self) -> str:
        return f"Var({self.aval.short()} at {id(self):#x})"


@attrs.frozen
class Lit:
    """A literal scalar constant."""

    value: int | float | bool
    dtype: str

    @cached_property
    def aval(self) -> Aval:
        return Aval((), self.dtype)

    @property
    def shape(self) -> tuple[int, ...]:
        return ()

    is_buffer = False

    def __str__(self) -> str:
        return repr(self.value)


Atom = Union[Var, Lit]


def literal(value: object) -> Lit:
    """A literal from a Python or numpy number. Python ints are int32, floats "float"."""
    if isinstance(value, (bool, np.bool_)):
        return Lit(bool(value), "bool")
    if isinstance(value, (int, np.integer)):
        if not -(2**31) <= int(value) < 2**31:
            raise OverflowError(f"integer literal {value} does not fit in int32")
        return Lit(int(value), "int32")
    if isinstance(value, (float, np.floating)):
        return Lit(float(value), "float")
    raise TypeError(f"expected a number, got {type(value).__name__}: {value!r}")
