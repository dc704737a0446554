"""Elementwise fusion: which buffers are never materialised.

A buffer computed by an elementwise equation and used exactly once, by an
elementwise equation or a reduction of the same (sub-)program, can be
computed inside its consumer's loop instead of being stored. Its operands
are then read where the consumer runs, so fusion is kept only where it does
not keep a stored operand alive past the definition of another stored buffer
(the accumulators of a Runge-Kutta step would otherwise hold every stage
derivative to the end; scalar work in between costs nothing). A buffer named
or pinned with `hint` is always stored.
"""

from __future__ import annotations

import bisect
from collections import Counter

from cubie_trace.core.program import Eqn, Program
from cubie_trace.core.values import Var


def inlined_values(program: Program) -> dict[Var, Eqn]:
    """Buffers that are fused into their single consumer, mapped to that consumer."""
    uses: Counter[Var] = Counter()
    consumers: dict[Var, list[Eqn]] = {}
    local: dict[Var, Program] = {}
    hinted: set[Var] = set()
    producers: dict[Var, tuple[Program, Eqn]] = {}
    for prog in _programs(program):
        for a in prog.outputs:
            if isinstance(a, Var):
                uses[a] += 2  # an output is always stored
        for eqn in prog.eqns:
            for v in eqn.outputs:
                producers[v] = (prog, eqn)
            if not eqn.primitive.reads:
                hinted.add(eqn.inputs[0])  # type: ignore[arg-type]
                continue
            for a in eqn.inputs:
                if isinstance(a, Var):
                    uses[a] += 1
                    consumers.setdefault(a, []).append(eqn)
                    local[a] = prog
    fused: dict[Var, Eqn] = {}
    for var, (prog, eqn) in producers.items():
        if not var.is_buffer or var in hinted or uses[var] != 1 or var not in consumers:
            continue
        user = consumers[var][0]
        if eqn.primitive.kind != "elementwise" or local[var] is not prog:
            continue
        if user.primitive.kind == "reduction" or (
                user.primitive.kind == "elementwise" and user.outputs[0].shape == var.shape):
            fused[var] = user
    return _without_extensions(program, fused, producers, consumers)


def _without_extensions(program: Program, fused: dict[Var, Eqn],
                        producers: dict[Var, tuple[Program, Eqn]],
                        consumers: dict[Var, list[Eqn]]) -> dict[Var, Eqn]:
    """Drop fusions that would keep a stored operand alive past another buffer's birth."""
    lin = program.linear
    births = sorted((lin.defined[v], k) for k, v in enumerate(producers) if v.is_buffer)
    positions = [pos for pos, _ in births]
    born = list(producers)
    # storage that lives on regardless: inputs (the caller's or bound to an operand), outputs
    external = {v for prog in _programs(program) for v in (*prog.inputs, *prog.outputs)}

    def runs_at(eqn: Eqn) -> int:
        while eqn.outputs and eqn.outputs[0] in fused:
            eqn = fused[eqn.outputs[0]]
        return lin.start[eqn]

    def stored_birth_between(lo: int, hi: int) -> bool:
        first, end = bisect.bisect_right(positions, lo), bisect.bisect_left(positions, hi)
        return any(born[k] not in fused for _, k in births[first:end])

    changed = True
    while changed:
        changed = False
        for var in list(fused):
            eqn = producers[var][1]
            moved_to = runs_at(eqn)
            for a in eqn.inputs:
                if not isinstance(a, Var) or not a.is_buffer or a in fused or a in external:
                    continue
                others = [runs_at(e) for e in consumers.get(a, []) if e is not eqn]
                if stored_birth_between(max(others, default=lin.start[eqn]), moved_to):
                    del fused[var]
                    changed = True
                    break
    return fused


def _programs(program: Program) -> list[Program]:
    out = [program]
    for _, eqn in program.walk():
        out.extend(eqn.sub_programs)
    return out
