"""Liveness over the linearised program.

Every materialised buffer gets a closed interval [definition, last use] of
linear positions (see `cubie_trace.core.linear`). Fused values are not
materialised; their operands count as used where the fused consumer runs.
Sub-program inputs are bound to the storage of the operand passed in (loop
carries to the loop's carry slot); views are bound to their base. Inputs of
a loop's body and condition that are not carries (captured values) are read
on every iteration and stay live to the loop's end; a carry slot is reserved
over the whole loop.
"""

from __future__ import annotations

import attrs

from cubie_trace.core.linear import Linear
from cubie_trace.core.program import Eqn, Program
from cubie_trace.core.values import Var
from cubie_trace.layout.fusion import inlined_values


@attrs.define
class Liveness:
    """Intervals and storage bindings of a program's buffers."""

    program: Program
    linear: Linear
    inlined: dict[Var, Eqn]
    interval: dict[Var, tuple[int, int]] = attrs.field(factory=dict)
    bound_to: dict[Var, Var] = attrs.field(factory=dict)
    views: dict[Var, Eqn] = attrs.field(factory=dict)
    reserved: dict[Var, list[tuple[int, int]]] = attrs.field(factory=dict)
    in_place: set[tuple[Var, Var]] = attrs.field(factory=set)
    position: dict[Eqn, int] = attrs.field(factory=dict)
    accesses: dict[Var, float] = attrs.field(factory=dict)

    @property
    def length(self) -> int:
        return self.linear.length

    def materialised(self) -> list[Var]:
        """Buffers with storage of their own or bound to another's, in definition order."""
        return [v for v in self.interval]


def liveness(program: Program) -> Liveness:
    """Compute intervals, bindings, reservations and in-place pairs for `program`."""
    lin = program.linear
    live = Liveness(program, lin, inlined_values(program))
    producer: dict[Var, Eqn] = {}
    for _, eqn in program.walk():
        for v in eqn.outputs:
            producer[v] = eqn

    def effective(eqn: Eqn) -> Eqn:
        while eqn.outputs and eqn.outputs[0] in live.inlined:
            eqn = live.inlined[eqn.outputs[0]]
        return eqn

    for _, eqn in program.walk():
        live.position[eqn] = lin.start[effective(eqn)]
    uses: dict[Var, list[int]] = {}
    weight = _loop_weights(program, lin)
    for _, eqn in program.walk():
        if not eqn.primitive.reads:
            continue
        pos = live.position[eqn]
        for a in eqn.inputs:
            if isinstance(a, Var):
                uses.setdefault(a, []).append(pos)
                live.accesses[a] = live.accesses.get(a, 0.0) + weight.get(eqn, 1.0)
        for v in eqn.outputs:
            live.accesses[v] = live.accesses.get(v, 0.0) + weight.get(eqn, 1.0)
    for prog in [program, *(p for _, e in program.walk() for p in e.sub_programs)]:
        for a in prog.outputs:
            if isinstance(a, Var):
                uses.setdefault(a, []).append(lin.exit[prog])
    for var in program.variables():
        if var.is_buffer and var not in live.inlined:
            start = lin.defined[var]
            live.interval[var] = (start, max(uses.get(var, ()), default=start))
    _bind(program, live)
    _in_place_pairs(program, live)
    return live


def _loop_weights(program: Program, lin: Linear) -> dict[Eqn, float]:
    """Access weights: each enclosing loop multiplies by 8 (a guess at its trip count)."""
    out = {}
    for _, eqn in program.walk():
        depth = sum(1 for e in lin.enclosing(lin.parent[eqn]) if e.is_loop)
        out[eqn] = 8.0 ** depth
    return out


def _bind(program: Program, live: Liveness) -> None:
    lin = live.linear
    for _, eqn in program.walk():
        if eqn.primitive.kind == "view" and eqn.outputs[0] in live.interval:
            live.views[eqn.outputs[0]] = eqn
            if isinstance(eqn.inputs[0], Var):
                live.bound_to[eqn.outputs[0]] = eqn.inputs[0]
        for sub in eqn.sub_programs:
            for k, (outer, inner) in enumerate(zip(eqn.bindings(), sub.inputs)):
                if inner not in live.interval:
                    continue
                slot = eqn.carry_slot(k)
                if slot is not None:
                    live.bound_to[inner] = slot
                elif isinstance(outer, Var):
                    live.bound_to[inner] = outer
                    if eqn.is_loop:
                        lo, _ = live.interval[inner]
                        live.interval[inner] = (lo, lin.end[eqn])
        if eqn.is_loop:
            for slot in eqn.outputs:
                if slot in live.interval:
                    live.reserved.setdefault(slot, []).append((lin.start[eqn], lin.end[eqn]))


def _in_place_pairs(program: Program, live: Liveness) -> None:
    """(operand, result) pairs that may share storage at the equation joining them: an
    operand read for the last time by an elementwise equation (or a fused chain ending
    there) writing a result of the same shape, or the base of a row update."""
    leaves: dict[Eqn, list[Var]] = {}
    for _, eqn in program.walk():
        target = eqn
        while target.outputs and target.outputs[0] in live.inlined:
            target = live.inlined[target.outputs[0]]
        if eqn.primitive.kind == "elementwise":
            leaves.setdefault(target, []).extend(
                a for a in eqn.inputs if isinstance(a, Var) and a in live.interval)
    for _, eqn in program.walk():
        if not eqn.outputs or eqn.outputs[0] not in live.interval:
            continue
        out = eqn.outputs[0]
        if eqn.primitive.kind == "elementwise":
            candidates = leaves.get(eqn, [])
        elif eqn.primitive.kind == "update":
            candidates = [eqn.inputs[0]] if isinstance(eqn.inputs[0], Var) else []
        else:
            continue
        pos = live.position[eqn]
        for a in candidates:
            if a.shape == out.shape and a.dtype == out.dtype and a not in live.views \
                    and live.interval[a][1] == pos:
                live.in_place.add((a, out))
