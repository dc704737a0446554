"""Location policy: which storage groups go to shared memory, which to local.

Pins (from `ct.hint(x, location=...)` in the program, then `pin=` by name,
which wins) are honoured first; a hint that cannot apply is ignored, a `pin`
that cannot raises. Policy "local" puts the rest in local memory,
"shared" in shared memory, and "auto" fills the per-thread shared budget with
the groups accessed most per byte.
"""

from __future__ import annotations

from collections.abc import Mapping

from cubie_trace.core.program import Program
from cubie_trace.core.values import Var, itemsize
from cubie_trace.layout.groups import Group, Groups
from cubie_trace.layout.planners import Block, Planner, peak

POLICIES = ("local", "shared", "auto")
LOCATIONS = ("shared", "local")


def resolve_pins(program: Program, groups: Groups, pin: Mapping[str, str] | None) -> dict[int, str]:
    """Locations pinned per group id, from the program's hints and then `pin`, which wins.

    A location hint is advice: one on a value without pool storage (a scalar, a fused
    value, a caller's array, carried state) is ignored, and of several hints on one
    storage the last in program order holds. A `pin` names buffers by scoped name
    (`Program.named`); it raises when it names none, or none it can place.
    """
    hinted: dict[int, str] = {}
    for _, eqn in program.walk():
        group = groups.of.get(eqn.inputs[0]) if eqn.primitive.name == "hint" else None
        if eqn.params.get("location") and group is not None and group.kind == "pool":
            hinted[id(group)] = eqn.params["location"]
    pinned: dict[int, str] = {}
    for name, location in dict(pin or {}).items():
        if location not in LOCATIONS:
            raise ValueError(f"pin: location of {name!r} must be one of {LOCATIONS}, "
                             f"got {location!r}")
        matched = program.named(name)
        if not matched:
            raise ValueError(f"pin: no buffer named {name!r} in program {program.name!r}; "
                             f"buffers are {sorted(program.graph.nodes)}")
        reasons = {}
        for var in matched:
            group = groups.of.get(var)
            if group is None or group.kind != "pool":
                reasons[program.names[var]] = _unplaceable(var, group, groups)
                continue
            if pinned.get(id(group), location) != location:
                raise ValueError(f"pin: {name!r} shares storage with a buffer pinned elsewhere")
            pinned[id(group)] = location
        if len(reasons) == len(matched):
            shown = "; ".join(f"{n!r} is {r}" for n, r in reasons.items())
            raise ValueError(f"pin: cannot place {name!r}: {shown}")
    return {**hinted, **pinned}


def _unplaceable(var: Var, group: Group | None, groups: Groups) -> str:
    """Why a pin cannot place `var`, which has no pool storage."""
    if group is None:
        return "a scalar (kept in registers)" if not var.is_buffer else \
            "fused into its consumer and never stored" if var in groups.live.inlined else \
            "not stored"
    return "in carried (persistent) state" if group.kind == "persistent" else \
        f"in the caller's {group.kind} array"


def _blocks(groups: list[Group]) -> list[Block]:
    return [Block(i, g.size, *g.hull) for i, g in enumerate(groups)]


def pool_bytes(groups: list[Group], planner: Planner, precision: str) -> int:
    """Bytes a set of groups needs in one location, each dtype in its own pool."""
    total = 0
    for dtype in {g.dtype for g in groups}:
        same = [g for g in groups if g.dtype == dtype]
        blocks = _blocks(same)
        total += peak(blocks, planner(blocks)) * itemsize(dtype, precision)
    return total


def assign_locations(candidates: list[Group], pinned: dict[int, str], policy: str,
                     budget: int | None, accesses: Mapping[Var, float], planner: Planner,
                     precision: str, names: Mapping[Var, str]) -> dict[int, str]:
    """Location per group id for the pool groups in `candidates`."""
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {POLICIES}, got {policy!r}")
    where = {id(g): pinned[id(g)] for g in candidates if id(g) in pinned}
    shared = [g for g in candidates if where.get(id(g)) == "shared"]
    if budget is not None and pool_bytes(shared, planner, precision) > budget:
        pinned_names = sorted(names[g.members[0]] for g in shared)
        raise ValueError(f"pin: buffers pinned to shared memory {pinned_names} need "
                         f"{pool_bytes(shared, planner, precision)} bytes per thread, more "
                         f"than shared_budget_bytes={budget}")
    free = [g for g in candidates if id(g) not in where]
    if policy == "auto":
        def gain(g: Group) -> float:
            count = sum(accesses.get(v, 0.0) for v in g.members)
            return count / (g.size * itemsize(g.dtype, precision) or 1)

        for group in sorted(free, key=gain, reverse=True):
            if budget is not None and \
                    pool_bytes([*shared, group], planner, precision) <= budget:
                shared.append(group)
                where[id(group)] = "shared"
    for group in free:
        where.setdefault(id(group), "shared" if policy == "shared" else "local")
    return where
