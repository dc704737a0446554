"""User text never becomes code: program, child and hint names reach generated modules
only as identifiers the back end makes or as escaped comments, and hint names that
Python would read as one identifier (NFKC-equal) are refused."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import cubie_trace as ct
from cubie_trace.layout import plan
from lowering import lower
from lowering.names import MAX_LENGTH

X = ct.buffer(3)


def double(x: ct.Program) -> ct.Program:
    return x * 2.0 + 1.0


def lowered(name: str) -> object:
    prog = ct.trace(double, X, name=name)
    return lower(prog, plan(prog), target="cpu")


def check_runs(low: object) -> None:
    x = np.arange(6.0).reshape(2, 3)
    out = low.run(x)  # type: ignore[attr-defined]
    np.testing.assert_array_equal(out, x * 2.0 + 1.0)


def test_a_docstring_payload_in_a_program_name_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    payload = f'x"""\nopen({str(marker)!r}, "w").write("ran")\n"""'
    low = lowered(payload)
    assert not marker.exists()
    source = Path(low.path).read_text()  # type: ignore[attr-defined]
    tree = ast.parse(source)
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)
             and isinstance(n.func, ast.Name) and n.func.id == "open"]
    assert not calls
    check_runs(low)
    # the cached file is safe to import in a later process, too
    subprocess.run([sys.executable, "-c", f"import runpy; runpy.run_path({low.path!r})"],
                   check=True, timeout=300)
    assert not marker.exists()


@pytest.mark.parametrize("name", ["x\u00b2", "a-b c", "r\u00e9sum\u00e9", "\u03bb\u2028x",
                                  "\r\n# x = 1", "class", "9lives", "\ud800"])
def test_names_python_refuses_still_lower(name: str) -> None:
    low = lowered(name)
    source = low.source  # type: ignore[attr-defined]
    assert source.isascii()
    functions = [n.name for n in ast.parse(source).body if isinstance(n, ast.FunctionDef)]
    assert all(f.isascii() and f.isidentifier() for f in functions), functions
    check_runs(low)


def test_a_long_program_name_is_bounded() -> None:
    low = lowered("p" * 5000)
    assert len(Path(low.path).name) < 60  # type: ignore[attr-defined]
    names = [n.name for n in ast.parse(low.source).body  # type: ignore[attr-defined]
             if isinstance(n, ast.FunctionDef)]
    assert all(len(n) <= len("program_") + MAX_LENGTH + 9 for n in names), names
    check_runs(low)


def test_distinct_names_stay_distinct_after_sanitising() -> None:
    assert lowered("a-b").device_function is not lowered("a_b").device_function  # type: ignore


def fi_program(a: str, b: str) -> ct.Program:
    def f(x: object, y: object) -> object:
        return ct.hint(x * 2.0, a) + ct.hint(y * 3.0, b)

    return ct.trace(f, ct.buffer(2), ct.buffer(2))


def test_nfkc_equal_hint_names_are_refused() -> None:
    prog = fi_program("\ufb01", "fi")  # the ligature "ﬁ" and "fi"
    with pytest.raises(ValueError, match="NFKC"):
        lower(prog, plan(prog), target="cpu")
    with pytest.raises(ValueError, match="NFKC"):
        str(prog)


def test_a_non_ascii_hint_name_lowers_to_its_own_variable() -> None:
    prog = fi_program("\ufb01", "g")
    low = lower(prog, plan(prog), target="cpu")
    x, y = np.array([[1.0, 2.0]]), np.array([[10.0, 20.0]])
    out = low.run(x, y)
    np.testing.assert_array_equal(out, 2.0 * x + 3.0 * y)
    np.testing.assert_array_equal(ct.interpret(prog, x[0], y[0]), out[0])
