"""Layout quality: planned per-thread elements against the lower bound (BENCHMARKS.md 1).

For random programs from `cubie_trace.testing.random_programs` (drawn with hypothesis,
deterministically): the ratio of each pool's planned size to its lower bound (the most
elements live at once), mean and worst, and for pools of at most 8 blocks the ratio of
best fit to the exact planner. For every registered method and hand-written Heun and
classical RK4, on Lorenz (n = 3) and a 16-state linear chain, float64: shared + local +
persistent elements of the step and of the whole integration loop, against the bound.

    python benchmarks/layout_quality.py [--programs N] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed

import cubie_trace as ct
from cubie_trace.core.program import Program
from cubie_trace.layout import Layout, plan
from cubie_trace.layout.planners import Block, Planner, best_fit, exact, peak
from cubie_trace.systems.library import linear_chain, lorenz
from cubie_trace.testing import random_programs

DEFAULT_OUT = Path(__file__).parent / "results" / "layout_quality.json"


@ct.step(order=2, error_order=1, name="heun (hand-written)")
def heun(f: Any, t: Any, dt: Any, y: Any, state: dict) -> Any:
    k1 = f(t, y)
    k2 = f(t + dt, y + dt * k1)
    return y + dt / 2 * (k1 + k2), dt / 2 * (k2 - k1), state, ct.OK


@ct.step(order=4, name="rk4 (hand-written)")
def rk4(f: Any, t: Any, dt: Any, y: Any, state: dict) -> Any:
    k1 = f(t, y)
    k2 = f(t + dt / 2, y + dt / 2 * k1)
    k3 = f(t + dt / 2, y + dt / 2 * k2)
    k4 = f(t + dt, y + dt * k3)
    return y + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4), None, state, ct.OK


def draw_programs(count: int, seed: int) -> list[Program]:
    """`count` random programs, the same ones for the same seed."""
    drawn: list[Program] = []

    @hypothesis_seed(seed)
    @settings(max_examples=count, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(random_programs())
    def collect(program: Program) -> None:
        drawn.append(program)

    collect()
    return drawn[:count]


def live_bound(layout: Layout, region: tuple[str, str]) -> int:
    """Most elements of distinct storages live at one position, from the buffers' own
    live intervals: unlike `lower_bounds`, it ignores the idle gaps and loop reservations
    of storage that several buffers share, so it is a bound for any grouping."""
    size: dict[int, int] = {}
    spans: dict[int, list[tuple[int, int]]] = {}
    for p in layout.placements.values():
        if p.region == region:
            spans.setdefault(p.group, []).append(p.interval)
            if p.root is None:
                size[p.group] = max(size.get(p.group, 0), p.size)
    return max((sum(size.get(g, 0) for g, ss in spans.items() if any(a <= t <= b for a, b in ss))
                for t in range(layout.length + 1)), default=0)


def recording(calls: list[list[Block]]) -> Planner:
    def planner(blocks: Any) -> dict[int, int]:
        calls.append(list(blocks))
        return best_fit(blocks)

    return planner


def random_program_quality(programs: list[Program]) -> list[dict[str, Any]]:
    """Per configuration: planned / lower bound over pools, best fit / exact on small pools."""
    rows = []
    for policy, reuse in (("local", True), ("local", False), ("auto", True)):
        ratios, live, gaps, pools = [], [], [], 0
        for program in programs:
            calls: list[list[Block]] = []
            layout = plan(program, policy=policy, reuse_outputs=reuse, planner=recording(calls))
            for region, size in layout.pools.items():
                pools += 1
                bound = layout.lower_bounds[region]
                if bound:
                    ratios.append(size / bound)
                    live.append(size / live_bound(layout, region))
            for blocks in calls:
                if 0 < len(blocks) <= 8:
                    gaps.append(peak(blocks, best_fit(blocks)) / peak(blocks, exact(blocks)))
        rows.append({"policy": policy, "reuse_outputs": reuse, "programs": len(programs),
                     "pools": pools, "mean_ratio": statistics.fmean(ratios or [1.0]),
                     "worst_ratio": max(ratios or [1.0]),
                     "above_bound": sum(r > 1 for r in ratios),
                     "mean_ratio_live": statistics.fmean(live or [1.0]),
                     "worst_ratio_live": max(live or [1.0]),
                     "small_pools": len(gaps), "mean_best_fit_over_exact":
                         statistics.fmean(gaps or [1.0]), "worst_best_fit_over_exact":
                         max(gaps or [1.0])})
    return rows


def footprint(layout: Layout) -> dict[str, int]:
    bound = layout.lower_bound
    return {"shared": layout.shared_elements, "local": layout.local_elements,
            "persistent": layout.persistent_elements, "total": layout.total_elements,
            "lower_bound": sum(bound.values()),
            "live_bound": sum(live_bound(layout, region) for region in layout.pools)}


def loop_layout(system: Any, step: Any) -> Layout | None:
    """The whole integration loop's layout (as `ct.Solver` plans it), or None if the
    loop cannot be built here."""
    try:
        from cubie_trace.integrators.controllers import Controller
        from cubie_trace.integrators.loop import LoopSpec, build_loop

        controller = Controller("pi" if step.adaptive else "fixed")
        program = build_loop(system, LoopSpec(step, controller, 2))
        try:
            return plan(program, scratch_in_outputs=False)  # type: ignore[call-arg]
        except TypeError:
            return plan(program)
    except Exception as err:  # noqa: BLE001 - the loop is work in progress elsewhere
        print(f"  (no loop layout for {step.name}: {type(err).__name__}: {err})")
        return None


def step_quality() -> list[dict[str, Any]]:
    rows = []
    systems = [lorenz(), linear_chain(16)]
    for system in systems:
        for method in [*ct.methods(), heun, rk4]:
            step = ct.core.step.get_method(method, system)
            layout = plan(ct.trace(step, system=system))
            layout.verify()
            row = {"system": system.name, "n": system.n_states,
                   "method": method if isinstance(method, str) else step.name,
                   "step": footprint(layout)}
            whole = loop_layout(system, step)
            if whole is not None:
                whole.verify()
                row["loop"] = footprint(whole)
            rows.append(row)
    return rows


def print_tables(quality: list[dict[str, Any]], steps: list[dict[str, Any]]) -> None:
    print("Random programs: planned pool size / lower bound (of the storage groups; "
          "'live': of the buffers' own intervals)")
    print(f"{'policy':<7} {'outputs':<8} {'programs':>8} {'pools':>6} {'mean':>7} {'worst':>7}"
          f" {'>bound':>7} {'live mean':>9} {'worst':>7} {'bf/exact mean':>14} {'worst':>7}")
    for r in quality:
        print(f"{r['policy']:<7} {'reused' if r['reuse_outputs'] else 'kept':<8} "
              f"{r['programs']:>8} {r['pools']:>6} {r['mean_ratio']:>7.4f} "
              f"{r['worst_ratio']:>7.3f} {r['above_bound']:>7} "
              f"{r['mean_ratio_live']:>9.4f} {r['worst_ratio_live']:>7.3f} "
              f"{r['mean_best_fit_over_exact']:>14.4f} {r['worst_best_fit_over_exact']:>7.3f}")
    print()
    print("Steps (and whole loops), float64: per-thread elements")
    print(f"{'system':<14} {'method':<22} {'shared':>6} {'local':>6} {'persist':>7} "
          f"{'total':>6} {'bound':>6} {'live':>5}   {'loop total':>10} {'bound':>6} {'live':>5}")
    for r in steps:
        s, loop = r["step"], r.get("loop")
        tail = f"{loop['total']:>10} {loop['lower_bound']:>6} {loop['live_bound']:>5}" \
            if loop else f"{'n/a':>10}"
        print(f"{r['system']:<14} {r['method']:<22} {s['shared']:>6} {s['local']:>6} "
              f"{s['persistent']:>7} {s['total']:>6} {s['lower_bound']:>6} "
              f"{s['live_bound']:>5}   {tail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--programs", type=int, default=200,
                        help="random programs to plan (default 200)")
    parser.add_argument("--seed", type=int, default=0, help="seed for the random programs")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON output path")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    programs = draw_programs(args.programs, args.seed)
    quality = random_program_quality(programs)
    steps = step_quality()
    print_tables(quality, steps)
    elapsed = time.perf_counter() - started
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result = {"benchmark": "layout_quality", "precision": "float64", "seed": args.seed,
              "random_programs": quality, "steps": steps, "seconds": round(elapsed, 2)}
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {args.out} ({elapsed:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
