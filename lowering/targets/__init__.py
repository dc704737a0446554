"""Targets: where a lowered program runs (a CUDA GPU or the simulator, or the CPU)."""

from __future__ import annotations

from lowering.targets import cpu, cuda

TARGETS = {"cpu": cpu, "cuda": cuda}


def get_target(name: str):  # noqa: ANN201
    """The target module for `name` ("cpu" or "cuda")."""
    if name not in TARGETS:
        raise ValueError(f"target must be one of {sorted(TARGETS)}, got {name!r}")
    return TARGETS[name]


def default_target() -> str:
    """"cuda" when a real GPU is present, else "cpu" (the simulator is chosen explicitly,
    with target="cuda" under NUMBA_ENABLE_CUDASIM=1, never by default)."""
    from lowering.memory import simulator_enabled

    if simulator_enabled():
        return "cpu"
    try:
        from numba import cuda

        return "cuda" if cuda.is_available() else "cpu"
    except Exception:
        return "cpu"


def runnable(name: str) -> bool:
    """Whether this process can run code lowered for target `name`: the CPU always, CUDA
    with a GPU or under the simulator."""
    from lowering.memory import simulator_enabled

    get_target(name)
    return name == "cpu" or simulator_enabled() or default_target() == "cuda"
