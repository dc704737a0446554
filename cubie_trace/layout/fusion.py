"""Elementwise fusion: which buffers are never materialised.

A buffer computed by an elementwise equation and used exactly once, by an
elementwise equation or a reduction of the same (sub-)program, is computed
inside its consumer's loop instead of being stored. Its operands are then
read where the consumer runs, which is where liveness counts their use.
A buffer named or pinned with `hint` is always materialised.
"""

from __future__ import annotations

from collections import Counter

from cubie_trace.core.program import Eqn, Program
from cubie_trace.core.values import Var


def inlined_values(program: Program) -> dict[Var, Eqn]:
    """Buffers that are fused into their single consumer, mapped to that consumer."""
    uses: Counter[Var] = Counter()
    consumer: dict[Var, Eqn] = {}
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
            if eqn.primitive.name == "hint":
                hinted.add(eqn.inputs[0])  # type: ignore[arg-type]
                continue
            for a in eqn.inputs:
                if isinstance(a, Var):
                    uses[a] += 1
                    consumer[a] = eqn
                    local[a] = prog
    out: dict[Var, Eqn] = {}
    for var, (prog, eqn) in producers.items():
        if not var.is_buffer or var in hinted or uses[var] != 1 or var not in consumer:
            continue
        user = consumer[var]
        if eqn.primitive.kind != "elementwise" or local[var] is not prog:
            continue
        if user.primitive.kind == "reduction" or (
                user.primitive.kind == "elementwise" and user.outputs[0].shape == var.shape):
            out[var] = user
    return out


def _programs(program: Program) -> list[Program]:
    out = [program]
    for _, eqn in program.walk():
        out.extend(eqn.sub_programs)
    return out
