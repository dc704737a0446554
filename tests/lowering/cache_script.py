"""Lower a hand-written program for the CPU in a fresh process, run it and print JSON:
the module's path, timings, and Numba's on-disk cache hits and misses.

Run as `python -m tests.lowering.cache_script NAME` from the repository root.
"""

from __future__ import annotations

import json
import sys
import time


def main(name: str) -> None:
    started = time.perf_counter()
    from cubie_trace.layout import plan
    from lowering import lower
    from tests.lowering.programs import program, sample_runs
    from tests.lowering.strategies import check_lowered, stacked

    imported = time.perf_counter()
    prog = program(name)
    low = lower(prog, plan(prog), target="cpu")
    lowered = time.perf_counter()
    runs = sample_runs(name, 3)
    flags = (True,) * len(prog.inputs)
    low.run(*stacked(runs, flags))
    first_call = time.perf_counter() - lowered
    check_lowered(low, runs, flags)  # the cached code still computes the right thing

    def counts(dispatcher: object) -> dict[str, int]:
        stats = dispatcher.stats  # type: ignore[attr-defined]
        return {"hits": sum(stats.cache_hits.values()),
                "misses": sum(stats.cache_misses.values())}

    print(json.dumps({"path": low.path, "import_s": imported - started,
                      "lower_s": lowered - imported, "first_call_s": first_call,
                      "kernel": counts(low.kernel), "device": counts(low.device_function)}))


if __name__ == "__main__":
    main(sys.argv[1])
