"""`ct.check_program`: hand-built bad programs are rejected, traced ones accepted."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings

import cubie_trace as ct
from cubie_trace.core.primitives import PRIMITIVES
from cubie_trace.core.program import Eqn, Program
from cubie_trace.core.values import Aval, Lit, Var
from cubie_trace.testing import examples, random_programs

F3, INT = Aval((3,)), Aval((), "int32")


def eqn(name: str, inputs: list, outputs: list, **params: object) -> Eqn:
    return Eqn(PRIMITIVES[name], tuple(inputs), tuple(outputs), params)


def rejects(program: Program, *fragments: str) -> None:
    with pytest.raises(ct.IRError) as info:
        ct.check_program(program)
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)


def test_use_before_definition() -> None:
    x, a, b = Var(F3), Var(F3), Var(F3)
    program = Program((x,), (b,), (eqn("add", [x, a], [b]), eqn("neg", [x], [a])))
    rejects(program, "variable c is used before its definition", "at `b:f[3] = add a c`")


def test_never_defined() -> None:
    x, ghost, b = Var(F3), Var(F3), Var(F3)
    rejects(Program((x,), (b,), (eqn("mul", [x, ghost], [b]),)), "is never defined",
            "at `b:f[3] = mul a ?2`")


def test_double_definition() -> None:
    x, a = Var(F3), Var(F3)
    program = Program((x,), (a,), (eqn("neg", [x], [a]), eqn("abs", [x], [a])))
    rejects(program, "variable b is defined more than once", "at `b:f[3] = abs a`")


def test_double_definition_across_nested_bodies() -> None:
    x, y, r = Var(F3), Var(F3), Var(F3)
    child = Program((y,), (x,), (eqn("neg", [y], [x]),), name="child")  # redefines x
    rejects(Program((x,), (r,), (eqn("call", [x], [r], program=child),)),
            "defined more than once", "in 'child'")


def test_one_child_object_may_serve_several_call_sites() -> None:
    x, y, z, r, q = Var(F3), Var(F3), Var(F3), Var(F3), Var(F3)
    child = Program((y,), (z,), (eqn("neg", [y], [z]),), name="child")
    ct.check_program(Program((x,), (q,), (eqn("call", [x], [r], program=child),
                                          eqn("call", [r], [q], program=child))))


def test_call_arguments_must_match_the_child_inputs() -> None:
    x, y, z, r = Var(F3), Var(Aval((4,))), Var(Aval((4,))), Var(Aval((4,)))
    child = Program((y,), (z,), (eqn("neg", [y], [z]),), name="child")
    rejects(Program((x,), (r,), (eqn("call", [x], [r], program=child),)),
            "sub-program 'child' takes (f[4]) but is passed (f[3])", "at `d:f[4] = call a`")


def test_call_arity_must_match() -> None:
    x, y, z, r = Var(F3), Var(F3), Var(F3), Var(F3)
    child = Program((y,), (z,), (eqn("neg", [y], [z]),), name="child")
    rejects(Program((x,), (r,), (eqn("call", [x, x], [r], program=child),)),
            "takes 1 inputs but 2 operands are passed")


def test_free_variable_in_a_loop_body() -> None:
    x, k, i, c, outside, nxt, out = (Var(F3), Var(INT), Var(INT), Var(F3), Var(F3), Var(F3),
                                     Var(F3))
    body = Program((i, c), (nxt,), (eqn("add", [c, outside], [nxt]),), name="body")
    program = Program((x, k), (out,), (
        eqn("neg", [x], [outside]),
        eqn("fori_loop", [Lit(0, "int32"), k, x], [out], body=body, n_carry=1)))
    rejects(program, "free variable", "defined in 'program'", "add", "in 'body'")


def test_dtype_mismatch_against_the_rule() -> None:
    x, a = Var(F3), Var(Aval((3,), "int32"))
    rejects(Program((x,), (a,), (eqn("exp", [x], [a]),)),
            "exp of (f[3]) gives (f[3]), not (i[3])", "at `b:i[3] = exp a`")


def test_shape_mismatch_rejected_by_the_rule() -> None:
    x, y, a = Var(F3), Var(Aval((4,))), Var(F3)
    rejects(Program((x, y), (a,), (eqn("add", [x, y], [a]),)), "add's rule rejects")


def test_loop_carry_changing_type() -> None:
    x, k, i, c, nxt, out = Var(F3), Var(INT), Var(INT), Var(F3), Var(Aval((3,), "int32")), \
        Var(Aval((3,), "int32"))
    body = Program((i, c), (nxt,), (eqn("cast", [c], [nxt], dtype="int32"),), name="body")
    program = Program((x, k), (out,), (
        eqn("fori_loop", [Lit(0, "int32"), k, x], [out], body=body, n_carry=1),))
    rejects(program, "carries enter as (f[3]) and leave as (i[3])")


def test_carried_state_must_be_an_input_of_one_type() -> None:
    from cubie_trace.core.program import Carried

    x, a = Var(F3), Var(Aval((3,), "float32"))
    program = Program((x,), (a,), (eqn("cast", [x], [a], dtype="float32"),),
                      carried=(Carried("s", x, a),))
    rejects(program, "carried state 's' enters as f[3] and leaves as f32[3]")


def _nested(x, k):
    @ct.function
    def child(v):
        return v * 2.0 + ct.sum(v)

    def body(i, v):
        v = ct.cond(ct.sum(v) > 0.0, lambda a: child(a) * 0.5, lambda a: child(a) + x, v)
        return v

    return ct.fori_loop(0, k, body, x)


def test_traced_programs_pass() -> None:
    ct.check_program(ct.trace(_nested, ct.buffer(3), ct.scalar("int32")))


@settings(max_examples=examples(50, 500))
@given(random_programs())
def test_random_programs_pass(program: ct.Program) -> None:
    ct.check_program(program)


def test_checking_costs_little_next_to_tracing() -> None:
    from cubie_trace.core.step import get_method
    from cubie_trace.integrators.loop import LoopSpec, build_loop

    system = ct.ODESystem.from_equations(["dx = -k*x", "dy = x - y"],
                                         states={"x": 1.0, "y": 0.0}, parameters={"k": 0.5})
    spec = LoopSpec(get_method("dopri5", system), ct.Controller("pi"), 4)
    build_loop(system, spec)  # system functions are built once, on first use
    traced, checked = [], []
    for _ in range(5):  # the fastest of several runs: the machine may be busy
        start = time.perf_counter()
        program = build_loop(system, spec)  # tracing, the check included
        traced.append(time.perf_counter() - start)
        start = time.perf_counter()
        ct.check_program(program)
        checked.append(time.perf_counter() - start)
    assert min(checked) < 0.25 * min(traced), (checked, traced)
