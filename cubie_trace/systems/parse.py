"""Model text to SymPy: a symbol table, expressions and equation lines.

Identifiers are resolved through our own symbol table, never through SymPy's
or Python's namespaces, so `beta`, `gamma`, `lambda`, `E`, `I`, `S`, `N` and
`pi` are ordinary names. Before SymPy sees the text, every identifier is
rewritten at the token level to a private name bound to its symbol or
function. A name followed by `(` that is in `FUNCTIONS` is that function; an
undeclared `pi` is the number pi.
"""

from __future__ import annotations

import io
import tokenize
import warnings
from collections.abc import Iterable, Mapping, Sequence

import sympy as sp
from sympy.parsing.sympy_parser import parse_expr, standard_transformations


def _where(cond: sp.Basic, a: sp.Expr, b: sp.Expr) -> sp.Expr:
    return sp.Piecewise((a, cond), (b, True))


FUNCTIONS = {
    "exp": sp.exp, "log": sp.log, "sqrt": sp.sqrt, "sin": sp.sin, "cos": sp.cos,
    "tan": sp.tan, "asin": sp.asin, "acos": sp.acos, "atan": sp.atan, "atan2": sp.atan2,
    "sinh": sp.sinh, "cosh": sp.cosh, "tanh": sp.tanh, "abs": sp.Abs, "min": sp.Min,
    "max": sp.Max, "where": _where,
}

_OPERATORS = {"+", "-", "*", "/", "**", "^", "(", ")", ",", "<", ">", "<=", ">="}
_SKIP = {tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER, tokenize.INDENT, tokenize.DEDENT}


def make_symbol(name: str) -> sp.Symbol:
    """The SymPy symbol every model name maps to (real, so |x|' is sign(x))."""
    return sp.Symbol(name, real=True)


class SymbolTable:
    """Declared names and their symbols; undeclared names raise (strict) or become
    parameters with default 1.0 after a `UserWarning`."""

    def __init__(self, names: Iterable[str], strict: bool = True) -> None:
        self.symbols: dict[str, sp.Symbol] = {n: make_symbol(n) for n in ("t", *names)}
        self.strict = strict
        self.inferred: list[str] = []

    def define(self, name: str) -> sp.Symbol:
        """Declare `name` (an auxiliary or observable) and return its symbol."""
        self.symbols[name] = make_symbol(name)
        return self.symbols[name]

    def lookup(self, name: str, where: str) -> sp.Symbol:
        """The symbol of `name`, read in `where` (for messages)."""
        if name in self.symbols:
            return self.symbols[name]
        if self.strict:
            raise ValueError(f"undeclared symbol {name!r} in {where}; declare it as a state, "
                             f"parameter, constant or driver (or pass strict=False)")
        warnings.warn(f"undeclared symbol {name!r} in {where}: treated as a parameter "
                      f"with default 1.0", UserWarning, stacklevel=5)
        self.inferred.append(name)
        return self.define(name)


def parse_expression(text: str, table: SymbolTable, where: str) -> sp.Expr:
    """Parse `text` with every identifier resolved through `table`."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text.strip()).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError) as exc:
        raise ValueError(f"syntax error in {where}: {exc}") from None
    local: dict[str, object] = {}
    out: list[tuple[int, str]] = []
    for i, tok in enumerate(tokens):
        if tok.type in _SKIP:
            continue
        if tok.type == tokenize.NAME:
            following = next((u.string for u in tokens[i + 1:] if u.type not in _SKIP), "")
            key = f"_ct_{len(local)}"
            if following == "(" and tok.string in FUNCTIONS:
                local[key] = FUNCTIONS[tok.string]
            elif tok.string == "pi" and "pi" not in table.symbols:
                local[key] = sp.pi
            else:
                local[key] = table.lookup(tok.string, where)
            out.append((tokenize.NAME, key))
        elif tok.type == tokenize.NUMBER:
            out.append((tok.type, tok.string))
        elif tok.type == tokenize.OP and tok.string in _OPERATORS:
            out.append((tok.type, "**" if tok.string == "^" else tok.string))
        else:
            raise ValueError(f"syntax error in {where}: unexpected {tok.string!r}")
    if not out:
        raise ValueError(f"syntax error in {where}: empty expression")
    try:
        expr = parse_expr(tokenize.untokenize(out), local_dict=local,
                          transformations=standard_transformations)
    except Exception as exc:  # SymPy raises many types for malformed input
        raise ValueError(f"syntax error in {where}: {exc}") from None
    if not isinstance(expr, sp.Expr):
        raise ValueError(f"{where}: expected an arithmetic expression, got {expr!r}")
    return expr


def resolve(expr: object, table: SymbolTable, where: str) -> sp.Expr:
    """An expression from text or SymPy/number input, its symbols matched by name."""
    if isinstance(expr, str):
        return parse_expression(expr, table, where)
    try:
        value = sp.sympify(expr, strict=True)
    except (sp.SympifyError, TypeError):
        value = None
    if not isinstance(value, sp.Expr):
        raise ValueError(f"{where}: expected an expression, got {expr!r}")
    return value.xreplace({s: table.lookup(s.name, where) for s in value.free_symbols
                           if isinstance(s, sp.Symbol)})


def split_assignment(line: str, where: str) -> tuple[str, str]:
    """`"name = expr"` -> (name, expr text)."""
    lhs, eq, rhs = line.partition("=")
    lhs = lhs.strip()
    if not eq or not lhs.isidentifier() or rhs.lstrip().startswith("="):
        raise ValueError(f"syntax error in {where}: expected 'name = expression'")
    return lhs, rhs


def equation_lines(equations: Sequence[str] | str) -> list[str]:
    """Non-blank lines with `#` comments removed."""
    lines = equations.splitlines() if isinstance(equations, str) else list(equations)
    if not all(isinstance(line, str) for line in lines):
        raise TypeError(f"equations must be strings, got {lines!r}")
    stripped = (line.partition("#")[0].strip() for line in lines)
    return [line for line in stripped if line]


def parse_equations(equations: Sequence[str] | str, states: Sequence[str],
                    table: SymbolTable) -> tuple[dict[str, sp.Expr], dict[str, sp.Expr]]:
    """Derivatives (`dx = ...`, by state) and auxiliaries (`a = ...`, inlined in
    order) from equation lines."""
    derivatives: dict[str, sp.Expr] = {}
    sources: dict[str, str] = {}
    auxiliaries: dict[str, sp.Expr] = {}
    for line in equation_lines(equations):
        where = f"equation {line!r}"
        lhs, rhs = split_assignment(line, where)
        expr = parse_expression(rhs, table, where).xreplace(
            {table.symbols[a]: e for a, e in auxiliaries.items()})
        if lhs.startswith("d") and lhs[1:] in states:
            if lhs[1:] in derivatives:
                raise ValueError(f"state {lhs[1:]!r} has two derivatives: "
                                 f"{sources[lhs[1:]]!r} and {line!r}")
            derivatives[lhs[1:]], sources[lhs[1:]] = expr, line
        elif lhs in table.symbols:
            raise ValueError(f"{where}: {lhs!r} is already declared and cannot be assigned; "
                             f"a derivative is written d<state> = ...")
        else:
            table.define(lhs)
            auxiliaries[lhs] = expr
    return derivatives, auxiliaries


def parse_observables(observables: Sequence[str] | Mapping[str, object] | None,
                      table: SymbolTable,
                      auxiliaries: Mapping[str, sp.Expr]) -> dict[str, sp.Expr]:
    """Observables from `"name = expr"` strings or a name -> expression mapping; each may
    use auxiliaries and the observables before it."""
    if observables is None:
        return {}
    if isinstance(observables, Mapping):
        items = [(name, expr, f"observable {name!r}") for name, expr in observables.items()]
    else:
        items = []
        for line in equation_lines(observables):
            name, text = split_assignment(line, f"observable {line!r}")
            items.append((name, text, f"observable {line!r}"))
    known = dict(auxiliaries)
    out: dict[str, sp.Expr] = {}
    for name, expr, where in items:
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"observable name {name!r} is not an identifier")
        if name in out or name in table.symbols:
            raise ValueError(f"observable {name!r} is declared twice or clashes with "
                             "another name")
        inline = {table.symbols[a]: e for a, e in known.items()}
        out[name] = resolve(expr, table, where).xreplace(inline)
        table.define(name)
        known[name] = out[name]
    return out
