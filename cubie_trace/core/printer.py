"""Readable text for programs, one equation a line, nested bodies indented."""

from __future__ import annotations

import itertools
import unicodedata
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from cubie_trace.core.values import Atom, Lit, Var

if TYPE_CHECKING:
    from cubie_trace.core.program import Eqn, Program


def _letters() -> Any:
    alphabet = "abcdefghijklmnopqrstuvwxyz"
    for size in itertools.count(1):
        for combo in itertools.product(alphabet, repeat=size):
            yield "".join(combo)


def assign_names(program: Program) -> dict[Var, str]:
    """Names for every variable: `hint` names, then the program's input names, then the
    names of loop carries named in the body or on entry (`ys_1`, ...), then a, b, ...

    A hint inside a called child is scoped by its call site: `newton/delta` at the first
    call of `newton` (in its scope), `newton#2/delta` at the second, and so on down nested
    children (`newton/bicgstab/r`).
    """
    names: dict[Var, str] = {}
    bases: dict[Var, str] = {}  # the name asked for, before a suffix made it unique
    taken: set[str] = set()

    def claim(var: Var, name: str) -> None:
        if var in names:
            return
        base, k = name, 1
        while name in taken:
            name, k = f"{base}_{k}", k + 1
        names[var], bases[var] = name, base
        taken.add(name)

    hinted: dict[str, str] = {}  # NFKC form -> hint name: Python identifiers compare so
    for var, name in scoped_hints(program):
        leaf = name.rsplit("/", 1)[-1]
        other = hinted.setdefault(unicodedata.normalize("NFKC", leaf), leaf)
        if other != leaf:
            raise ValueError(f"hint names {other!r} and {leaf!r} differ but are equal "
                             "after NFKC normalisation; rename one of them")
        claim(var, name)
    for var, name in zip(program.inputs, program.input_names):
        claim(var, name)
    for _, eqn in program.walk():  # a loop's body inputs and carries keep a name given
        if not eqn.is_loop:
            continue
        for k, outer in enumerate(eqn.bindings()):
            inners = [sub.inputs[k] for sub in eqn.sub_programs]
            source = next((v for v in inners if v in bases), outer)
            if isinstance(source, Var) and source in bases:
                slot = eqn.carry_slot(k)
                for var in [*inners, *([slot] if slot is not None else [])]:
                    claim(var, bases[source])
        for inner, slot in zip(eqn.params["body"].outputs, eqn.outputs):
            if isinstance(inner, Var) and slot in bases:
                claim(inner, bases[slot])
    fresh = (n for n in _letters() if n not in taken)
    for var in program.variables():
        if var not in names:
            claim(var, next(fresh))
    return names


def scoped_hints(program: Program, scope: str = "") -> Iterator[tuple[Var, str]]:
    """(variable, name) for every named hint, prefixed by the call sites it is inside."""
    sites: dict[str, int] = {}

    def visit(prog: Program) -> Iterator[tuple[Var, str]]:
        for eqn in prog.eqns:
            if eqn.primitive.name == "hint" and eqn.params["name"] and \
                    isinstance(eqn.inputs[0], Var):
                yield eqn.inputs[0], scope + eqn.params["name"]
            if eqn.primitive.name == "call":
                child = eqn.params["program"]
                sites[child.name] = k = sites.get(child.name, 0) + 1
                label = child.name if k == 1 else f"{child.name}#{k}"
                yield from scoped_hints(child, f"{scope}{label}/")
                continue
            for sub in eqn.sub_programs:
                yield from visit(sub)

    yield from visit(program)


def pretty(program: Program) -> str:
    """The program as text, like a jaxpr."""
    return "\n".join(_program_lines(program, program.names, 0))


def _atom(atom: Atom, names: dict[Var, str]) -> str:
    return str(atom) if isinstance(atom, Lit) else names[atom]


def _typed(var: Var, names: dict[Var, str]) -> str:
    return f"{names[var]}:{var.aval.short()}"


def _program_lines(program: Program, names: dict[Var, str], depth: int) -> list[str]:
    pad = "  " * depth
    ins = " ".join(_typed(v, names) for v in program.inputs)
    lines = [f"{pad}{{ lambda {program.name} ; {ins} . let"]
    for eqn in program.eqns:
        lines.extend(_eqn_lines(eqn, names, depth + 2))
    outs = ", ".join(_atom(a, names) for a in program.outputs)
    lines.append(f"{pad}  in ({outs}) }}")
    return lines


def _param_text(eqn: Eqn) -> str:
    shown = []
    nested = {id(p) for p in eqn.sub_programs}
    for key, value in eqn.params.items():
        if value is None or id(value) in nested or (
                isinstance(value, tuple) and value and id(value[0]) in nested):
            continue
        shown.append(f"{key}={eqn.primitive.show(key, value)}")
    return f"[{' '.join(shown)}]" if shown else ""


def eqn_text(eqn: Eqn, names: dict[Var, str]) -> str:
    """The equation's line as `pretty` prints it, without its nested bodies."""
    outs = " ".join(_typed(v, names) for v in eqn.outputs)
    lhs = f"{outs} = " if outs else ""
    args = " ".join(_atom(a, names) for a in eqn.inputs)
    return f"{lhs}{eqn.primitive.name}{_param_text(eqn)} {args}".rstrip()


def _eqn_lines(eqn: Eqn, names: dict[Var, str], depth: int) -> list[str]:
    pad = "  " * depth
    lines = [pad + eqn_text(eqn, names)]
    for label, sub in eqn.labelled_sub_programs:
        sub_lines = _program_lines(sub, names, depth + 2)
        lines.append(f"{pad}  {label}:")
        lines.extend(sub_lines)
    return lines
