"""Integrators and solvers are written against the core alone: no module of
cubie_trace/integrators or cubie_trace/solvers imports the layout pass, the batch API,
the solution, the command line or the lowering (choices that need a plan are the
Solver's)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("cubie_trace/integrators", "cubie_trace/solvers")
FORBIDDEN = ("cubie_trace.layout", "cubie_trace.solve", "cubie_trace.solution",
             "cubie_trace.cli", "lowering")


def imported(source: str) -> list[str]:
    """Every module an import statement names, at any depth (function-local too); a
    `from package import name` also names `package.name`."""
    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def forbidden(name: str) -> bool:
    return any(name == f or name.startswith(f + ".") for f in FORBIDDEN)


def test_integrators_and_solvers_import_no_layout() -> None:
    files = [p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))]
    assert any(p.name == "loop.py" for p in files)
    offenders = {p.relative_to(ROOT).as_posix(): bad for p in files
                 if (bad := [n for n in imported(p.read_text()) if forbidden(n)])}
    assert not offenders, f"imports above the integrators: {offenders}"


def test_the_scan_finds_nested_and_from_imports() -> None:
    source = ("import numpy\nfrom cubie_trace import layout\n"
              "def f():\n    from cubie_trace.layout.plan import plan\n")
    assert [n for n in imported(source) if forbidden(n)] == [
        "cubie_trace.layout", "cubie_trace.layout.plan", "cubie_trace.layout.plan.plan"]
    assert not forbidden("cubie_trace.solvers.newton") and not forbidden("lowering_tools")
