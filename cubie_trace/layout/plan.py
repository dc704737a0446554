"""`ct.plan`: liveness, storage groups, locations and offsets for a program."""

from __future__ import annotations

from collections.abc import Mapping

import attrs
import numpy as np

from cubie_trace.core.program import Program
from cubie_trace.core.values import Lit, Var
from cubie_trace.layout.groups import Group, Groups, overlaps
from cubie_trace.layout.layout import Layout, Placement
from cubie_trace.layout.liveness import Liveness, liveness
from cubie_trace.layout.planners import Block, Planner, best_fit, lower_bound, reserved
from cubie_trace.layout.policy import assign_locations, resolve_pins

SHARED_BYTES_PER_BLOCK = 48 * 1024


def plan(program: Program, policy: str = "local", shared_budget_bytes: int | None = None,
         pin: Mapping[str, str] | None = None, threads_per_block: int = 128,
         precision: str = "float64", planner: Planner = best_fit,
         reuse_outputs: bool = True, scratch_in_outputs: bool = True) -> Layout:
    """Plan where every buffer of `program` lives.

    `policy`: "local" (the default), "shared", or "auto" (fill `shared_budget_bytes`
    per thread, by default 48 KiB shared over `threads_per_block`, with the buffers
    accessed most per byte). `pin` maps buffer names (hint names or printed names)
    to "shared" or "local" and always wins. With `reuse_outputs` the program writes its
    results in place in the caller's output arrays, and with `scratch_in_outputs` also
    uses them as scratch before writing them (a kernel whose outputs sit in GPU global
    memory turns that off).
    """
    if precision not in ("float32", "float64"):
        raise ValueError(f"precision must be 'float32' or 'float64', got {precision!r}")
    if threads_per_block < 1:
        raise ValueError(f"threads_per_block must be positive, got {threads_per_block}")
    if shared_budget_bytes is not None and shared_budget_bytes < 0:
        raise ValueError(f"shared_budget_bytes must be >= 0, got {shared_budget_bytes}")
    if policy == "auto" and shared_budget_bytes is None:
        shared_budget_bytes = SHARED_BYTES_PER_BLOCK // threads_per_block
    live = liveness(program)
    groups = Groups(live, reuse_outputs)
    pinned = resolve_pins(program, groups, pin)
    everything = groups.groups()
    offsets: dict[int, int] = {}
    if reuse_outputs and scratch_in_outputs:
        _pack_into_outputs(everything, pinned, offsets)
    pool_groups = [g for g in everything if g.kind == "pool"]
    where = assign_locations(pool_groups, pinned, policy, shared_budget_bytes, live.accesses,
                             planner, precision, program.names)
    for g in everything:
        if g.kind == "persistent":
            where[id(g)] = "persistent"
    pools: dict[tuple[str, str], int] = {}
    bounds: dict[tuple[str, str], int] = {}
    curves: dict[tuple[str, str], np.ndarray] = {}
    number = {id(g): k for k, g in enumerate(everything)}  # block keys independent of ids
    for region in sorted({(where[id(g)], g.dtype) for g in everything if id(g) in where}):
        members = [g for g in everything if where.get(id(g)) == region[0]
                   and g.dtype == region[1]]
        blocks = [Block(number[id(g)], g.size, *g.hull) for g in members]
        placed = planner(blocks)
        offsets.update({id(g): placed[number[id(g)]] for g in members})
        pools[region] = max((placed[b.key] + b.size for b in blocks), default=0)
        bounds[region] = lower_bound(blocks)
        curves[region] = reserved(blocks, live.length)
    placements = _placements(live, groups, where, offsets, program, number)
    return Layout(program, placements, pools, bounds, set(live.in_place), live.length,
                  precision, policy, frozenset(live.inlined), curves)


def _pack_into_outputs(groups: list[Group], pinned: dict[int, str],
                       offsets: dict[int, int]) -> None:
    """Place unpinned scratch in the caller's output arrays while those are not yet written,
    largest first, at the lowest offset that fits."""
    outputs = [g for g in groups if g.kind == "output"]
    placed: dict[int, list[tuple[tuple[int, int], int, int]]] = {
        id(o): [(o.hull, 0, o.size)] for o in outputs}
    for o in outputs:
        offsets[id(o)] = 0
    movable = sorted((g for g in groups if g.kind == "pool" and id(g) not in pinned),
                     key=lambda g: (-g.size, g.hull))
    for group in movable:
        for out in outputs:
            if out.dtype != group.dtype or group.size > out.size:
                continue
            taken = placed[id(out)]
            for offset in sorted({0, *(o + s for _, o, s in taken)}):
                if offset + group.size <= out.size and all(
                        not overlaps(span, group.hull) or offset + group.size <= o
                        or o + s <= offset for span, o, s in taken):
                    taken.append((group.hull, offset, group.size))
                    group.kind, group.index = "output", out.index
                    offsets[id(group)] = offset
                    break
            if group.kind == "output":
                break


def _placements(live: Liveness, groups: Groups, where: dict[int, str], offsets: dict[int, int],
                program: Program, number: dict[int, int]) -> dict[Var, Placement]:
    names = program.names
    out: dict[Var, Placement] = {}

    def resolve(var: Var) -> Placement:
        if var in out:
            return out[var]
        if var in live.views:
            eqn = live.views[var]
            base = resolve(eqn.inputs[0])  # type: ignore[arg-type]
            view = eqn.primitive.view(eqn)  # type: ignore[misc]
            dynamic = isinstance(view.index, Var)
            start = view.offset + (view.index.value * view.stride  # type: ignore[union-attr]
                                   if isinstance(view.index, Lit) else 0)
            placed = attrs.evolve(base, name=names[var], dtype=var.dtype,
                                  offset=base.offset + start, size=var.aval.elements,
                                  interval=live.interval[var], view_of=base.view_of or base.name,
                                  dynamic_view=dynamic or base.dynamic_view,
                                  root=base.root or base.name)
        elif var in live.bound_to:
            target = resolve(live.bound_to[var])
            placed = attrs.evolve(target, name=names[var], interval=live.interval[var],
                                  root=target.root or target.name)
        else:
            g = groups.of[var]
            placed = Placement(names[var], where.get(id(g), g.kind), var.dtype,
                               offsets.get(id(g), 0) if g.kind != "input" else 0,
                               var.aval.elements, live.interval[var], number[id(g)],
                               g.index if g.kind in ("input", "output") else None)
        out[var] = placed
        return placed

    for var in live.materialised():
        resolve(var)
    return out
