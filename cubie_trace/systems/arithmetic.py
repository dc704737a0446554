"""Whitelisted arithmetic: a Python expression tree of placeholders to SymPy, with
bounded work.

The parser (`cubie_trace.systems.parse`) rewrites every name and number of model
text into a placeholder bound to a `Term` (a symbol, pi or a checked literal) or
to a function of `FUNCTIONS`, so the tree `build` walks holds only placeholders,
`+ - * / **`, one comparison at a time and calls. Nothing is evaluated by
Python or SymPy's parser.

Work stays bounded for short input:
- literals are decimal and finite in float64 (`1e400` raises);
- every sub-expression without symbols carries its float64 value, computed
  before SymPy builds the node, and must stay finite, so `exp(exp(1000))` raises
  instead of SymPy evaluating it;
- a number raised to a numeric power needs |exponent| <= `MAX_EXPONENT`, which
  stops power towers such as `10**10**10` before SymPy computes them;
- nesting is at most `MAX_DEPTH` levels (sums and products chain without
  nesting), so later recursive passes over the expression stay within Python's
  recursion limit.
The tree is walked with an explicit stack, so long sums need no recursion.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import sympy as sp

MAX_EXPONENT = 64
MAX_DEPTH = 100
_DECIMAL = re.compile(r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def _where(cond: sp.Basic, a: sp.Expr, b: sp.Expr) -> sp.Expr:
    return sp.Piecewise((a, cond), (b, True))


# name -> (SymPy function, its float64 counterpart for numeric arguments)
FUNCTIONS: dict[str, tuple[Callable[..., Any], Callable[..., Any]]] = {
    "exp": (sp.exp, math.exp), "log": (sp.log, math.log), "sqrt": (sp.sqrt, math.sqrt),
    "sin": (sp.sin, math.sin), "cos": (sp.cos, math.cos), "tan": (sp.tan, math.tan),
    "asin": (sp.asin, math.asin), "acos": (sp.acos, math.acos),
    "atan": (sp.atan, math.atan), "atan2": (sp.atan2, math.atan2),
    "sinh": (sp.sinh, math.sinh), "cosh": (sp.cosh, math.cosh),
    "tanh": (sp.tanh, math.tanh), "abs": (sp.Abs, abs), "min": (sp.Min, min),
    "max": (sp.Max, max), "where": (_where, lambda c, a, b: a if c else b),
}

_BINARY: dict[type, tuple[str, Callable[[Any, Any], Any]]] = {
    ast.Add: ("+", operator.add), ast.Sub: ("-", operator.sub),
    ast.Mult: ("*", operator.mul), ast.Div: ("/", operator.truediv),
    ast.Pow: ("**", operator.pow),
}
_CHAINS = {ast.Add: "sum", ast.Sub: "sum", ast.Mult: "product", ast.Div: "product"}
_COMPARE: dict[type, Callable[[Any, Any], Any]] = {
    ast.Lt: operator.lt, ast.Gt: operator.gt, ast.LtE: operator.le, ast.GtE: operator.ge,
}


class Term(NamedTuple):
    """A built node: its SymPy expression, its float64 (or bool) value when it holds
    no symbol, its nesting depth and the chain (sum/product) it ends, if any."""

    expr: sp.Basic
    value: float | bool | None
    depth: int = 1
    chain: str = ""


def literal(text: str, where: str) -> Term:
    """A decimal literal as an exact Integer or a float64 Float, raising unless finite."""
    if not _DECIMAL.fullmatch(text):
        raise ValueError(f"{where}: unsupported number {text!r}; write decimal numbers "
                         "such as 2, 0.5 or 1e-3")
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{where}: the number {text!r} is out of the float64 range")
    if text.isdecimal():
        return Term(sp.Integer(int(text)), value)
    return Term(sp.Float(value), value)


def _number(value: Any) -> float | bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, complex) or not math.isfinite(value):
        raise ArithmeticError(value)
    return float(value)


def _children(node: ast.AST, where: str) -> list[ast.AST]:
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        return [node.left, node.right]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        return [node.operand]
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _COMPARE:
        return [node.left, node.comparators[0]]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        return list(node.args)
    if isinstance(node, ast.Name):
        return []
    raise ValueError(f"syntax error in {where}: unsupported {_describe(node)}")


def _describe(node: ast.AST) -> str:
    if isinstance(node, ast.Compare):
        return "comparison (compare two values at a time with <, >, <= or >=)"
    return f"construct {type(node).__name__}"


def _combine(node: ast.AST, args: list[Term], bound: Mapping[str, Any],
             where: str) -> Term:
    depth = 1 + max((a.depth for a in args), default=0)
    if isinstance(node, ast.Name):
        term = bound[node.id]
        if not isinstance(term, Term):
            raise ValueError(f"syntax error in {where}: function used as a value")
        return term
    if isinstance(node, ast.Call):
        name = bound[node.func.id]  # type: ignore[attr-defined]
        if isinstance(name, Term):
            raise ValueError(f"syntax error in {where}: {name.expr} is not a function")
        symbolic, numeric = FUNCTIONS[name]
        return _apply(f"{name}(%s)", symbolic, numeric, args, depth, "", where)
    if isinstance(node, ast.UnaryOp):
        sign = operator.neg if isinstance(node.op, ast.USub) else operator.pos
        return _apply("-(%s)", sign, sign, args, args[0].depth, args[0].chain, where)
    if isinstance(node, ast.Compare):
        op = _COMPARE[type(node.ops[0])]
        return _apply("a comparison of %s", op, op, args, depth, "", where)
    op_type = type(node.op)  # type: ignore[attr-defined]
    chain = _CHAINS.get(op_type, "")
    left, right = args
    if chain and left.chain == chain:
        depth = max(left.depth, right.depth + 1)
    if op_type is ast.Pow and left.value is not None and right.value is not None \
            and abs(right.value) > MAX_EXPONENT:
        raise ValueError(f"{where}: the exponent {right.expr} of the number {left.expr} is "
                         f"beyond +-{MAX_EXPONENT}")
    symbol, op = _BINARY[op_type]
    return _apply(f"(%s) {symbol} (%s)", op, op, args, depth, chain, where)


def _apply(form: str, symbolic: Callable[..., Any], numeric: Callable[..., Any],
           args: list[Term], depth: int, chain: str, where: str) -> Term:
    """A node built by `symbolic` (and by `numeric` on the float64 values, if all
    known); `form` % args describes it in messages."""
    if depth > MAX_DEPTH:
        raise ValueError(f"{where}: expression nested deeper than {MAX_DEPTH} levels")
    value = None
    if all(a.value is not None for a in args):
        try:
            value = _number(numeric(*(a.value for a in args)))
        except (ArithmeticError, ValueError, TypeError):
            raise ValueError(f"{where}: {_describe_call(form, args)} is undefined or out of "
                             "the float64 range") from None
    try:
        expr = symbolic(*(a.expr for a in args))
    except Exception as exc:  # SymPy raises many types for ill-typed arguments
        raise ValueError(f"{where}: invalid {_describe_call(form, args)}: {exc}") from None
    return Term(expr, value, depth, chain)


def _describe_call(form: str, args: list[Term]) -> str:
    texts = [str(a.expr) for a in args]
    return form % (tuple(texts) if form.count("%s") > 1 else ", ".join(texts))


def build(text: str, bound: Mapping[str, Any], where: str) -> sp.Basic:
    """The SymPy expression of placeholder `text`, each name bound to a `Term` or to
    the name of a function in `FUNCTIONS`."""
    try:
        body = ast.parse(text, mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise ValueError(f"syntax error in {where}: {exc}") from None
    done: dict[int, Term] = {}
    stack: list[tuple[ast.AST, bool]] = [(body, False)]
    while stack:
        node, ready = stack.pop()
        children = _children(node, where)
        if not ready:
            stack.append((node, True))
            stack.extend((c, False) for c in children)
        else:
            args = [done.pop(id(c)) for c in children]
            done[id(node)] = _combine(node, args, bound, where)
    return done[id(body)].expr


def depth(expr: sp.Basic) -> int:
    """Nesting depth of `expr` (an atom is 1), walking shared sub-expressions once."""
    depths: dict[sp.Basic, int] = {}
    stack = [(expr, False)]
    while stack:
        node, ready = stack.pop()
        if ready or not node.args:
            depths[node] = 1 + max((depths[a] for a in node.args), default=0)
        elif node not in depths:
            stack.append((node, True))
            stack.extend((a, False) for a in node.args if a not in depths)
    return depths[expr]


def check_expression(expr: sp.Basic, where: str) -> None:
    """Raise unless `expr` nests at most `MAX_DEPTH` levels and is free of infinities,
    NaN, complex numbers and numbers beyond float64."""
    if depth(expr) > MAX_DEPTH:
        raise ValueError(f"{where}: expression nested deeper than {MAX_DEPTH} levels "
                         "(auxiliaries included)")
    if expr.has(sp.zoo, sp.oo, sp.nan, sp.I):
        raise ValueError(f"{where}: the expression {expr} is infinite, undefined or complex")
    for atom in expr.atoms(sp.Number):
        try:
            finite = math.isfinite(float(atom))
        except (OverflowError, TypeError):
            finite = False
        if not finite:
            raise ValueError(f"{where}: the number {atom} is out of the float64 range")
