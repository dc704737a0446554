"""Run a script module in numba's CUDA simulator, in its own process (numba reads
NUMBA_ENABLE_CUDASIM on import), and return the JSON it prints last."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def simulated(module: str, timeout: float = 900) -> Any:
    """The last line of `python -m module`'s output, as JSON, run with the simulator on;
    the run must succeed."""
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", module], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])
