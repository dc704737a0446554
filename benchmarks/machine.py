"""What every benchmark records about where and how it ran."""

from __future__ import annotations

import datetime
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _git() -> tuple[str | None, list[str]]:
    """The commit checked out and the tracked files modified on top of it."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=HERE, capture_output=True,
                                text=True, timeout=10).stdout.strip() or None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=HERE, capture_output=True, text=True,
                               timeout=10).stdout.split("\n")
        return commit, sorted(line[3:] for line in dirty if line.strip())
    except (OSError, subprocess.SubprocessError):
        return None, []


def _threading_layer() -> str | None:
    import numba

    try:
        return numba.threading_layer()
    except ValueError:  # no parallel function has run yet
        return None


def machine_info() -> dict[str, Any]:
    """Platform, CPU, thread counts, package versions, git commit, date and load average
    (call it when the benchmark starts)."""
    import numba

    import cubie_trace as ct

    commit, modified = _git()
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    info = {
        "platform": platform.platform(), "machine": platform.machine(), "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(), "cpu_affinity": affinity,
        "numba_threads": numba.config.NUMBA_NUM_THREADS,
        "numba_threading_layer": _threading_layer(),
        "python": sys.version.split()[0], "numpy": np.__version__, "numba": numba.__version__,
        "cubie_trace": ct.__version__, "git_commit": commit, "git_modified_files": modified,
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }
    try:
        import scipy

        info["scipy"] = scipy.__version__
    except ImportError:
        pass
    return info


def command_line() -> str:
    """The command that ran this benchmark."""
    return shlex.join(["python", *sys.argv])
