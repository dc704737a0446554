"""Equations and programs: the IR's containers.

A `Program` is a closed function: input variables, a list of equations in
SSA form, output atoms, and the declared carried state (pairs of an input and
an output that are one storage surviving from call to call). Sub-programs
(loop bodies, cond branches, child functions) hang off equation parameters
and never reference variables of their parents: captured values are explicit
operands.

Programs and equations are immutable: derived data (printed names, the buffer
graph, the linear order) is computed once and cannot go stale. A change is a
new Program (`Program.replace`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import cached_property
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import attrs

from cubie_trace.core.primitives import Primitive
from cubie_trace.core.values import Atom, Var

if TYPE_CHECKING:
    import networkx as nx

    from cubie_trace.core.linear import Linear


def frozen_mapping(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    """A read-only copy of `mapping`."""
    return MappingProxyType(dict(mapping))


@attrs.frozen(eq=False)
class Eqn:
    """One application of a primitive: `outputs = primitive[params](inputs)`."""

    primitive: Primitive
    inputs: tuple[Atom, ...] = attrs.field(converter=tuple)
    outputs: tuple[Var, ...] = attrs.field(converter=tuple)
    params: Mapping[str, Any] = attrs.field(factory=dict, converter=frozen_mapping)

    @cached_property
    def labelled_sub_programs(self) -> list[tuple[str, Program]]:
        """The sub-programs among the parameters (a Program, or a tuple of them), in
        parameter order, each with its printed label."""
        labels = self.primitive.control.labels if self.primitive.control else ()
        out: list[tuple[str, Program]] = []
        for key, value in self.params.items():
            if isinstance(value, Program):
                out.append((key, value))
            elif _programs(value):
                out.extend((labels[k] if k < len(labels) else f"{key}{k}", p)
                           for k, p in enumerate(value))
        return out

    @cached_property
    def sub_programs(self) -> list[Program]:
        return [p for _, p in self.labelled_sub_programs]

    def bindings(self) -> list[Atom | None]:
        """The operands passed to each sub-program input, in order (None: the loop index)."""
        control = self.primitive.control
        return control.bindings(self) if control else list(self.inputs)

    def carries(self) -> list[Atom]:
        """A loop's initial carries (empty for other equations)."""
        control = self.primitive.control
        return control.carries(self) if control else []

    def carry_slot(self, k: int) -> Var | None:
        """The carry slot (a result) that sub-program input `k` is bound to, if a carry."""
        control = self.primitive.control
        return control.carry_slot(self, k) if control else None

    @property
    def is_loop(self) -> bool:
        return self.primitive.control is not None and self.primitive.control.loop


def _programs(value: Any) -> bool:
    """Whether a parameter holds a tuple of sub-programs (cond's branches)."""
    return isinstance(value, tuple) and bool(value) and all(isinstance(p, Program) for p in value)


@attrs.frozen
class Carried:
    """A piece of carried state: `input` on entry, `output` on exit, one storage."""

    name: str
    input: Var
    output: Atom


@attrs.frozen(eq=False)
class Program:
    """A traced function: inputs, equations, outputs and carried state. Immutable."""

    inputs: tuple[Var, ...] = attrs.field(converter=tuple)
    outputs: tuple[Atom, ...] = attrs.field(converter=tuple)
    eqns: tuple[Eqn, ...] = attrs.field(converter=tuple)
    name: str = "program"
    carried: tuple[Carried, ...] = attrs.field(default=(), converter=tuple)
    input_names: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    output_names: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    in_tree: Any = None
    out_tree: Any = None
    meta: Mapping[str, Any] = attrs.field(factory=dict, converter=frozen_mapping)

    def replace(self, **changes: Any) -> Program:
        """A new program with `changes` to its fields (derived data is recomputed)."""
        return attrs.evolve(self, **changes)

    @property
    def equations(self) -> tuple[Eqn, ...]:
        return self.eqns

    @property
    def sub_programs(self) -> list[Program]:
        """Direct sub-programs, in equation order."""
        return [p for e in self.eqns for p in e.sub_programs]

    def walk(self) -> Iterator[tuple[Program, Eqn]]:
        """Every equation of this program and its sub-programs, depth first, in order."""
        for eqn in self.eqns:
            yield self, eqn
            for sub in eqn.sub_programs:
                yield from sub.walk()

    def variables(self) -> list[Var]:
        """Every variable, nested ones included, in order of definition."""
        seen: dict[Var, None] = {}

        def visit(program: Program) -> None:
            for v in program.inputs:
                seen.setdefault(v, None)
            for eqn in program.eqns:
                for sub in eqn.sub_programs:
                    visit(sub)
                for v in eqn.outputs:
                    seen.setdefault(v, None)

        visit(self)
        return list(seen)

    @cached_property
    def names(self) -> dict[Var, str]:
        """Short printable names for every variable: hint names first, then a, b, ..."""
        from cubie_trace.core.printer import assign_names

        return assign_names(self)

    def var(self, name: str) -> Var:
        """The variable printed as `name`, or the one variable `name` names by scope."""
        for v, n in self.names.items():
            if n == name:
                return v
        matched = self.named(name)
        if len(matched) == 1:
            return matched[0]
        if matched:
            raise KeyError(f"{name!r} names {len(matched)} variables in program "
                           f"{self.name!r}: {sorted(self.names[v] for v in matched)}")
        raise KeyError(f"no variable named {name!r} in program {self.name!r}")

    def named(self, name: str) -> list[Var]:
        """The variables whose scoped name ends with `name`, path component by component
        (`delta` is every call site's `newton/delta` and `newton#2/delta`;
        `newton#2/delta` is one site's)."""
        want = name.split("/")
        return [v for v, n in self.names.items() if n.split("/")[-len(want):] == want]

    @cached_property
    def graph(self) -> nx.DiGraph:
        """The buffer graph (see `cubie_trace.core.graph`)."""
        from cubie_trace.core.graph import buffer_graph

        return buffer_graph(self)

    @cached_property
    def linear(self) -> Linear:
        """Linear positions of every equation and variable (see `cubie_trace.core.linear`)."""
        from cubie_trace.core.linear import linearize

        return linearize(self)

    def clone(self) -> Program:
        """A copy with fresh variables throughout (each call site of a child gets its own,
        so every variable has one place in the linear order)."""
        mapping: dict[Var, Var] = {}

        def fresh(atom: Atom) -> Atom:
            if not isinstance(atom, Var):
                return atom
            if atom not in mapping:
                mapping[atom] = Var(atom.aval)
            return mapping[atom]

        def copy(prog: Program) -> Program:
            eqns = []
            for e in prog.eqns:
                params = {key: copy(value) if isinstance(value, Program) else
                          tuple(copy(p) for p in value) if _programs(value) else value
                          for key, value in e.params.items()}
                eqns.append(Eqn(e.primitive, tuple(fresh(a) for a in e.inputs),
                                tuple(fresh(v) for v in e.outputs), params))
            return prog.replace(
                inputs=tuple(fresh(v) for v in prog.inputs), eqns=tuple(eqns),
                outputs=tuple(fresh(a) for a in prog.outputs),
                carried=tuple(Carried(c.name, fresh(c.input), fresh(c.output))
                              for c in prog.carried))

        return copy(self)

    def __str__(self) -> str:
        from cubie_trace.core.printer import pretty

        return pretty(self)

    def __repr__(self) -> str:
        return f"<Program {self.name}: {len(self.inputs)} in, {len(self.outputs)} out, " \
               f"{len(self.eqns)} equations>"
