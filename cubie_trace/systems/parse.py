"""Model text to SymPy: a symbol table, expressions and equation lines.

Every string a user gives (equations, derivatives, observables, mass-matrix
entries) is parsed here, and only here. Identifiers are resolved through our
own symbol table, never through SymPy's or Python's namespaces, so `beta`,
`gamma`, `lambda`, `E`, `I`, `S`, `N` and `pi` are ordinary names. The text is
tokenized and each name and number rewritten to a placeholder bound to its
symbol, function or checked literal; `cubie_trace.systems.arithmetic` builds the
expression from the placeholder tree with bounded work. A name followed by `(`
that is in `FUNCTIONS` is that function; an undeclared `pi` is the number pi.

Names are compared after NFKC normalisation, as Python compares identifiers:
`"ﬁ"` reads the declared `fi`, and declaring both raises.
"""

from __future__ import annotations

import io
import math
import tokenize
import unicodedata
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sympy as sp

from cubie_trace.systems.arithmetic import FUNCTIONS, Term, build, check_expression, literal

_OPERATORS = {"+", "-", "*", "/", "**", "^", "(", ")", ",", "<", ">", "<=", ">="}
_SKIP = {tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER, tokenize.INDENT, tokenize.DEDENT}


def make_symbol(name: str) -> sp.Symbol:
    """The SymPy symbol every model name maps to (real, so |x|' is sign(x))."""
    return sp.Symbol(name, real=True)


def canonical(name: str) -> str:
    """`name` as Python compares identifiers (NFKC normal form)."""
    return unicodedata.normalize("NFKC", name)


class SymbolTable:
    """Declared names and their symbols; undeclared names raise (strict) or become
    parameters with default 1.0 after a `UserWarning`. Text reads each constant as
    its value, so bounds on numbers apply to expressions of constants too."""

    def __init__(self, names: Iterable[str], strict: bool = True,
                 constants: Mapping[str, float] | None = None) -> None:
        self.symbols: dict[str, sp.Symbol] = {}
        self._declared: dict[str, str] = {}  # canonical name -> declared name
        self.constants = dict(constants or {})
        self.strict = strict
        self.inferred: list[str] = []
        for name in ("t", *names):
            self.define(name)

    def define(self, name: str) -> sp.Symbol:
        """Declare `name` (an auxiliary or observable) and return its symbol."""
        key = canonical(name)
        if key in self._declared:
            raise ValueError(f"name {name!r} clashes with the declared {self._declared[key]!r} "
                             "(equal after NFKC normalisation)")
        self._declared[key] = name
        self.symbols[name] = make_symbol(name)
        return self.symbols[name]

    def declared(self, name: str) -> str | None:
        """The declared name `name` reads, or None."""
        return self._declared.get(canonical(name))

    def term(self, name: str, where: str) -> Term:
        """What `name` reads in text: a constant's value or the name's symbol."""
        symbol = self.lookup(name, where)
        if symbol.name in self.constants:
            value = self.constants[symbol.name]
            return Term(sp.Float(value), value)
        return Term(symbol, None)

    def lookup(self, name: str, where: str) -> sp.Symbol:
        """The symbol of `name`, read in `where` (for messages)."""
        known = self.declared(name)
        if known is not None:
            return self.symbols[known]
        if self.strict:
            raise ValueError(f"undeclared symbol {name!r} in {where}; declare it as a state, "
                             f"parameter, constant or driver (or pass strict=False)")
        warnings.warn(f"undeclared symbol {name!r} in {where}: treated as a parameter "
                      f"with default 1.0", UserWarning, stacklevel=5)
        self.inferred.append(name)
        return self.define(name)


def _tokens(text: str, where: str) -> list[tokenize.TokenInfo]:
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text.strip()).readline))
    except (tokenize.TokenError, SyntaxError, ValueError) as exc:
        raise ValueError(f"syntax error in {where}: {exc}") from None
    return [tok for tok in tokens if tok.type not in _SKIP]


def parse_expression(text: str, table: SymbolTable, where: str) -> sp.Expr:
    """Parse `text` with every identifier resolved through `table`."""
    tokens = _tokens(text, where)
    bound: dict[str, Any] = {}
    out: list[tuple[int, str]] = []
    for i, tok in enumerate(tokens):
        if tok.type in (tokenize.NAME, tokenize.NUMBER):
            key = f"_ct_{len(bound)}"
            following = tokens[i + 1].string if i + 1 < len(tokens) else ""
            if tok.type == tokenize.NUMBER:
                bound[key] = literal(tok.string, where)
            elif following == "(" and tok.string in FUNCTIONS:
                bound[key] = tok.string
            elif tok.string == "pi" and table.declared("pi") is None:
                bound[key] = Term(sp.pi, math.pi)
            else:
                bound[key] = table.term(tok.string, where)
            out.append((tokenize.NAME, key))
        elif tok.type == tokenize.OP and tok.string in _OPERATORS:
            out.append((tok.type, "**" if tok.string == "^" else tok.string))
        else:
            raise ValueError(f"syntax error in {where}: unexpected {tok.string!r}")
    if not out:
        raise ValueError(f"syntax error in {where}: empty expression")
    expr = build(tokenize.untokenize(out), bound, where)
    if not isinstance(expr, sp.Expr):
        raise ValueError(f"{where}: expected an arithmetic expression, got {expr!r}")
    check_expression(expr, where)
    return expr


def resolve(expr: object, table: SymbolTable, where: str) -> sp.Expr:
    """An expression from text or SymPy/number input, its symbols matched by name."""
    if isinstance(expr, str):
        return parse_expression(expr, table, where)
    try:
        value = sp.sympify(expr, strict=True)  # strict: never parses strings
    except (sp.SympifyError, TypeError, ValueError):
        value = None
    if not isinstance(value, sp.Expr):
        raise ValueError(f"{where}: expected an expression, got {expr!r}")
    value = value.xreplace({s: table.lookup(s.name, where) for s in value.free_symbols
                            if isinstance(s, sp.Symbol)})
    try:
        value = value.xreplace({table.symbols[n]: sp.Float(v)
                                for n, v in table.constants.items()})
    except Exception as exc:  # SymPy evaluates numeric sub-expressions as it substitutes
        raise ValueError(f"{where}: cannot substitute the constants: {exc}") from None
    check_expression(value, where)
    return value


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
        check_expression(expr, where)
        state = table.declared(lhs[1:]) if lhs.startswith("d") else None
        if state in states:
            if state in derivatives:
                raise ValueError(f"state {state!r} has two derivatives: "
                                 f"{sources[state]!r} and {line!r}")
            derivatives[state], sources[state] = expr, line
        elif table.declared(lhs) not in (None, lhs):
            table.define(lhs)  # raises: NFKC-equal to a declared name
        elif table.declared(lhs) is not None:
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
        if table.declared(name) not in (None, name):
            table.define(name)  # raises: NFKC-equal to a declared name
        if name in out or table.declared(name) is not None:
            raise ValueError(f"observable {name!r} is declared twice or clashes with "
                             "another name")
        inline = {table.symbols[a]: e for a, e in known.items()}
        out[name] = resolve(expr, table, where).xreplace(inline)
        check_expression(out[name], where)
        table.define(name)
        known[name] = out[name]
    return out
