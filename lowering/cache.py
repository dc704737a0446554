"""On-disk cache of generated modules.

Each module is written under a hash of its source (which fixes the program,
layout, target and precision) and the package versions, then imported from
there: real file names give good tracebacks and let Numba cache compiled code
beside them, so a second process skips compilation.

The cache checks itself. A module's first line holds its key, and loading
recomputes the key from the rest of the file; a mismatch (a truncated or
edited file), a syntax or import error, or a Numba cache file beside it that
is not a complete pickle stream is reported in one warning, and the module
and its Numba cache files are removed and written again, once. A cache
directory that cannot be written is replaced, with one warning, by a
temporary directory for the rest of the process.

Loading is thread-safe: one lock per key, temporary files unique per thread
and process, and a module is shared only once it has finished executing.
Numba imports a module by name when it compiles or loads cached code for it,
so a module is in `sys.modules` while an owner (a `Lowered`) lives, and leaves
with its last owner: no registry keeps every compiled program alive.
"""

from __future__ import annotations

import atexit
import hashlib
import importlib.metadata
import importlib.util
import io
import os
import pickletools
import shutil
import sys
import tempfile
import threading
import warnings
import weakref
from pathlib import Path
from types import ModuleType

import numba
import platformdirs

ENV_VAR = "CUBIE_TRACE_CACHE_DIR"
UNKNOWN_VERSION = "unknown"  # when cubie-trace runs without being installed
STAMP = "# cubie-trace module "  # first line of a cached module, followed by its key


def package_version() -> str:
    """The installed cubie-trace version, from the package metadata."""
    try:
        return importlib.metadata.version("cubie-trace")
    except importlib.metadata.PackageNotFoundError:
        return UNKNOWN_VERSION


_VERSIONS = "\n".join([package_version(), numba.__version__, sys.version])
_LIVE: weakref.WeakValueDictionary[str, ModuleType] = weakref.WeakValueDictionary()
_LOCKS: weakref.WeakValueDictionary[str, threading.Lock] = weakref.WeakValueDictionary()
_OWNERS: dict[str, int] = {}  # module name -> live owners, while in sys.modules
_GUARD = threading.RLock()  # for _LOCKS, _OWNERS and _FALLBACK; re-entered by finalizers
_FALLBACK: dict[str, Path] = {}  # unwritable cache directory -> this process's stand-in


class CorruptEntry(Exception):
    """A cached module, or Numba's cache beside it, that cannot be trusted."""


def configured_dir() -> Path:
    """$CUBIE_TRACE_CACHE_DIR, else the user cache dir."""
    return Path(os.environ.get(ENV_VAR) or platformdirs.user_cache_dir("cubie-trace"))


def cache_dir() -> Path:
    """Where generated modules live: the configured directory, or this process's
    temporary stand-in once that turned out to be unwritable."""
    root = configured_dir()
    with _GUARD:
        if str(root) in _FALLBACK:
            return _FALLBACK[str(root)]
    try:
        root.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=root, suffix=".probe")
        os.close(fd)
        os.unlink(probe)
        return root
    except OSError as exc:
        return _fall_back(root, exc)


def _fall_back(root: Path, exc: OSError) -> Path:
    with _GUARD:
        if str(root) not in _FALLBACK:
            _FALLBACK[str(root)] = Path(tempfile.mkdtemp(prefix="cubie-trace-"))
            atexit.register(shutil.rmtree, _FALLBACK[str(root)], ignore_errors=True)
            warnings.warn(f"cubie-trace: cache directory {str(root)!r} is not writable "
                          f"({exc.strerror or exc}); using {str(_FALLBACK[str(root)])!r} "
                          f"for this process", RuntimeWarning, stacklevel=3)
        return _FALLBACK[str(root)]


def module_key(source: str) -> str:
    """The hash naming a module: its source and the versions that compile it."""
    text = "\n".join([source, _VERSIONS])
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def load(source: str, owner: object) -> ModuleType:
    """The module of `source`: from this process if alive, else from the cache (written
    there first if absent or corrupt) and imported. It stays importable by name (for
    Numba) while `owner` or another owner of it lives."""
    key = module_key(source)
    with _lock(key):
        module = _LIVE.get(key)
        if module is None:
            module = _load_checked(key, source)
            _LIVE[key] = module
    with _GUARD:
        _OWNERS[module.__name__] = _OWNERS.get(module.__name__, 0) + 1
        sys.modules[module.__name__] = module
    weakref.finalize(owner, _release, module.__name__)
    return module


def _release(name: str) -> None:
    with _GUARD:
        _OWNERS[name] -= 1
        if not _OWNERS[name]:
            del _OWNERS[name]
            sys.modules.pop(name, None)


def _lock(key: str) -> threading.Lock:
    with _GUARD:
        lock = _LOCKS.get(key)
        if lock is None:
            lock = _LOCKS[key] = threading.Lock()
        return lock


def _load_checked(key: str, source: str) -> ModuleType:
    text = f"{STAMP}{key}\n{source}"
    path = cache_dir() / f"ct_{key}.py"
    if not path.exists():
        path = _write(path, text)
    try:
        return _import(key, path)
    except Exception as exc:  # any failure of a cached module is the cache's to repair
        reason = (str(exc).splitlines() or [""])[0]
        warnings.warn(f"cubie-trace: rebuilding cached module {str(path)!r} "
                      f"({type(exc).__name__}: {reason})", RuntimeWarning, stacklevel=4)
    remove(path)
    return _import(key, _write(path, text))


def _write(path: Path, text: str) -> Path:
    """Write `text` to `path` atomically (the fallback directory's if `path`'s refuses)."""
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f"{path.stem}.", suffix=".tmp")
    except OSError as exc:
        path = _fall_back(path.parent, exc) / path.name
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f"{path.stem}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)
    return path


def _import(key: str, path: Path) -> ModuleType:
    """Execute the module at `path` after checking it and Numba's cache beside it."""
    text = path.read_text(encoding="utf-8")
    stamp, _, source = text.partition("\n")
    if stamp != f"{STAMP}{key}" or module_key(source) != key:
        raise CorruptEntry("its text does not match its key (truncated or changed)")
    for numba_file in numba_files(path):
        if not _complete_pickles(numba_file):
            raise CorruptEntry(f"Numba cache file {numba_file.name} is damaged")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    exec(compile(text, str(path), "exec"), module.__dict__)  # the text just checked
    return module


def numba_files(path: Path) -> list[Path]:
    """Numba's cache files (index and data) for the functions of the module at `path`."""
    return sorted((path.parent / "__pycache__").glob(f"{path.stem}.*.nb[ic]"))


def _complete_pickles(path: Path) -> bool:
    """Whether the file is whole pickle streams and nothing else: an index is two
    (Numba's version, then the overloads), a data file one. Read, never executed."""
    try:
        stream = io.BytesIO(path.read_bytes())
        for _ in range(2 if path.suffix == ".nbi" else 1):
            for _ in pickletools.genops(stream):
                pass
    except (OSError, ValueError, EOFError):
        return False
    return stream.read(1) == b""


def remove(path: Path) -> None:
    """Delete a cached module and Numba's cache files for it."""
    for file in (path, *numba_files(path)):
        file.unlink(missing_ok=True)
