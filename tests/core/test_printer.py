"""Pretty printing, cloning, unrolled Python loops and child programs."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings

import cubie_trace as ct
from cubie_trace.testing import assert_close_structured, examples, random_programs

X4 = ct.buffer(4)
STRUCTURE = re.compile(r"^\s*(\{ lambda |in \(|(program|cond|body|true|false):$)")


def _nested(x, k):
    def body(carry):
        i, v = carry
        v = ct.cond(ct.sum(v) > 0.0, lambda a: a * 0.5, lambda a: a + 1.0, v)
        return i + 1, v

    return ct.while_loop(lambda c: c[0] < k, body, (0, x))


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def test_nested_bodies_are_indented() -> None:
    lines = str(ct.trace(_nested, X4, ct.scalar("int32"))).splitlines()
    loop = next(i for i, line in enumerate(lines) if "= while_loop" in line)
    body = lines.index(next(line for line in lines if line.strip() == "body:"))
    cond_eqn = next(i for i, line in enumerate(lines) if "= cond" in line)
    true_label = next(i for i, line in enumerate(lines) if line.strip() == "true:")
    halve = next(i for i, line in enumerate(lines) if re.search(r"= mul \w+ 0\.5", line))
    assert loop < body < cond_eqn < true_label < halve
    assert _indent(lines[0]) < _indent(lines[loop]) < _indent(lines[body]) \
        < _indent(lines[cond_eqn]) < _indent(lines[true_label]) < _indent(lines[halve])
    assert re.fullmatch(r"  in \(\w+, \w+\) \}", lines[-1])  # the top level's outputs


def test_hint_names_are_variable_names() -> None:
    def fn(x, y):
        k1 = ct.hint(x * 2.0, name="k1")
        acc = ct.hint(k1 + y, name="acc", location="shared")
        return ct.hint(acc * acc, name="k1")  # a taken name gets a suffix

    program = ct.trace(fn, X4, X4)
    text = str(program)
    assert re.search(r"^\s*k1:f\[4\] = mul x0 2\.0$", text, re.M)
    assert re.search(r"^\s*acc:f\[4\] = add k1 x1$", text, re.M)
    assert re.search(r"^\s*k1_1:f\[4\] = mul acc acc$", text, re.M)
    assert re.search(r"^\s*hint\[name=acc location=shared\] acc$", text, re.M)
    assert program.var("acc") is program.eqns[2].outputs[0]
    with pytest.raises(KeyError, match="no variable named 'zz'"):
        program.var("zz")


def _equation_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if not STRUCTURE.match(line)]


@settings(max_examples=examples(25, 250))
@given(random_programs())
def test_every_equation_is_printed_once(program: ct.Program) -> None:
    eqns = [eqn for _, eqn in program.walk()]
    lines = _equation_lines(str(program))
    assert len(lines) == len(eqns)
    for line, eqn in zip(lines, eqns):
        assert re.search(rf"(^|= ){eqn.primitive.name}\b", line.strip()), (line, eqn)
    names = list(program.names.values())
    assert len(names) == len(set(names)) == len(program.variables())


@settings(max_examples=examples(25, 250))
@given(random_programs())
def test_clone_gives_fresh_variables_and_identical_text(program: ct.Program) -> None:
    clone = program.clone()
    assert str(clone) == str(program)
    assert not set(clone.variables()) & set(program.variables())
    assert len(clone.variables()) == len(program.variables())


def test_clone_evaluates_like_the_original() -> None:
    program = ct.trace(_nested, X4, ct.scalar("int32"))
    x = np.array([1.0, -2.0, 0.5, 3.0])
    assert_close_structured(ct.interpret(program.clone(), x, np.int32(3)),
                            ct.interpret(program, x, np.int32(3)))


@pytest.mark.parametrize("stages", [1, 2, 5, 9])
def test_static_python_loops_unroll(stages: int) -> None:
    def fn(y, x):
        for _ in range(stages):
            y = y * 0.5 + x
        return y

    program = ct.trace(fn, X4, X4)
    assert len(program.eqns) == 2 * stages
    assert [e.primitive.name for e in program.eqns] == ["mul", "add"] * stages
    y, x = np.ones(4), np.full(4, 2.0)
    expected = y.copy()
    for _ in range(stages):
        expected = expected * 0.5 + x
    np.testing.assert_allclose(ct.interpret(program, y, x), expected, rtol=1e-15)


def test_a_child_called_twice_is_two_calls_with_distinct_variables() -> None:
    @ct.function
    def child(v, s):
        return ct.tanh(v) * s + 1.0

    def fn(x, s):
        return child(child(x, s), s * 2.0)

    program = ct.trace(fn, X4, ct.scalar())
    calls = [e for e in program.eqns if e.primitive.name == "call"]
    assert len(calls) == 2
    first, second = (c.params["program"] for c in calls)
    assert first is not second
    assert not set(first.variables()) & set(second.variables())
    assert [e.primitive.name for e in first.eqns] == [e.primitive.name for e in second.eqns]
    text = str(program)
    assert text.count("= call") == 2 and text.count("program:") == 2
    x, s = np.array([0.1, -0.2, 0.3, 2.0]), 1.5
    once = np.tanh(x) * s + 1.0
    np.testing.assert_allclose(ct.interpret(program, x, s), np.tanh(once) * 2 * s + 1.0)


def test_a_child_captures_outer_values_as_inputs() -> None:
    def fn(x, s):
        child = ct.function(lambda v: v * s, name="scaled")
        return child(x) + child(x * 2.0)

    program = ct.trace(fn, X4, ct.scalar())
    calls = [e for e in program.eqns if e.primitive.name == "call"]
    assert [len(c.inputs) for c in calls] == [2, 2]  # the argument and the captured s
    assert all(c.params["program"].name == "scaled" for c in calls)
    np.testing.assert_allclose(ct.interpret(program, np.ones(4), 3.0), np.full(4, 9.0))
