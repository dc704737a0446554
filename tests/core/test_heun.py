"""Heun's method from DESIGN.md, traced for the Lorenz system: program text and buffer graph."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

import cubie_trace as ct

LORENZ = ct.ODESystem.from_equations(
    ["dx = sigma*(y - x)", "dy = x*(rho - z) - y", "dz = x*y - beta*z"],
    states={"x": 1.0, "y": 0.0, "z": 0.0},
    parameters={"sigma": 10.0, "rho": 28.0, "beta": 8 / 3},
)


@ct.step(order=2, error_order=1)
def heun(f, t, dt, y, state):
    k1 = f(t, y)
    k2 = f(t + dt, y + dt * k1)
    return y + dt / 2 * (k1 + k2), dt / 2 * (k2 - k1), state, ct.OK


def lorenz_numpy(y: np.ndarray, sigma: float, rho: float, beta: float) -> np.ndarray:
    x, v, z = y
    return np.array([sigma * (v - x), x * (rho - z) - v, x * v - beta * z])


@pytest.fixture(scope="module")
def program() -> ct.Program:
    return ct.trace(heun, system=LORENZ)


def test_heun_step_computes_heun(program: ct.Program) -> None:
    y, p, dt = np.array([1.0, 2.0, 3.0]), np.array([10.0, 28.0, 8 / 3]), 0.01
    k1 = lorenz_numpy(y, *p)
    k2 = lorenz_numpy(y + dt * k1, *p)
    y_new, err, state, status = ct.interpret(program, 0.0, dt, y, {}, p)
    np.testing.assert_allclose(y_new, y + dt / 2 * (k1 + k2), rtol=1e-14)
    np.testing.assert_allclose(err, dt / 2 * (k2 - k1), rtol=1e-12)
    assert state == {} and status == 0


def test_every_equation_has_a_line(program: ct.Program) -> None:
    text = str(program)
    lines = text.splitlines()
    assert len(lines) >= len(program.eqns)
    names = program.names
    for eqn in program.eqns:
        out = eqn.outputs[0]
        expected = f"{names[out]}:{out.aval.short()} = {eqn.primitive.name}"
        assert sum(line.strip().startswith(expected) for line in lines) == 1, expected
    assert sum("system[" in line for line in lines) == 2  # f called twice
    assert lines[0].startswith("{ lambda heun ; t:f[] dt:f[] y:f[3] p:f[3] . let")
    assert program.input_names == ("t", "dt", "y", "p")
    assert program.output_names == ("y_new", "error", "status")


def test_graph_nodes_are_buffers_with_attributes(program: ct.Program) -> None:
    graph = program.graph
    assert isinstance(graph, nx.DiGraph)
    buffers = {program.names[v] for v in program.variables() if v.is_buffer}
    assert set(graph.nodes) == buffers
    for _, data in graph.nodes(data=True):
        for key in ("shape", "dtype", "elements", "defined_at", "first_use", "last_use"):
            assert key in data
        assert data["shape"] == (3,) and data["elements"] == 3 and data["dtype"] == "float"
        assert data["first_use"] <= data["last_use"]
    assert graph.nodes["y"]["defined_at"] == "input"
    kinds = {d["kind"] for _, _, d in graph.edges(data=True)}
    assert kinds == {"data", "alias"}


def _data_graph(graph: nx.DiGraph) -> nx.DiGraph:
    return graph.edge_subgraph([(u, v) for u, v, d in graph.edges(data=True)
                                if d["kind"] == "data"])


def test_graph_edges_follow_the_computation(program: ct.Program) -> None:
    graph = program.graph
    data = _data_graph(graph)
    names = program.names
    y_new, err = names[program.outputs[0]], names[program.outputs[1]]
    k1, k2 = [n for n, d in graph.nodes(data=True) if d["defined_at"] == "system"]
    assert graph.nodes[k1]["position"] < graph.nodes[k2]["position"]
    assert nx.has_path(data, k1, k2)  # k2 = f(t + dt, y + dt*k1)
    assert not nx.has_path(data, k2, k1)
    # the rhs outputs feed the final sum k1 + k2, which feeds y_new
    (total,) = set(data.successors(k1)) & set(data.successors(k2)) & {
        n for n, d in graph.nodes(data=True) if d["defined_at"] == "add"}
    assert nx.has_path(data, total, y_new)
    assert "y" in data.predecessors(y_new)  # y_new = y + ...
    for k in (k1, k2):
        assert nx.has_path(data, k, err)
    assert {"y", "p"} >= set(data.predecessors(k1))
    assert graph.nodes[y_new]["last_use"] == graph.nodes[err]["last_use"]  # both outputs


def test_alias_edges_point_to_dying_operands(program: ct.Program) -> None:
    graph = program.graph
    aliases = [(u, v) for u, v, d in graph.edges(data=True) if d["kind"] == "alias"]
    assert aliases
    for src, dst in aliases:
        assert graph.has_edge(dst, src) and graph.edges[dst, src]["kind"] == "data"
        assert graph.nodes[dst]["defined_at"] != "input"  # inputs belong to the caller
        assert graph.nodes[dst]["last_use"] == graph.nodes[src]["position"]
        assert graph.nodes[dst]["shape"] == graph.nodes[src]["shape"]
