"""The buffer graph: a networkx view of which buffers feed which, and which may
share storage."""

from __future__ import annotations

import networkx as nx

from cubie_trace.core.program import Program
from cubie_trace.core.values import Var


def buffer_graph(program: Program) -> nx.DiGraph:
    """Nodes are buffers (named as printed) with `shape`, `dtype`, `elements`,
    `defined_at` (defining primitive, or "input"), `position`, `first_use` and
    `last_use`. Edges: `kind="data"` from producer to consumer; `kind="alias"`
    from a value to one whose storage it may take (an elementwise result to an
    operand that dies at that equation, a view to its base)."""
    names = program.names
    lin = program.linear
    graph = nx.DiGraph(name=program.name)
    producer: dict[Var, str] = {}
    inputs = {v for prog in [program, *(p for _, e in program.walk() for p in e.sub_programs)]
              for v in prog.inputs}
    for _, eqn in program.walk():
        for v in eqn.outputs:
            producer[v] = eqn.primitive.name
    for var in program.variables():
        if var.is_buffer:
            graph.add_node(names[var], var=var, shape=var.shape, dtype=var.dtype,
                           elements=var.aval.elements, defined_at=producer.get(var, "input"),
                           position=lin.defined[var], first_use=lin.first_use(var),
                           last_use=lin.last_use(var))

    def edge(src: object, dst: object, kind: str) -> None:
        if isinstance(src, Var) and isinstance(dst, Var) and src.is_buffer and dst.is_buffer:
            if not graph.has_edge(names[src], names[dst]):
                graph.add_edge(names[src], names[dst], kind=kind)

    for _, eqn in program.walk():
        kind = eqn.primitive.kind
        for out in eqn.outputs:
            for a in eqn.inputs:
                edge(a, out, "data")
            if kind == "view":
                edge(out, eqn.inputs[0], "alias")
            elif kind == "elementwise":
                for a in eqn.inputs:
                    # inputs belong to the caller, which may still need them
                    if isinstance(a, Var) and a.shape == out.shape and a not in inputs \
                            and lin.last_use(a) == lin.start[eqn]:
                        edge(out, a, "alias")
        for sub in eqn.sub_programs:
            for outer, inner in zip(eqn.bindings(), sub.inputs):
                edge(outer, inner, "data")
            for inner, outer in zip(sub.outputs, eqn.outputs):
                edge(inner, outer, "data")
    return graph

