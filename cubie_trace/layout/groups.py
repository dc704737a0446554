"""Storage groups: buffers that occupy one storage.

Bindings (views, sub-program inputs) force buffers into their target's
group. Then pairs that would otherwise need a copy are coalesced when their
lifetimes allow: a loop's initial value and body result into its carry slot,
a branch's or child's result into the equation's result, the new carried
state into the old, each output of the program into the caller's output
storage, and an operand into the result of the in-place equation where it
dies. A group is `external` (a caller's input or output array), `persistent`
(carried state) or `pool` (placed later in shared or local memory).
"""

from __future__ import annotations

import attrs

from cubie_trace.core.program import Program
from cubie_trace.core.values import Var
from cubie_trace.layout.liveness import Liveness


@attrs.define(eq=False)
class Group:
    """Buffers sharing one storage, with their own intervals and loop reservations."""

    members: list[Var]
    intervals: dict[Var, tuple[int, int]]
    reserved: list[tuple[int, int]] = attrs.field(factory=list)
    kind: str = "pool"  # "pool", "persistent", "input", "output"
    index: int | None = None  # which input/output array, for external groups

    @property
    def size(self) -> int:
        return max(v.aval.elements for v in self.members if v.shape) if self.members else 0

    @property
    def dtype(self) -> str:
        return self.members[0].dtype

    @property
    def hull(self) -> tuple[int, int]:
        spans = [*self.intervals.values(), *self.reserved]
        return min(s for s, _ in spans), max(e for _, e in spans)

    @property
    def external(self) -> bool:
        return self.kind in ("input", "output")


def overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


class Groups:
    """Union of buffers into storage groups for one program."""

    def __init__(self, live: Liveness, reuse_outputs: bool) -> None:
        self.live = live
        self.of: dict[Var, Group] = {}
        program = live.program
        for var in live.materialised():
            if var not in live.bound_to:
                self.of[var] = Group([var], {var: live.interval[var]},
                                     list(live.reserved.get(var, ())))
        for var in live.materialised():
            if var in live.bound_to:
                self._attach(var)
        carried_inputs = {c.input for c in program.carried}
        for k, var in enumerate(program.inputs):
            if var in self.of:
                group = self.of[var]
                if var in carried_inputs:
                    group.kind = "persistent"
                    group.reserved.append((0, live.length))
                else:
                    group.kind, group.index = "input", k
        self._coalesce(program, reuse_outputs)

    def _root(self, var: Var) -> Var:
        while var in self.live.bound_to:
            var = self.live.bound_to[var]
        return var

    def _attach(self, var: Var) -> None:
        group = self.of[self._root(var)]
        group.members.append(var)
        group.intervals[var] = self.live.interval[var]
        group.reserved.extend(self.live.reserved.get(var, ()))
        self.of[var] = group

    def groups(self) -> list[Group]:
        seen: dict[int, Group] = {}
        for g in self.of.values():
            seen.setdefault(id(g), g)
        return list(seen.values())

    def conflict(self, a: Group, b: Group, reservations: bool = True) -> bool:
        """Whether two groups' buffers are ever live at once (in-place pairs excepted),
        or one's buffers fall in the other's reservations."""
        for x, ix in a.intervals.items():
            for y, iy in b.intervals.items():
                if overlaps(ix, iy) and not self._touching_in_place(x, ix, y, iy):
                    return True
        if not reservations:
            return False
        return any(overlaps(r, i) for r in a.reserved for i in b.intervals.values()) or \
            any(overlaps(r, i) for r in b.reserved for i in a.intervals.values())

    def _touching_in_place(self, x: Var, ix: tuple[int, int], y: Var,
                           iy: tuple[int, int]) -> bool:
        pairs = self.live.in_place
        return ((x, y) in pairs and ix[1] == iy[0]) or ((y, x) in pairs and iy[1] == ix[0])

    def merge(self, a: Var, b: Var, structural: bool = False) -> bool:
        """Put the groups of `a` and `b` together if their kinds and lifetimes allow.
        A structural merge (a value into the slot that is its own home: a loop carry, the
        carried state) ignores the slot's reservations."""
        if a not in self.of or b not in self.of:
            return False
        ga, gb = self.of[a], self.of[b]
        if ga is gb:
            return True
        if ga.size != gb.size or ga.dtype != gb.dtype or "input" in (ga.kind, gb.kind):
            return False
        special = [g for g in (ga, gb) if g.kind != "pool"]
        if len(special) == 2 or self.conflict(ga, gb, reservations=not structural):
            return False
        keep, drop = (ga, gb) if ga.kind != "pool" or gb.kind == "pool" else (gb, ga)
        for v in drop.members:
            keep.members.append(v)
            keep.intervals[v] = drop.intervals[v]
            self.of[v] = keep
        keep.reserved.extend(r for r in drop.reserved if r not in keep.reserved)
        return True

    def _coalesce(self, program: Program, reuse_outputs: bool) -> None:
        for _, eqn in program.walk():
            if eqn.is_loop:
                body = eqn.primitive.control.body(eqn)  # type: ignore[union-attr]
                for init, body_out, slot in zip(eqn.carries(), body.outputs, eqn.outputs):
                    if isinstance(init, Var):
                        self.merge(init, slot, structural=True)
                    if isinstance(body_out, Var):
                        self.merge(body_out, slot, structural=True)
            else:
                for sub in eqn.sub_programs:
                    for inner, outer in zip(sub.outputs, eqn.outputs):
                        if isinstance(inner, Var):
                            self.merge(inner, outer)
        for c in program.carried:
            if isinstance(c.output, Var):
                self.merge(c.output, c.input, structural=True)
        if reuse_outputs:
            carried = {c.output for c in program.carried}  # their home is persistent
            for k, out in enumerate(program.outputs):
                # a view (bound to its base) is copied into its output array, not stored there
                if isinstance(out, Var) and out in self.of and self.of[out].kind == "pool" \
                        and out not in carried and out not in self.live.bound_to:
                    self.of[out].kind, self.of[out].index = "output", k
        order = {v: k for k, v in enumerate(self.live.interval)}  # not ids: deterministic
        for a, b in sorted(self.live.in_place, key=lambda p: (
                self.live.interval[p[1]], order[p[1]], order[p[0]])):
            self.merge(a, b)
