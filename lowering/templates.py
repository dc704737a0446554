"""Source templates of the primitives: elementwise operations as expressions over their
operands' code, reductions as accumulation statements, casts, and literals in the
working precision."""

from __future__ import annotations

import math

from cubie_trace.core.values import Lit

# elementwise templates over operand expressions
OPS: dict[str, str] = {
    "add": "({0} + {1})", "sub": "({0} - {1})", "mul": "({0} * {1})", "div": "({0} / {1})",
    "floordiv": "({0} // {1})", "pow": "({0} ** {1})", "neg": "(-{0})", "abs": "abs({0})",
    "minimum": "min({0}, {1})", "maximum": "max({0}, {1})", "sqrt": "math.sqrt({0})",
    "exp": "math.exp({0})", "log": "math.log({0})", "sin": "math.sin({0})",
    "cos": "math.cos({0})", "tan": "math.tan({0})", "tanh": "math.tanh({0})",
    "floor": "FLOAT(math.floor({0}))", "lt": "({0} < {1})", "le": "({0} <= {1})",
    "gt": "({0} > {1})", "ge": "({0} >= {1})", "eq": "({0} == {1})", "ne": "({0} != {1})",
    "and": "({0} and {1})", "or": "({0} or {1})", "not": "(not {0})",
    "isfinite": "math.isfinite({0})", "where": "({1} if {0} else {2})",
}
# reductions: (start from element 0 or zero, statements per element, final expression)
REDUCTION_TERMS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "sum": ("zero", ("{acc} += {x}",), ""),
    "max": ("first", ("{acc} = max({acc}, {x})",), ""),
    "min": ("first", ("{acc} = min({acc}, {x})",), ""),
    "max_abs": ("zero", ("{acc} = max({acc}, abs({x}))",), ""),
    "dot": ("zero", ("{acc} += {x} * {y}",), ""),
    "rms_norm": ("zero", ("{q} = {x} / {y}", "{acc} += {q} * {q}"), "math.sqrt({acc} / {n})"),
}
CASTS = {"float": "FLOAT({0})", "float32": "np.float32({0})", "float64": "np.float64({0})",
         "int32": "np.int32({0})", "bool": "({0} != 0)"}
FLOATS = ("float", "float32", "float64")


def literal(lit: Lit, dtype: str) -> str:
    """Source for a literal used where a value of `dtype` is computed."""
    if lit.dtype == "bool":
        return repr(bool(lit.value))
    value = lit.value
    if dtype in FLOATS or lit.dtype in FLOATS:
        if math.isinf(value) or math.isnan(value):
            text = "math.inf" if value > 0 else "-math.inf" if value < 0 else "math.nan"
        else:
            text = repr(float(value))
        return f"{CASTS[dtype if dtype in FLOATS else 'float'].format(text)}"
    return repr(int(value))


def zero(dtype: str) -> str:
    """A zero of `dtype`."""
    return literal(Lit(0.0 if dtype in FLOATS else 0, dtype), dtype)
