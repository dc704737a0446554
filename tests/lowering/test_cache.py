"""Generated modules are cached on disk under a hash of their source: lowering the same
program and layout again gives the same module, and a second process imports the cached
module and loads Numba's cached machine code instead of compiling."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from cubie_trace.layout import plan
from lowering import lower
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
