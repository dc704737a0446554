"""On-disk cache of generated modules.

Each module is written under a hash of its source (which fixes the program,
layout, target and precision) and the package versions, then imported from
there: real file names give good tracebacks and let Numba cache compiled code
beside them, so a second process skips compilation.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import numba
import platformdirs

import cubie_trace

ENV_VAR = "CUBIE_TRACE_CACHE_DIR"


def cache_dir() -> Path:
    """Where generated modules live: $CUBIE_TRACE_CACHE_DIR, else the user cache dir."""
    root = os.environ.get(ENV_VAR) or platformdirs.user_cache_dir("cubie-trace")
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def module_key(source: str) -> str:
    text = "\n".join([source, cubie_trace.__version__, numba.__version__, sys.version])
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def load(source: str) -> ModuleType:
    """Write `source` to the cache (once) and import it."""
    name = f"ct_{module_key(source)}"
    if name in sys.modules:
        return sys.modules[name]
    path = cache_dir() / f"{name}.py"
    if not path.exists():
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(source)
        os.replace(tmp, path)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
