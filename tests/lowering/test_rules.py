"""Every primitive has a lowering rule, and the one table is what codegen dispatches on."""

from __future__ import annotations

import pytest

import cubie_trace as ct
from cubie_trace.core.primitives import PRIMITIVES, Primitive
from cubie_trace.core.program import Eqn, Program
from cubie_trace.core.values import Aval, Var
from lowering import lower
from lowering.codegen import LOWERING


def test_every_primitive_has_exactly_one_lowering_rule() -> None:
    assert set(LOWERING) == set(PRIMITIVES)


def test_a_primitive_without_a_lowering_rule_is_refused() -> None:
    x, y = Var(Aval((3,))), Var(Aval((3,)))
    twice = Primitive("twice", "elementwise", PRIMITIVES["neg"].abstract,
                      lambda v: [2 * v])
    program = Program((x,), (y,), (Eqn(twice, (x,), (y,)),))
    ct.check_program(program)  # well formed: the rules core knows hold
    with pytest.raises(NotImplementedError, match="no lowering for primitive 'twice'"):
        lower(program, ct.plan(program), target="cpu")
