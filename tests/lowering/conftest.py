"""Lowering tests write generated modules (and Numba's cache) to a temporary directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lowering.cache import ENV_VAR


@pytest.fixture(scope="session", autouse=True)
def module_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """$CUBIE_TRACE_CACHE_DIR for this session (subprocesses inherit it)."""
    path = tmp_path_factory.mktemp("cubie_trace_cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(ENV_VAR, str(path))
        yield path
