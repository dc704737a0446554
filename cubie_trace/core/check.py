"""`ct.check_program`: the IR's invariants, checked independently of the tracer.

A well-formed program defines every variable exactly once, across all nested
bodies, before any use; a sub-program references only its own inputs and its
own definitions (captured values are explicit operands; one sub-program object
may serve several call sites); each sub-program's
inputs match the operands its equation binds to them and its outputs match the
equation's results (loop bodies return their carries); carried state pairs an
input with an output of the same type; and every equation's results are what
its primitive's shape/dtype rule gives for its operands.
"""

from __future__ import annotations

from typing import Any

from cubie_trace.core.primitives import TracerError
from cubie_trace.core.printer import eqn_text
from cubie_trace.core.program import Eqn, Program
from cubie_trace.core.values import Atom, Aval, Var


class IRError(Exception):
    """A program breaks an invariant of the IR."""


def check_program(program: Program) -> None:
    """Raise `IRError`, naming the offending equation as printed, unless `program` is
    well formed."""
    _Checker(program).run()


def _avals(atoms: Any) -> list[Aval]:
    return [a.aval for a in atoms]


def _short(avals: list[Aval]) -> str:
    return "(" + ", ".join(a.short() for a in avals) + ")"


class _Checker:
    def __init__(self, program: Program) -> None:
        self.root = program
        self.home: dict[Var, Program] = {}
        self.names: dict[Var, str] = {}  # printed names, computed on failure only
        self.twice: list[tuple[Var, Eqn | None, Program]] = []
        self.seen: set[int] = set()
        self._collect(program)

    def _collect(self, program: Program) -> None:
        """Where each variable is defined; definitions seen twice are kept for `run`. One
        sub-program object called from several sites is one body, collected once."""
        if id(program) in self.seen:
            return
        self.seen.add(id(program))
        for v in program.inputs:
            self._define(v, None, program)
        for eqn in program.eqns:
            for sub in eqn.sub_programs:
                self._collect(sub)
            for v in eqn.outputs:
                self._define(v, eqn, program)

    def _define(self, var: Var, eqn: Eqn | None, program: Program) -> None:
        if var in self.home:
            self.twice.append((var, eqn, program))
        self.home[var] = program

    def fail(self, message: str, eqn: Eqn | None = None, program: Program | None = None) -> None:
        self._name_all()
        where = f" at `{eqn_text(eqn, self.names)}`" if eqn is not None else ""
        inside = f" in {program.name!r}" if program is not None else ""
        raise IRError(f"{message}{where}{inside}")

    def _name_all(self) -> None:
        if self.names:
            return
        self.names.update(self.root.names)
        for _, eqn in self.root.walk():
            for a in eqn.inputs:
                if isinstance(a, Var) and a not in self.names:
                    self.names[a] = f"?{len(self.names)}"  # a variable nothing defines

    def name(self, var: Var) -> str:
        self._name_all()
        return self.names[var]

    def run(self) -> None:
        if self.twice:
            var, eqn, program = self.twice[0]
            self.fail(f"variable {self.name(var)} is defined more than once", eqn, program)
        self._program(self.root)

    def _program(self, program: Program) -> None:
        scope = set(program.inputs)
        for eqn in program.eqns:
            for a in eqn.inputs:
                self._use(a, scope, program, eqn)
            for sub in eqn.sub_programs:
                self._program(sub)
            self._signature(eqn, program)
            self._rule(eqn, program)
            scope.update(eqn.outputs)
        for a in program.outputs:
            self._use(a, scope, program, None)
        inputs = set(program.inputs)
        for c in program.carried:
            if c.input not in inputs:
                self.fail(f"carried state {c.name!r} starts from a value that is not an input",
                          program=program)
            self._use(c.output, scope, program, None)
            if c.input.aval != c.output.aval:
                self.fail(f"carried state {c.name!r} enters as {c.input.aval.short()} and "
                          f"leaves as {c.output.aval.short()}", program=program)

    def _use(self, atom: Atom, scope: set[Var], program: Program, eqn: Eqn | None) -> None:
        if not isinstance(atom, Var) or atom in scope:
            return
        what = f"variable {self.name(atom)}"
        if self.home.get(atom) is program:
            self.fail(f"{what} is used before its definition", eqn, program)
        if atom in self.home:
            self.fail(f"free {what}: defined in {self.home[atom].name!r}, not passed in as an "
                      "input", eqn, program)
        self.fail(f"{what} is never defined", eqn, program)

    def _signature(self, eqn: Eqn, program: Program) -> None:
        control = eqn.primitive.control
        if eqn.sub_programs and control is None:
            self.fail(f"{eqn.primitive.name} is no control primitive but holds sub-programs",
                      eqn, program)
        for sub in eqn.sub_programs:
            bound = eqn.bindings()
            if len(bound) != len(sub.inputs):
                self.fail(f"sub-program {sub.name!r} takes {len(sub.inputs)} inputs but "
                          f"{len(bound)} operands are passed", eqn, program)
            passed = [Aval((), "int32") if a is None else a.aval for a in bound]
            if passed != _avals(sub.inputs):
                self.fail(f"sub-program {sub.name!r} takes {_short(_avals(sub.inputs))} but is "
                          f"passed {_short(passed)}", eqn, program)
            expected = control.sub_outputs(eqn, sub)  # type: ignore[union-attr]
            if expected != _avals(sub.outputs):
                self.fail(f"sub-program {sub.name!r} returns {_short(_avals(sub.outputs))}, "
                          f"expected {_short(expected)}", eqn, program)

        init = eqn.carries()
        if eqn.is_loop and _avals(init) != _avals(eqn.outputs):
            self.fail(f"the loop's carries enter as {_short(_avals(init))} and leave as "
                      f"{_short(_avals(eqn.outputs))}", eqn, program)

    def _rule(self, eqn: Eqn, program: Program) -> None:
        prim = eqn.primitive
        try:
            avals = prim.abstract(_avals(eqn.inputs), [not isinstance(a, Var)
                                                       for a in eqn.inputs], **eqn.params)
        except (TracerError, TypeError, KeyError, IndexError, ValueError) as exc:
            self.fail(f"{prim.name}'s rule rejects its operands ({exc})", eqn, program)
        if list(avals) != _avals(eqn.outputs):
            self.fail(f"{prim.name} of {_short(_avals(eqn.inputs))} gives {_short(list(avals))}, "
                      f"not {_short(_avals(eqn.outputs))}", eqn, program)

