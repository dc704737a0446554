"""Programs and equations are immutable; changes make new programs."""

from __future__ import annotations

import attrs
import numpy as np
import pytest

import cubie_trace as ct


def _program() -> ct.Program:
    def fn(x, k):
        return ct.fori_loop(0, k, lambda i, v: v * 0.5 + 1.0, x)

    return ct.trace(fn, ct.buffer(3), ct.scalar("int32"))


@pytest.mark.parametrize("field, value", [
    ("input_names", ("a", "b")), ("carried", ()), ("eqns", ()), ("name", "other"),
    ("meta", {}), ("outputs", ())])
def test_assigning_a_program_field_raises(field: str, value: object) -> None:
    program = _program()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        setattr(program, field, value)


def test_equations_and_their_parameters_are_read_only() -> None:
    eqn = next(e for e in _program().eqns if e.primitive.name == "fori_loop")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        eqn.inputs = ()
    with pytest.raises(TypeError):
        eqn.params["n_carry"] = 2  # type: ignore[index]


def test_variables_are_immutable() -> None:
    var = _program().inputs[0]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        var.aval = ct.scalar()  # type: ignore[misc]


def test_meta_is_read_only_and_a_copy() -> None:
    source = {"kind": "test"}
    program = _program().replace(meta=source)
    source["kind"] = "changed"
    assert program.meta["kind"] == "test"
    with pytest.raises(TypeError):
        program.meta["kind"] = "other"  # type: ignore[index]


def test_replace_gives_a_new_program_with_fresh_names() -> None:
    program = _program()
    assert program.names[program.inputs[0]] == "x0"
    renamed = program.replace(input_names=("y", "n"))
    assert renamed is not program
    assert renamed.names[renamed.inputs[0]] == "y" and renamed.names[renamed.inputs[1]] == "n"
    assert program.names[program.inputs[0]] == "x0"  # the original's names did not go stale
    assert "y:f[3]" in str(renamed) and "y:f[3]" not in str(program)
    x = np.array([1.0, 2.0, -4.0])
    np.testing.assert_array_equal(ct.interpret(renamed, x, np.int32(2)), (x * 0.5 + 1.0) * 0.5
                                  + 1.0)


def test_traced_steps_declare_their_fields_at_construction() -> None:
    system = ct.ODESystem.from_equations(["dx = -k*x"], states={"x": 1.0},
                                         parameters={"k": 0.5})
    program = ct.trace("rk4", system=system)
    assert program.input_names[:3] == ("t", "dt", "y")
    assert program.meta["kind"] == "step" and program.meta["order"] == 4
