"""Only `lowering/memory.py` and target selection (`lowering/targets/`) know about the
CUDA simulator: no other code in cubie_trace/ or lowering/ names it (docs may). The back
end imports nothing from cubie_trace but core and layout."""

from __future__ import annotations

import ast
import io
import re
import subprocess
import sys
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


def test_importing_the_back_end_loads_no_front_end() -> None:
    """`lowering` imports nothing from cubie_trace but core and layout: in a fresh
    process the batch API (cubie_trace.solve) stays unloaded."""
    code = ("import sys, lowering, lowering.cache; "
            "print(sorted(m for m in sys.modules if m.startswith('cubie_trace.') "
            "and m.split('.')[1] not in ('core', 'layout')))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, check=True)
    loaded = ast.literal_eval(proc.stdout.strip().splitlines()[-1])
    assert "cubie_trace.solve" not in loaded, loaded


def test_the_back_end_imports_only_core_and_layout() -> None:
    offenders = {}
    for path in sorted((ROOT / "lowering").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            bad = [n for n in names if n.split(".")[0] == "cubie_trace"
                   and n.split(".")[1:2] not in (["core"], ["layout"])]
            if bad:
                offenders.setdefault(path.relative_to(ROOT).as_posix(), []).extend(bad)
    assert not offenders, offenders
