"""Linear positions for a program's equations, nested bodies included.

Each equation gets a `start` position, where it reads its operands. Control
equations enclose their sub-programs: a sub-program's inputs are defined at
its first position, its equations follow, its outputs are read one position
after its last equation, and the enclosing equation defines its outputs at
its `end`. Plain equations have `end == start`. Top-level inputs are defined
at position 0 and top-level outputs are read at the last position.
"""

from __future__ import annotations

import attrs

from cubie_trace.core.program import Eqn, Program
from cubie_trace.core.values import Var


@attrs.define
class Linear:
    """Positions of equations and of every variable's definition and uses; `exit` is the
    position where each (sub-)program's outputs are read."""

    start: dict[Eqn, int] = attrs.field(factory=dict)
    end: dict[Eqn, int] = attrs.field(factory=dict)
    parent: dict[Eqn, Eqn | None] = attrs.field(factory=dict)
    defined: dict[Var, int] = attrs.field(factory=dict)
    uses: dict[Var, list[int]] = attrs.field(factory=dict)
    owner: dict[Var, Eqn | None] = attrs.field(factory=dict)
    exit: dict[Program, int] = attrs.field(factory=dict)
    length: int = 0

    def last_use(self, var: Var) -> int:
        return max(self.uses.get(var, ()), default=self.defined[var])

    def first_use(self, var: Var) -> int:
        return min(self.uses.get(var, ()), default=self.defined[var])

    def enclosing(self, eqn: Eqn | None) -> list[Eqn]:
        """Control equations around `eqn` (or around a variable's owner), innermost first."""
        out = []
        while eqn is not None:
            out.append(eqn)
            eqn = self.parent[eqn]
        return out


def linearize(program: Program) -> Linear:
    """Assign positions to every equation and variable of `program`."""
    lin = Linear()
    counter = [0]

    def define(var: Var, pos: int, owner: Eqn | None) -> None:
        lin.defined[var] = pos
        lin.owner[var] = owner
        lin.uses.setdefault(var, [])

    def use(atom: object, pos: int) -> None:
        if isinstance(atom, Var):
            lin.uses.setdefault(atom, []).append(pos)

    def visit(prog: Program, owner: Eqn | None) -> None:
        for v in prog.inputs:
            define(v, counter[0], owner)
        for eqn in prog.eqns:
            counter[0] += 1
            pos = counter[0]
            lin.start[eqn] = pos
            lin.parent[eqn] = owner
            if eqn.primitive.reads:
                for a in eqn.inputs:
                    use(a, pos)
            for sub in eqn.sub_programs:
                counter[0] += 1
                visit(sub, eqn)
            if eqn.sub_programs:
                counter[0] += 1
            lin.end[eqn] = counter[0]
            for v in eqn.outputs:
                define(v, counter[0], owner)
        counter[0] += 1
        lin.exit[prog] = counter[0]
        for a in prog.outputs:
            use(a, counter[0])

    visit(program, None)
    lin.length = counter[0] + 1
    return lin
