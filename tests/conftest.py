"""Test configuration: hypothesis profiles and the `gpu` marker.

`-m slow` selects the thorough property runs; `cubie_trace.testing.examples`
reads the profile chosen here to size each property test.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("ci", deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])


def pytest_configure(config: pytest.Config) -> None:
    thorough = "slow" in (config.getoption("markexpr") or "").replace("not slow", "")
    os.environ["CUBIE_TRACE_THOROUGH"] = "1" if thorough else "0"
    settings.load_profile("thorough" if thorough else "ci")


def _has_gpu() -> bool:
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        return False
    try:
        from numba import cuda

        return bool(cuda.is_available())
    except Exception:
        return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if any("gpu" in item.keywords for item in items) and not _has_gpu():
        skip = pytest.mark.skip(reason="needs a CUDA GPU")
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(skip)
