"""Only `lowering/memory.py` and target selection (`lowering/targets/`) know about the
CUDA simulator: no other code in cubie_trace/ or lowering/ names it (docs may)."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PATTERN = re.compile(r"ENABLE_CUDASIM|simulator", re.IGNORECASE)


def allowed(relative: str) -> bool:
    return relative == "lowering/memory.py" or relative.startswith("lowering/targets/")


def code_mentions(source: str) -> list[tuple[int, str]]:
    """(line, token) for each mention in code: names and strings, not comments or
    docstrings."""
    docs = []
    for node in ast.walk(ast.parse(source)):
        body = getattr(node, "body", None)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) \
                and body and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            docs.append((body[0].lineno, body[0].end_lineno or body[0].lineno))
    hits = []
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            continue
        if tok.type == tokenize.STRING and any(a <= tok.start[0] <= b for a, b in docs):
            continue
        if PATTERN.search(tok.string):
            hits.append((tok.start[0], tok.string))
    return hits


def scan() -> dict[str, list[tuple[int, str]]]:
    found = {}
    for package in ("cubie_trace", "lowering"):
        for path in sorted((ROOT / package).rglob("*.py")):
            mentions = code_mentions(path.read_text())
            if mentions:
                found[path.relative_to(ROOT).as_posix()] = mentions
    return found


def test_only_memory_and_targets_know_the_simulator() -> None:
    offenders = {path: hits for path, hits in scan().items() if not allowed(path)}
    assert not offenders, f"simulator-specific code outside lowering/memory.py and " \
                          f"lowering/targets/: {offenders}"


def test_the_scan_sees_code_and_skips_docs() -> None:
    found = scan()
    assert "lowering/memory.py" in found  # where the one simulator difference lives
    source = ('"""The simulator."""\n# NUMBA_ENABLE_CUDASIM\n'
              'def f():\n    """simulator"""\n    return os.environ["NUMBA_ENABLE_CUDASIM"]\n'
              'if simulator_enabled():\n    pass\n')
    assert code_mentions(source) == [(5, '"NUMBA_ENABLE_CUDASIM"'), (6, "simulator_enabled")]
