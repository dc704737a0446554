"""Run lowered programs in numba's CUDA simulator and compare them with `ct.interpret`.

Run as `python -m tests.lowering.sim_script` from the repository root with
NUMBA_ENABLE_CUDASIM=1 (numba reads it on import, so this must be its own process).
Prints one JSON line: whether the simulator was on, and per case "ok" or the error.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

# (label, program, policy, runs, threads per block, instrument)
HAND_CASES = [
    ("dopri_like/local/1", "dopri_like", "local", 1, 1, False),
    ("dopri_like/shared/4", "dopri_like", "shared", 4, 2, False),
    ("heun_fsal/shared/3/instrumented", "heun_fsal", "shared", 3, 4, True),
    ("counters/local/2/instrumented", "counters", "local", 2, 1, True),
    ("counters/shared/4", "counters", "shared", 4, 4, False),
    ("stages/shared/3/instrumented", "stages", "shared", 3, 2, True),
    ("swap/auto/4", "swap", "auto", 4, 3, False),
    ("churn/shared/4", "churn", "shared", 4, 4, False),
    ("mixed/shared/3", "mixed", "shared", 3, 3, False),
    ("sdirk_like2/shared/2", "sdirk_like2", "shared", 2, 2, False),
]
N_RANDOM = 5
SEED = 20251121
LABELS = [case[0] for case in HAND_CASES] + [f"random{k}" for k in range(N_RANDOM)]


def hand_cases() -> Iterator[tuple[str, Any, Any, list, tuple, int, bool]]:
    from cubie_trace.layout import plan
    from tests.lowering.programs import program, sample_runs

    for label, name, policy, n_runs, threads, instrument in HAND_CASES:
        prog = program(name)
        layout = plan(prog, policy=policy)
        runs = sample_runs(name, n_runs, seed=len(label))
        yield label, prog, layout, runs, (True,) * len(prog.inputs), threads, instrument


def random_cases() -> Iterator[tuple[str, Any, Any, list, tuple, int, bool]]:
    """The largest of the first examples hypothesis draws with a fixed seed: programs,
    random layouts, batches of 1..4 runs, instrumented with taps every other time."""
    from hypothesis import HealthCheck, Phase, given, seed, settings
    from hypothesis import strategies as st

    from cubie_trace.testing import random_functions
    from tests.lowering.strategies import batches, random_layouts, tapped_functions

    drawn: list[tuple[int, Any, Any, list, tuple]] = []

    @seed(SEED)
    @settings(max_examples=4 * N_RANDOM, database=None, phases=[Phase.generate],
              deadline=None, suppress_health_check=list(HealthCheck))
    @given(random_functions(max_ops=6), st.data())
    def draw(fn: Any, data: st.DataObject) -> None:
        fn = data.draw(tapped_functions(fn))
        prog = fn.trace()
        layout = data.draw(random_layouts(prog))
        runs, flags = data.draw(batches(prog, n_runs=4))
        drawn.append((sum(1 for _ in prog.walk()), prog, layout, runs, flags))

    draw()
    drawn.sort(key=lambda item: -item[0])
    for k, (_, prog, layout, runs, flags) in enumerate(drawn[:N_RANDOM]):
        n_runs = 1 + k % 4
        yield f"random{k}", prog, layout, runs[:n_runs], flags, n_runs, k % 2 == 0


def main() -> None:
    from numba import config

    from lowering import lower
    from tests.lowering.strategies import check_lowered

    results: dict[str, dict[str, Any]] = {}
    for label, prog, layout, runs, flags, threads, instrument in [*hand_cases(),
                                                                  *random_cases()]:
        info: dict[str, Any] = {"shared_bytes": layout.shared_bytes, "runs": len(runs),
                                "instrument": instrument}
        try:
            layout.verify()
            low = lower(prog, layout, target="cuda", instrument=instrument, batched=flags)
            check_lowered(low, runs, flags, threads_per_block=threads)
            info["taps"] = len(low.memory.taps)
            info["launch"] = {k: low.timings.get(k) for k in ("threads_per_block", "blocks")}
            info["ok"] = True
        except Exception as error:  # reported to the test, which fails on it
            info["ok"] = False
            info["error"] = f"{type(error).__name__}: {error}"[:4000]
        results[label] = info
    print(json.dumps({"simulator": bool(config.ENABLE_CUDASIM),
                      "env": os.environ.get("NUMBA_ENABLE_CUDASIM"), "results": results}))


if __name__ == "__main__":
    main()
