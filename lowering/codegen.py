"""Program + Layout -> the Python source of one device function (target-neutral).

Straight-line equations become statements; chains of elementwise operations
become one `for` loop whose body is a single expression (fused intermediates
are never stored); reductions become accumulation loops; `cond`,
`while_loop` and `fori_loop` become Python control flow; a child program called
at several sites becomes a device function of its own (`lowering.children`), one
called once is written in place; system functions are called with array views, or
written in place where their arrays are held in registers (`memory.Registers`).
Buffers are read and written through `memory.Memory`, which alone knows where
storage is; `lowering.templates` holds each primitive's source template. Copies
appear only where the layout could not give a value and its destination one storage
(loop carries, branch and child results, carried state, outputs). `LOWERING` maps
each primitive to the method that emits its equations: the backend's half of a
primitive's rule table.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cubie_trace.core.program import Eqn, Program
from cubie_trace.core.values import Atom, Lit, Var
from cubie_trace.layout import Layout
from lowering import names
from lowering.children import Children
from lowering.memory import Memory, Ref
from lowering.templates import CASTS, FLOATS, OPS, REDUCTION_TERMS, literal, zero

UNROLL = 4  # loops over at most this many elements are written out element by element


class FunctionWriter:
    """Writes one device function for a program and its layout."""

    def __init__(self, program: Program, layout: Layout, memory: Memory, systems: dict,
                 target: str, instrument: bool, children: Children) -> None:
        self.program = program
        self.children = children
        self.places: dict[Var, Ref] | None = None  # a child function's parameters
        self.target = target
        self.layout = layout
        self.memory = memory
        self.systems = systems  # (id(system), fn) -> emitted function name
        self.instrument = instrument
        self.names = names.identifiers(program.names, "v_")
        self.lines: list[str] = []
        self.depth = 1
        self.refs: dict[Var, Ref] = {}
        self.values: dict[Var, str] = {}
        self.producer: dict[Var, Eqn] = {}
        self.counter = 0
        for _, eqn in program.walk():
            for v in eqn.outputs:
                self.producer[v] = eqn

    # ------------------------------------------------------------ helpers

    def emit(self, line: str) -> None:
        self.lines.append("    " * self.depth + line)

    def each(self, n: int, body: Any, start: int = 0) -> None:
        """Emit `body(index)` (a list of lines) for index in range(start, n): as a loop, or
        as straight-line code when the loop is short (Numba compiles that much faster) or
        addresses arrays held in registers."""
        if self.unrolled(n - start, lambda: body(str(start))):
            for k in range(start, n):
                for line in body(str(k)):
                    self.emit(line)
            return
        i = self.fresh("i")
        self.emit(f"for {i} in range({start}, {n}):" if start else f"for {i} in range({n}):")
        for line in body(i):
            self.emit("    " + line)

    def unrolled(self, n: int, probe: Callable[[], Any]) -> bool:
        """Whether a loop over `n` elements is written out: short ones always; ones within
        the register limit while looking for arrays to hold (so that their indices are
        constants), and afterwards those whose body (`probe`) addresses a held array."""
        registers = self.memory.registers
        if n <= UNROLL:
            return True
        if n > registers.limit:
            return False
        if not registers.final:
            return True
        registers.touched = False
        probe()
        return registers.touched

    def fresh(self, stem: str) -> str:
        self.counter += 1
        return f"_{stem}{self.counter}"

    def ref(self, var: Var) -> Ref:
        """Storage of a stored buffer: bound names first, then views, then the layout."""
        if var not in self.refs:
            eqn = self.producer.get(var)
            if eqn is not None and eqn.primitive.view is not None:
                base = self.ref(eqn.inputs[0])  # type: ignore[arg-type]
                view = eqn.primitive.view(eqn)
                shift = str(view.offset)
                if view.index is not None:
                    shift = f"{self.scalar(view.index, 'int32')} * {view.stride}" + \
                        (f" + {shift}" if view.offset else "")
                self.refs[var] = base.shifted(shift)
            else:
                self.refs[var] = self.storage(var)
        return self.refs[var]

    def storage(self, var: Var) -> Ref:
        """Where the layout put a buffer, as this function addresses it."""
        if self.places is not None:
            return self.places[var]
        return self.memory.ref(self.layout.placements[var])

    def child_writer(self, child: Program, places: dict[Var, Ref]) -> FunctionWriter:
        """A writer for the device function of a child called from here, which addresses
        its buffers through `places` (its parameters)."""
        writer = FunctionWriter(child, self.layout, self.memory, self.systems, self.target,
                                self.instrument, self.children)
        writer.places = places
        return writer

    def scalar(self, atom: Atom, dtype: str) -> str:
        if isinstance(atom, Lit):
            return literal(atom, dtype)
        return self.values[atom]

    def element(self, atom: Atom, index: str, dtype: str) -> str:
        """Expression for element `index` of an operand (scalars broadcast)."""
        if isinstance(atom, Lit) or not atom.is_buffer:
            return self.scalar(atom, dtype)
        if atom in self.layout.inlined and atom not in self.refs:
            return self.expression(self.producer[atom], index)
        return self.ref(atom).at(index)

    def expression(self, eqn: Eqn, index: str) -> str:
        """The fused expression an elementwise equation computes at `index`."""
        out = eqn.outputs[0].dtype
        name = eqn.primitive.name
        if name == "cast":
            return CASTS[eqn.params["dtype"]].format(self.element(eqn.inputs[0], index, out))
        operand_dtype = out if out != "bool" else _operand_dtype(eqn)
        args = [self.element(a, index, operand_dtype if k or name != "where" else "bool")
                for k, a in enumerate(eqn.inputs)]
        text = OPS[name].format(*args)
        if name == "div" and out in FLOATS and all(a.dtype == "int32" for a in eqn.inputs):
            text = CASTS[out].format(text)
        return text

    def copy(self, src: Atom, dst: Var) -> None:
        """Give `dst` the value of `src` (a buffer copy unless they share storage)."""
        if not dst.is_buffer:
            self.values[dst] = self.names[dst]
            self.emit(f"{self.names[dst]} = {self.scalar(src, dst.dtype)}")
            return
        if isinstance(src, Var) and self.ref(src).same(self.ref(dst)):
            return
        self.each(dst.aval.elements,
                  lambda i: [f"{self.ref(dst).at(i)} = {self.element(src, i, dst.dtype)}"])

    def bind(self, sub: Program, operands: list[Any]) -> None:
        """Sub-program inputs take the storage (or value) of their operands."""
        for var, operand in zip(sub.inputs, operands):
            if operand is None:
                continue
            if var.is_buffer:
                self.refs[var] = self.ref(operand)
            else:
                self.values[var] = self.names[var]
                self.emit(f"{self.names[var]} = {self.scalar(operand, var.dtype)}")

    # ------------------------------------------------------------ programs

    def body(self, program: Program) -> None:
        for eqn in program.eqns:
            self.equation(eqn)

    def equation(self, eqn: Eqn) -> None:
        rule = LOWERING.get(eqn.primitive.name)
        if rule is None:
            raise NotImplementedError(f"no lowering for primitive {eqn.primitive.name!r}")
        rule(self, eqn)

    def elementwise(self, eqn: Eqn) -> None:
        out = eqn.outputs[0]
        if out in self.layout.inlined:
            return
        if not out.is_buffer:
            self.values[out] = self.names[out]
            self.emit(f"{self.names[out]} = {self.expression(eqn, '0')}")
            return
        self.each(out.aval.elements,
                  lambda i: [f"{self.ref(out).at(i)} = {self.expression(eqn, i)}"])

    def view(self, eqn: Eqn) -> None:
        out = eqn.outputs[0]
        if out.is_buffer:
            self.ref(out)
        else:
            base = self.ref(eqn.inputs[0])  # type: ignore[arg-type]
            self.values[out] = self.names[out]
            self.emit(f"{self.names[out]} = {base.at(self.scalar(eqn.inputs[1], 'int32'))}")

    def set_index(self, eqn: Eqn) -> None:
        base, index, value = eqn.inputs
        out = eqn.outputs[0]
        self.copy(base, out)
        width = out.aval.elements // out.shape[0]
        start = f"{self.scalar(index, 'int32')} * {width}"
        self.each(width, lambda i: [f"{self.ref(out).at(f'{start} + {i}')} = "
                                    f"{self.element(value, i, out.dtype)}"])

    def stack(self, eqn: Eqn) -> None:
        out = eqn.outputs[0]
        width = out.shape[1]
        for r, row in enumerate(eqn.inputs):
            row_ref = self.ref(out).shifted(str(r * width))
            self.each(width, lambda i, row=row, ref=row_ref: [
                f"{ref.at(i)} = {self.element(row, i, out.dtype)}"])

    def fill(self, eqn: Eqn) -> None:
        out = eqn.outputs[0]
        value = self.scalar(eqn.inputs[0], out.dtype)
        if not out.is_buffer:  # a scalar "filled" is its value
            self.values[out] = self.names[out]
            self.emit(f"{self.names[out]} = {CASTS[out.dtype].format(value)}")
            return
        self.each(out.aval.elements, lambda i: [f"{self.ref(out).at(i)} = {value}"])

    def call(self, eqn: Eqn) -> None:
        if self.children.shared(eqn):
            self.children.call(self, eqn)
            return
        child = eqn.params["program"]
        self.emit(f"# call {names.comment(child.name)}")
        self.bind(child, list(eqn.inputs))
        self.body(child)
        for inner, outer in zip(child.outputs, eqn.outputs):
            self.copy(inner, outer)

    def tap(self, eqn: Eqn) -> None:
        if self.instrument:
            self.memory.log_write(self, eqn.params["name"], eqn.inputs[0])

    def hint(self, eqn: Eqn) -> None:
        """Hints only inform the layout."""

    def reduction(self, eqn: Eqn) -> None:
        """An accumulation: `start` (from element 0 or zero), a loop of `terms`, `finish`."""
        name, out = eqn.primitive.name, eqn.outputs[0]
        x = eqn.inputs[0]
        n = x.aval.elements
        acc, dtype = self.names[out], out.dtype
        start, terms, finish = REDUCTION_TERMS[name]

        def element(k: int, i: str) -> str:
            return self.element(eqn.inputs[k], i, dtype)

        first = 1 if start == "first" else 0
        self.emit(f"{acc} = {element(0, '0') if first else zero(dtype)}")
        scratch = self.fresh("q") if any("{q}" in t for t in terms) else ""
        self.each(n, lambda i: [line.format(acc=acc, q=scratch, x=element(0, i),
                                            y=element(1, i) if len(eqn.inputs) > 1 else "")
                                for line in terms], start=first)
        if finish:
            self.emit(f"{acc} = " + finish.format(acc=acc, n=literal(Lit(float(n), dtype),
                                                                      dtype)))
        self.values[out] = acc

    def system_call(self, eqn: Eqn) -> None:
        """A system function: written in place where its buffers are all small and some
        are held in registers (a call would need them in memory), else called on array
        views (a large system's function written at every call would multiply Numba's
        compile time)."""
        system, fn = eqn.params["system"], eqn.params["fn"]
        buffers = [a for a in (*eqn.inputs, *eqn.outputs) if isinstance(a, Var) and a.is_buffer]
        limit = self.memory.registers.limit
        if all(a.aval.elements <= limit for a in buffers) and \
                any(self.ref(a).held for a in buffers):
            operands = [[self.element(a, str(i), a.dtype) for i in range(a.aval.elements)]
                        if isinstance(a, Var) and a.is_buffer else self.scalar(a, "float")
                        for a in eqn.inputs]
            targets = [self.ref(out).at(str(i)) for out in eqn.outputs
                       for i in range(out.aval.elements)]
            lines = system.inline(fn, operands, targets, self.fresh("s"))
            if lines is not None:
                self.emit(f"# {fn} of system {names.comment(system.name)}")
                for line in lines:
                    self.emit(line)
                return
        func = self.systems[(id(system), fn)]
        args = []
        for a in eqn.inputs:
            if isinstance(a, Var) and a.is_buffer:
                args.append(self.ref(a).view(a.shape))
            else:
                args.append(self.scalar(a, "float"))
        for out in eqn.outputs:
            args.append(self.ref(out).view(out.shape))
        self.emit(f"{func}({', '.join(args)})")

    def conditional(self, eqn: Eqn) -> None:
        true_branch, false_branch = eqn.sub_programs
        for v in eqn.outputs:
            if not v.is_buffer:
                self.values[v] = self.names[v]
        for keyword, branch in (("if", true_branch), ("else", false_branch)):
            pred = self.scalar(eqn.inputs[0], "bool")
            self.emit(f"if {pred}:" if keyword == "if" else "else:")
            self.depth += 1
            self.bind(branch, eqn.bindings())
            self.body(branch)
            for inner, outer in zip(branch.outputs, eqn.outputs):
                self.copy(inner, outer)
            self.emit("pass")
            self.depth -= 1

    def loop(self, eqn: Eqn) -> None:
        control = eqn.primitive.control
        fori = control.index
        carries = eqn.carries()
        slots = list(eqn.outputs)
        for init, slot in zip(carries, slots):
            self.copy(init, slot)
        body = control.body(eqn)
        consts = list(eqn.inputs[control.skip + len(carries):])
        if fori:
            index = self.names[body.inputs[0]]
            self.values[body.inputs[0]] = index
            lo, hi = (self.scalar(a, "int32") for a in eqn.inputs[:2])
            self.emit(f"for {index} in range({lo}, {hi}):")
        else:
            self.emit("while True:")
        self.depth += 1
        if not fori:
            cond = eqn.params[control.predicate]
            self.bind(cond, [*slots, *consts])
            self.body(cond)
            self.emit(f"if not {self.scalar(cond.outputs[0], 'bool')}:")
            self.emit("    break")
        self.bind(body, [None, *slots, *consts] if fori else [*slots, *consts])
        self.body(body)
        self.carry_back(body.outputs, slots)
        self.depth -= 1

    def carry_back(self, results: tuple[Atom, ...], slots: list[Var]) -> None:
        """Copy body results into the carry slots, through a temporary when a result sits
        in another carry's slot (a permutation of carries)."""
        pending = [(r, s) for r, s in zip(results, slots)]
        stored = {id(s): self.ref(s) for s in slots if s.is_buffer}
        for result, slot in pending:
            clash = isinstance(result, Var) and result.is_buffer and any(
                self.ref(result).same(ref) for key, ref in stored.items() if key != id(slot))
            if clash:
                tmp = self.memory.temporary(self, result)
                self.refs[result] = tmp
        for result, slot in pending:
            self.copy(result, slot)


# The lowering rule of each primitive: the method that emits its equations.
LOWERING: dict[str, Callable[[FunctionWriter, Eqn], None]] = {
    **{name: FunctionWriter.elementwise for name in [*OPS, "cast"]},
    **{name: FunctionWriter.reduction for name in REDUCTION_TERMS},
    "index": FunctionWriter.view, "slice": FunctionWriter.view,
    "set_index": FunctionWriter.set_index, "stack": FunctionWriter.stack,
    "fill": FunctionWriter.fill, "system": FunctionWriter.system_call,
    "call": FunctionWriter.call, "cond": FunctionWriter.conditional,
    "while_loop": FunctionWriter.loop, "fori_loop": FunctionWriter.loop,
    "tap": FunctionWriter.tap, "hint": FunctionWriter.hint,
}


def _operand_dtype(eqn: Eqn) -> str:
    for a in eqn.inputs:
        if a.dtype in FLOATS:
            return a.dtype
    return "int32"
