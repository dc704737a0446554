"""No user text reaches an evaluator: every call of eval, exec, sympify, parse_expr,
Matrix (which sympifies its entries) or lambdify in the packages is on a reviewed
list, each fed only parser output or internal expressions."""

from __future__ import annotations

import ast
import collections
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("cubie_trace", "lowering")
# callables that evaluate strings (directly, or by sympifying their arguments)
EVALUATORS = {"eval", "exec", "compile", "__import__", "sympify", "S", "parse_expr",
              "Matrix", "lambdify"}
# builtins that exist as harmless methods too (re.compile)
BUILTIN_ONLY = {"eval", "exec", "compile", "__import__"}

# (file, callee) -> the most calls allowed there, and what feeds them
ALLOWED = {
    # non-string input only: strict=True refuses strings, which go to the parser
    ("cubie_trace/systems/parse.py", "sp.sympify"): 1,
    # entries already resolved by the parser or given as SymPy/numbers
    ("cubie_trace/systems/roles.py", "sp.Matrix"): 1,
    # derivatives (parsed expressions) and the system's own symbols
    ("cubie_trace/systems/functions.py", "sp.Matrix"): 2,
    # the system's symbolic outputs on dummy arguments
    ("cubie_trace/systems/ode_system.py", "sp.lambdify"): 1,
    # the system's mass matrix, already parsed
    ("cubie_trace/integrators/mass.py", "sp.Matrix"): 1,
    # a generated module's own text, checked against its key before it runs
    ("lowering/cache.py", "compile"): 1,
    ("lowering/cache.py", "exec"): 1,
}


def calls_in(source: str) -> collections.Counter:
    """Callee source -> number of evaluator calls in module `source`."""
    tree = ast.parse(source)
    aliases = {a.asname: a.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
               for a in node.names if a.asname and a.name in EVALUATORS}
    found: collections.Counter = collections.Counter()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name):
            name = aliases.get(func.id, func.id)
        elif isinstance(func, ast.Attribute) and func.attr not in BUILTIN_ONLY:
            name = func.attr
        else:
            continue
        if name in EVALUATORS:
            found[ast.unparse(func)] += 1
    return found


def test_every_evaluator_call_site_is_reviewed() -> None:
    unreviewed = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            file = path.relative_to(ROOT).as_posix()
            for callee, n in calls_in(path.read_text(encoding="utf-8")).items():
                if n > ALLOWED.get((file, callee), 0):
                    unreviewed[(file, callee)] = n
    assert not unreviewed, (
        f"new call sites of evaluators {unreviewed}: feed them parser output "
        "(cubie_trace.systems.parse) or internal expressions only, then add them to ALLOWED")


def test_the_walk_finds_aliased_and_attribute_calls() -> None:
    source = ("import re\nimport sympy\nfrom sympy import sympify as sf\n"
              "def f(s):\n    re.compile(s)\n    sf(s)\n    sympy.Matrix([s])\n"
              "    return eval(s) + sympy.S(s)\n")
    assert calls_in(source) == {"sf": 1, "sympy.Matrix": 1, "eval": 1, "sympy.S": 1}
