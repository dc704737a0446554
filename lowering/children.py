"""Child programs as device functions: a child called at several sites is written once
and called at each; one called at a single site is written in place (`Children.shared`).

A call site sees its child's storage through the layout, which planned every
site on its own (each site is a clone with its own variables, so liveness packs
the child's buffers into the caller's free space as if it were written in
place). The device function abstracts that storage: it takes an array and an
offset for each distinct storage (array, offset) of the child's inputs, buffers
and the call's outputs, and the call passes the site's arrays and its offsets as
constants, typed so that Numba compiles the function once rather than once per
set of offsets. So the footprint is that of writing the child in place, Numba
types the child once, and LLVM, inlining a call, keeps static indices.

Two sites share a function when their children print alike (same equations,
literals and hint names, same systems) and their storage has the same pattern:
which buffers share storage and which are fused away. Buffers that share storage
at a site share a parameter, so copies the layout made unnecessary (a loop carry
in its initial value's storage, a result in the call's output) stay unnecessary
inside the function.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from cubie_trace.core.printer import pretty
from cubie_trace.core.program import Eqn, Program
from cubie_trace.core.values import Lit, Var
from lowering import names
from lowering.memory import Ref

if TYPE_CHECKING:
    from lowering.codegen import FunctionWriter


def stored(child: Program, writer: FunctionWriter) -> list[Var]:
    """The child's buffers with storage of their own: outputs of its equations (nested
    ones included) that are neither views of another buffer nor fused away."""
    out = []
    for _, eqn in child.walk():
        if eqn.primitive.view is not None:
            continue
        for v in eqn.outputs:
            if v.is_buffer and v not in writer.layout.inlined:
                out.append(v)
    return out


# Numba types a constant argument as a literal and compiles the callee once per value;
# a typed constant is one type (and still a constant for LLVM to propagate when inlining)
_RUNTIME_TYPE = {"int64": "np.int64({0})", "int32": "np.int32({0})", "bool": "np.bool_({0})"}


def _typed(text: str, dtype: str) -> str:
    return _RUNTIME_TYPE[dtype].format(text) if dtype in _RUNTIME_TYPE else text


def _argument(text: str, operand: object, dtype: str) -> str:
    """A scalar argument: a literal typed, a variable as it is."""
    return _typed(text, dtype) if isinstance(operand, Lit) else text


def _structure(child: Program) -> tuple:
    """What two children must share to be one function: their text and their systems."""
    systems = tuple((id(e.params["system"]), e.params["fn"])
                    for _, e in child.walk() if e.primitive.kind == "system")
    return pretty(child), systems


class Site:
    """One call of a child: what the child's buffers are at this site, as parameters."""

    def __init__(self, writer: FunctionWriter, eqn: Eqn, structure: tuple) -> None:
        child: Program = eqn.params["program"]
        self.child = child
        self.structure = structure
        buffers: list[tuple[Var, Ref]] = []
        for var, operand in zip(child.inputs, eqn.inputs):
            if var.is_buffer:
                buffers.append((var, writer.ref(operand)))  # type: ignore[arg-type]
        for var in stored(child, writer):
            buffers.append((var, writer.storage(var)))
        for var in eqn.outputs:
            if var.is_buffer:
                buffers.append((var, writer.ref(var)))
        pairs: dict[tuple[str, str], int] = {}
        for _, ref in buffers:
            pairs.setdefault((ref.escape(), ref.offset), len(pairs))
        self.buffers = buffers
        self.pairs = list(pairs)
        self.scalars = [_argument(writer.scalar(operand, var.dtype), operand, var.dtype)
                        for var, operand in zip(child.inputs, eqn.inputs) if not var.is_buffer]
        fused = tuple(v in writer.layout.inlined for v in child.variables())
        self.pattern = (tuple(pairs[(r.array, r.offset)] for _, r in buffers), fused)

    def arguments(self) -> list[str]:
        """The call's arguments: each storage's array and offset, then the scalars."""
        offsets = [_typed(o, "int64") if o.isdigit() else o for _, o in self.pairs]
        return [a for a, _ in self.pairs] + offsets + self.scalars

    def key(self) -> tuple:
        return (*self.structure, self.pattern)

    def parameters(self) -> tuple[list[str], list[Ref], list[str]]:
        """The function's array and offset parameter names, each buffer's Ref in terms of
        them, and the scalar parameter names."""
        pair_index, _ = self.pattern
        arrays = [f"p_a{k}" for k in range(len(self.pairs))]
        offsets = [f"p_o{k}" for k in range(len(self.pairs))]
        refs = [Ref(arrays[p], offsets[p]) for p in pair_index]
        scalars = [f"p_s{k}" for k in range(len(self.scalars))]
        return arrays + offsets, refs, scalars


class Children:
    """The child device functions of one generated module, in order of definition."""

    def __init__(self, program: Program, device_decorator: str) -> None:
        self.decorator = device_decorator
        self.structures: dict[int, tuple] = {}  # id(child) -> _structure(child)
        self.sites: Counter = Counter()
        self._count(program, set())
        self.functions: dict[tuple, str] = {}
        self.taken: set[str] = set()  # names given, nested children's while they are written
        self.lines: list[str] = []

    def structure(self, child: Program) -> tuple:
        if id(child) not in self.structures:
            self.structures[id(child)] = _structure(child)
        return self.structures[id(child)]

    def _count(self, program: Program, visited: set) -> None:
        """Count the sites in written code: a child's own calls once per distinct child."""
        for eqn in program.eqns:
            if eqn.primitive.name == "call":
                key = self.structure(eqn.params["program"])
                self.sites[key] += 1
                if key not in visited:
                    visited.add(key)
                    self._count(eqn.params["program"], visited)
                continue
            for sub in eqn.sub_programs:
                self._count(sub, visited)

    def shared(self, eqn: Eqn) -> bool:
        """Whether `eqn`'s child is called at more than one site (else it is written in
        place: a function called once saves no compile time and costs a call)."""
        return self.sites[self.structure(eqn.params["program"])] > 1

    def call(self, writer: FunctionWriter, eqn: Eqn) -> None:
        """Emit the call of `eqn`'s child at this site, writing its function if new."""
        site = Site(writer, eqn, self.structure(eqn.params["program"]))
        key = site.key()
        if key not in self.functions:
            self.functions[key] = self.define(writer, eqn, site)
        args = site.arguments()
        if writer.instrument:
            args += ["log_data", "log_count"]
        call = f"{self.functions[key]}({', '.join(args)})"
        scalars = [v for v in eqn.outputs if not v.is_buffer]
        for v in scalars:
            writer.values[v] = writer.names[v]
        writer.emit(f"{''.join(writer.names[v] + ', ' for v in scalars)}= {call}"
                    if scalars else call)

    def define(self, caller: FunctionWriter, eqn: Eqn, site: Site) -> str:
        child = site.child
        stem = name = f"child_{names.identifier(child.name)}"
        k = 2
        while name in self.taken:
            name, k = f"{stem}_{k}", k + 1
        self.taken.add(name)
        params, refs, scalars = site.parameters()
        places = dict(zip((v for v, _ in site.buffers), refs))
        writer = caller.child_writer(child, places)
        for var in child.inputs:
            if var.is_buffer:
                writer.refs[var] = places[var]
        for var, param in zip((v for v in child.inputs if not v.is_buffer), scalars):
            writer.values[var] = param
        writer.body(child)
        returns = []
        for inner, outer in zip(child.outputs, eqn.outputs):
            if outer.is_buffer:
                writer.refs[outer] = places[outer]
                writer.copy(inner, outer)
            else:
                returns.append(writer.scalar(inner, outer.dtype))
        head = params + scalars + (["log_data", "log_count"] if writer.instrument else [])
        self.lines += ["", "", self.decorator, f"def {name}({', '.join(head)}):",
                       f"    # child {names.comment(child.name)}", *writer.lines,
                       f"    return ({', '.join(returns)},)" if returns else "    return 0"]
        return name
