"""Generated modules are cached on disk under a hash of their source: lowering the same
program and layout again gives the same module, and a second process imports the cached
module and loads Numba's cached machine code instead of compiling. A damaged entry (the
module or Numba's files beside it) is found, reported and rebuilt; an unwritable cache
directory is replaced by a temporary one."""

from __future__ import annotations

import ast
import gc
import json
import os
import shutil
import subprocess
import sys
import weakref
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import cubie_trace as ct
from cubie_trace.layout import plan
from lowering import cache, lower
from lowering.cache import ENV_VAR
from tests.lowering.programs import program

ROOT = Path(__file__).resolve().parents[2]


def test_lowering_twice_gives_the_same_module() -> None:
    prog = program("swap")
    layout = plan(prog)
    first = lower(prog, layout, target="cpu")
    again = lower(prog, layout, target="cpu")
    assert again.path == first.path and again.module is first.module
    retraced = program("swap")  # a new trace of the same function: the same source
    assert lower(retraced, plan(retraced), target="cpu").path == first.path
    assert Path(first.path).parent == Path(os.environ[ENV_VAR])
    others = {lower(prog, layout, target="cpu", precision="float32").path,
              lower(prog, layout, target="cuda").path,
              lower(prog, plan(prog, policy="shared"), target="cpu").path,
              lower(prog, layout, target="cpu", instrument=True).path}
    assert first.path not in others and len(others) == 4


def run_script(cache: Path, name: str) -> dict[str, Any]:
    env = {**os.environ, ENV_VAR: str(cache)}
    env.pop("NUMBA_ENABLE_CUDASIM", None)
    proc = subprocess.run([sys.executable, "-m", "tests.lowering.cache_script", name],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-6000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_second_process_loads_numba_cache(tmp_path: Path) -> None:
    first = run_script(tmp_path, "heun_fsal")
    module = Path(first["path"])
    assert module.parent == tmp_path
    written = module.stat().st_mtime_ns
    cached = sorted(p.name for p in (module.parent / "__pycache__").iterdir())
    stem = module.stem
    assert any(n.startswith(f"{stem}.kernel") and n.endswith(".nbi") for n in cached), cached
    assert any(n.startswith(f"{stem}.kernel") and n.endswith(".nbc") for n in cached), cached
    assert first["kernel"] == {"hits": 0, "misses": 1}

    second = run_script(tmp_path, "heun_fsal")
    assert second["path"] == first["path"]
    assert module.stat().st_mtime_ns == written  # imported, not written again
    assert second["kernel"]["hits"] > 0 and second["kernel"]["misses"] == 0
    # measured, not asserted: the first call compiles, the second loads the cache
    print(f"\nfirst call {first['first_call_s']:.2f} s (compiles), "
          f"second process {second['first_call_s']:.2f} s (Numba cache)")


# --- the cache checks itself ------------------------------------------------------------


def affine(scale: float) -> ct.Program:
    """A program of its own for each `scale`: a new source, so a new cache entry."""
    return ct.trace(lambda x: x * scale + 1.0, ct.buffer(3), name="affine")


def lower_unused(prog: ct.Program) -> str:
    """Lower `prog` without running it and let the module go: returns its path."""
    low = lower(prog, plan(prog), target="cpu")
    path, module = low.path, weakref.ref(low.module)
    del low
    gc.collect()
    assert module() is None  # nothing compiled, so nothing but the Lowered held it
    return path


def check_affine(low: Any, scale: float) -> None:
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(low.run(x), x * scale + 1.0)


def truncate_lines(text: str) -> str:
    """The longest proper prefix of whole lines that is still valid Python."""
    lines = text.splitlines(keepends=True)
    for k in range(len(lines) - 1, 0, -1):
        prefix = "".join(lines[:k])
        if prefix.strip() != text.strip():
            try:
                ast.parse(prefix)
            except SyntaxError:
                continue
            return prefix
    raise AssertionError("no valid prefix")


def ours(caught: Any) -> list[str]:
    return [str(w.message) for w in caught if str(w.message).startswith("cubie-trace:")]


CORRUPTIONS = {
    "truncated at a line": truncate_lines,
    "truncated mid-line": lambda text: text[: len(text) * 2 // 3 + 3],
    "empty": lambda text: "",
    "edited": lambda text: text.replace("1.0", "2.0"),
}


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_a_corrupt_module_is_rebuilt(corruption: str, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    scale = 3.0 + sorted(CORRUPTIONS).index(corruption)
    path = Path(lower_unused(affine(scale)))
    good = path.read_text()
    path.write_text(CORRUPTIONS[corruption](good))
    prog = affine(scale)
    with pytest.warns(RuntimeWarning, match="rebuilding cached module") as caught:
        low = lower(prog, plan(prog), target="cpu")
    assert len(ours(caught)) == 1 and "\n" not in ours(caught)[0]
    assert path.read_text() == good
    check_affine(low, scale)


def test_undecodable_bytes_are_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    path = Path(lower_unused(affine(7.0)))
    path.write_bytes(b"\xff\xfe\x00garbage")
    prog = affine(7.0)
    with pytest.warns(RuntimeWarning, match="rebuilding"):
        check_affine(lower(prog, plan(prog), target="cpu"), 7.0)


def test_a_module_failing_at_import_is_rebuilt_once_and_not_registered(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    source = "raise RuntimeError('generated code that fails')\n"
    name = f"ct_{cache.module_key(source)}"
    with pytest.warns(RuntimeWarning, match="rebuilding") as caught, \
            pytest.raises(RuntimeError, match="generated code that fails"):
        cache.load(source, owner=object())
    assert len(ours(caught)) == 1  # rebuilt once, then the error is the caller's
    assert name not in sys.modules


def test_an_unwritable_cache_directory_falls_back(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")  # a directory below a regular file cannot exist, even for root
    monkeypatch.setenv(ENV_VAR, str(blocker / "cache"))
    prog = affine(11.0)
    with pytest.warns(RuntimeWarning, match="not writable") as caught:
        low = lower(prog, plan(prog), target="cpu")
        again = affine(12.0)
        other = lower(again, plan(again), target="cpu")
    assert len(ours(caught)) == 1  # one warning per process and directory
    assert Path(low.path).parent == Path(other.path).parent != blocker / "cache"
    check_affine(low, 11.0)
    check_affine(other, 12.0)


@pytest.fixture(scope="module")
def warm_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache directory holding a module and Numba's machine code for it."""
    path = tmp_path_factory.mktemp("warm")
    run_script(path, "heun_fsal")
    return path


@pytest.mark.parametrize("suffix", [".nbi", ".nbc"])
def test_a_corrupt_numba_cache_file_is_rebuilt(suffix: str, warm_cache: Path,
                                               tmp_path: Path) -> None:
    """Numba raises (an UnpicklingError or EOFError) at the first call when its index or
    data file is cut short; the cache finds that when loading and rebuilds the entry."""
    cache_copy = tmp_path / "cache"
    shutil.copytree(warm_cache, cache_copy)
    damaged = sorted((cache_copy / "__pycache__").glob(f"*.kernel*{suffix}"))
    assert damaged
    for file in damaged:
        file.write_bytes(file.read_bytes()[: file.stat().st_size // 2])
    env = {**os.environ, ENV_VAR: str(cache_copy)}
    env.pop("NUMBA_ENABLE_CUDASIM", None)
    proc = subprocess.run([sys.executable, "-m", "tests.lowering.cache_script", "heun_fsal"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-6000:]  # the script checks the results
    assert "rebuilding cached module" in proc.stderr and "is damaged" in proc.stderr
    rebuilt = json.loads(proc.stdout.strip().splitlines()[-1])
    assert rebuilt["kernel"] == {"hits": 0, "misses": 1}
    assert run_script(cache_copy, "heun_fsal")["kernel"]["misses"] == 0  # whole again
