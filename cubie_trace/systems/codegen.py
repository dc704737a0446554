"""SymPy expressions to straight-line Python source that Numba compiles for the CPU
and as CUDA device functions.

Expressions are common-subexpression-eliminated (temporaries `_x0`, `_x1`, ...).
Every number is written `FLOAT(value)`, where `FLOAT` is the working precision's
numpy scalar type defined by the generated module: under Numba a bare Python int
or float would promote float32 arithmetic to float64. Math goes through `math`;
integer powers up to 4 become multiplications.

No text is printed twice: an operand used more than once in its own printed form
(the base of an expanded power, the argument of sign/Heaviside) is assigned to a
local `_p<k>` first when it is not a plain name, so source size stays linear in
the expression's size (chained squarings would otherwise double it per link).
Such a local is evaluated unconditionally, like a CSE temporary, even where it
sits in one branch of a `where`. One function's source is limited to
`MAX_SOURCE_CHARS` characters.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

import sympy as sp

ATOM, POW, UNARY, MUL, ADD, CMP, TERNARY = 100, 60, 50, 40, 30, 20, 10
MAX_EXPANDED_POWER = 4
MAX_SOURCE_CHARS = 2_000_000
_PLAIN = re.compile(r"[A-Za-z_]\w*(\[\d+(, \d+)?\])?|FLOAT\([^()]*\)")

_MATH = {sp.exp: "exp", sp.log: "log", sp.sin: "sin", sp.cos: "cos", sp.tan: "tan",
         sp.asin: "asin", sp.acos: "acos", sp.atan: "atan", sp.atan2: "atan2",
         sp.sinh: "sinh", sp.cosh: "cosh", sp.tanh: "tanh"}
_RELATIONS = {sp.StrictLessThan: "<", sp.LessThan: "<=", sp.StrictGreaterThan: ">",
              sp.GreaterThan: ">=", sp.Equality: "==", sp.Unequality: "!="}


def number(value: float) -> str:
    """A float literal in the working precision."""
    x = float(value)
    if not math.isfinite(x):
        raise ValueError(f"cannot generate code for the non-finite number {value}")
    return f"FLOAT({x!r})"


def _wrap(text: str, prec: int, needed: int) -> str:
    return f"({text})" if prec < needed else text


class Printer:
    """Python source for SymPy expressions; `names` maps each symbol to its code.
    Locals the printed expressions need are collected in `pending`, in order."""

    def __init__(self, names: Mapping[sp.Basic, str], prefix: str = "_") -> None:
        self.names = dict(names)
        self.prefix = prefix
        self.pending: list[str] = []
        self.count = 0

    def __call__(self, expr: sp.Basic) -> str:
        return self.print(expr)[0]

    def at(self, expr: sp.Basic, needed: int) -> str:
        text, prec = self.print(expr)
        return _wrap(text, prec, needed)

    def local(self, expr: sp.Basic) -> str:
        """Code naming the value of `expr` that may be repeated: a plain name or
        literal as is, anything else through a new local."""
        text = self(expr)
        if _PLAIN.fullmatch(text):
            return text
        name = f"{self.prefix}p{self.count}"
        self.count += 1
        self.pending.append(f"{name} = {text}")
        return name

    def print(self, e: sp.Basic) -> tuple[str, int]:
        """(source, precedence) of `e`."""
        if e in self.names:
            return self.names[e], ATOM
        if e.is_Number or e.is_NumberSymbol:
            value = float(e)
            return (f"-{number(-value)}", UNARY) if value < 0 else (number(value), ATOM)
        if e.is_Add:
            return self.add(e), ADD
        if e.is_Mul:
            return self.mul(e)
        if e.is_Pow:
            return self.pow(e.base, e.exp)
        if e.func in _MATH:
            return f"math.{_MATH[e.func]}({', '.join(self(a) for a in e.args)})", ATOM
        if isinstance(e, sp.Abs):
            return f"abs({self(e.args[0])})", ATOM
        if isinstance(e, (sp.Min, sp.Max)):
            call = "min" if isinstance(e, sp.Min) else "max"
            text = self(e.args[0])
            for arg in e.args[1:]:
                text = f"{call}({text}, {self(arg)})"
            return text, ATOM
        if isinstance(e, (sp.sign, sp.Heaviside)):
            x = self.local(e.args[0])
            zero = number(0.5 if isinstance(e, sp.Heaviside) else 0.0) if len(e.args) == 1 \
                else self(e.args[1])
            low = number(0.0) if isinstance(e, sp.Heaviside) else f"-{number(1.0)}"
            return f"({number(1.0)} if {x} > 0 else ({low} if {x} < 0 else {zero}))", ATOM
        if isinstance(e, sp.Piecewise):
            return self.piecewise(e.args), ATOM
        return self.logic(e)

    def logic(self, e: sp.Basic) -> tuple[str, int]:
        if type(e) in _RELATIONS:
            return f"{self.at(e.lhs, ADD)} {_RELATIONS[type(e)]} {self.at(e.rhs, ADD)}", CMP
        if e is sp.true or e is sp.false:
            return str(bool(e)), ATOM
        if isinstance(e, (sp.And, sp.Or)):
            word = " and " if isinstance(e, sp.And) else " or "
            return f"({word.join(self.at(a, CMP) for a in e.args)})", ATOM
        if isinstance(e, sp.Not):
            return f"(not {self.at(e.args[0], CMP)})", ATOM
        raise ValueError(f"cannot generate code for {type(e).__name__}: {e}")

    def add(self, e: sp.Expr) -> str:
        terms = e.as_ordered_terms()
        text = self.at(terms[0], ADD)
        for term in terms[1:]:
            if term.could_extract_minus_sign():
                text += f" - {self.at(-term, ADD + 1)}"
            else:
                text += f" + {self.at(term, ADD + 1)}"
        return text

    def mul(self, e: sp.Expr) -> tuple[str, int]:
        coeff, factors = e.as_coeff_mul()
        numer: list[str] = [] if abs(coeff) == 1 else [number(abs(coeff))]
        denom: list[sp.Expr] = []
        for f in factors:
            if f.is_Pow and f.exp.is_number and f.exp.is_negative:
                denom.append(f.base ** -f.exp)
            else:
                numer.append(self.at(f, MUL))
        text = "*".join(numer) or number(1.0)
        if len(denom) == 1:
            text += f"/{self.at(denom[0], MUL + 1)}"
        elif denom:
            text += f"/({'*'.join(self.at(d, MUL) for d in denom)})"
        return (f"-{text}", MUL) if coeff < 0 else (text, MUL)

    def pow(self, base: sp.Expr, exp: sp.Expr) -> tuple[str, int]:
        if exp == sp.Rational(1, 2):
            return f"math.sqrt({self(base)})", ATOM
        if exp == -sp.Rational(1, 2):
            return f"{number(1.0)}/math.sqrt({self(base)})", MUL
        if exp.is_Integer and abs(int(exp)) <= MAX_EXPANDED_POWER:
            k = abs(int(exp))
            product = "*".join([self.local(base)] * k)
            if exp > 0:
                return product, MUL
            return f"{number(1.0)}/{_wrap(product, MUL if k > 1 else ATOM, MUL + 1)}", MUL
        return f"{self.at(base, ATOM)}**{self.at(exp, ATOM)}", POW

    def piecewise(self, pieces: Sequence[tuple[sp.Expr, sp.Basic]]) -> str:
        (value, cond), rest = pieces[0], pieces[1:]
        if cond is sp.true:
            return self(value)
        otherwise = self.piecewise(rest) if rest else "FLOAT(math.nan)"
        return f"({self.at(value, TERNARY + 1)} if {self.at(cond, TERNARY + 1)} " \
               f"else {otherwise})"


def statements(outputs: Sequence[sp.Expr], targets: Sequence[str | None],
               names: Mapping[sp.Basic, str], label: str, prefix: str = "_") -> list[str]:
    """Lines assigning each output to its target (`None`: not written), through common
    subexpressions held in locals `<prefix>x<k>` (and `<prefix>p<k>`)."""
    temps = sp.numbered_symbols(f"{prefix}x", cls=sp.Symbol)
    replacements, reduced = sp.cse(list(outputs), symbols=temps)
    printer = Printer(names, prefix)
    lines: list[str] = []
    size = 0

    def assign(target: str, expr: sp.Basic) -> None:
        nonlocal size
        text = printer(expr)
        new = [*printer.pending, f"{target} = {text}"]
        printer.pending.clear()
        size += sum(len(line) + 5 for line in new)
        if size > MAX_SOURCE_CHARS:
            raise ValueError(f"{label}: generated source exceeds {MAX_SOURCE_CHARS} characters; "
                             "simplify the model or split long expressions")
        lines.extend(new)

    for temp, expr in replacements:
        assign(temp.name, expr)
        printer.names[temp] = temp.name
    for target, expr in zip(targets, reduced):
        if target is not None:
            assign(target, expr)
    return lines


def function_source(func_name: str, operands: Sequence[str], outputs: Sequence[sp.Expr],
                    shape: tuple[int, ...], names: Mapping[sp.Basic, str],
                    preamble: Sequence[str] = (), label: str = "") -> str:
    """`def func_name(*operands, out):` writing `outputs` (flat, row-major) into `out` of
    `shape`; `preamble` lines run first (e.g. driver lookups). Several zero outputs are
    written by one loop. `label` names the function in errors (`func_name` if empty)."""
    lines = [f"def {func_name}({', '.join([*operands, 'out'])}):", *preamble]
    zero = [bool(e == 0) for e in outputs]
    fill = sum(zero) > 1
    if fill:
        index = ", ".join(f"_i{k}" for k in range(len(shape)))
        for k, size_k in enumerate(shape):
            lines.append(f"{'    ' * k}for _i{k} in range({size_k}):")
        lines.append(f"{'    ' * len(shape)}out[{index}] = {number(0.0)}")
    cols = shape[1] if len(shape) == 2 else 0
    targets = [None if fill and zero[i] else
               f"out[{i // cols}, {i % cols}]" if cols else f"out[{i}]"
               for i in range(len(outputs))]
    lines += statements(outputs, targets, names, label or func_name)
    return "\n    ".join(lines) + "\n"
