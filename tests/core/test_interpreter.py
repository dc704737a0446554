"""The reference interpreter: input validation, working precision, control flow."""

from __future__ import annotations

import numpy as np
import pytest

import cubie_trace as ct

DECAY = ct.ODESystem.from_equations(["dx = -k*x", "dy = x - y"], states={"x": 1.0, "y": 0.0},
                                    parameters={"k": 0.5})


@ct.step(order=1, state={"prev": "n"})
def euler(f, t, dt, y, state):
    k = f(t, y)
    return y + dt * k, None, {"prev": k}, ct.OK


@pytest.fixture(scope="module")
def step_program() -> ct.Program:
    return ct.trace(euler, system=DECAY)


def test_structured_and_flat_inputs_agree(step_program: ct.Program) -> None:
    y, prev, p = np.array([1.0, 2.0]), np.zeros(2), np.array([0.5])
    structured = ct.interpret(step_program, 0.0, 0.1, y, {"prev": prev}, p)
    flat = ct.interpret(step_program, 0.0, 0.1, y, prev, p)
    np.testing.assert_allclose(structured[0], [1.0 - 0.05, 2.0 + 0.1 * (1.0 - 2.0)])
    np.testing.assert_array_equal(structured[2]["prev"], [-0.5, -1.0])
    np.testing.assert_array_equal(flat[0], structured[0])


def test_wrong_number_of_inputs_names_them(step_program: ct.Program) -> None:
    with pytest.raises(TypeError, match=r"euler takes 5 inputs \(t, dt, y, prev, p\), got 4"):
        ct.interpret(step_program, 0.0, 0.1, np.ones(2), np.ones(1))
    with pytest.raises(TypeError, match="takes 1 inputs .*got 2"):
        ct.interpret(ct.trace(lambda x: x, ct.buffer(2)), np.ones(2), np.ones(2))


def test_wrong_shape_names_the_input(step_program: ct.Program) -> None:
    with pytest.raises(ValueError, match=r"interpret: y must have shape \(2,\), got \(3,\)"):
        ct.interpret(step_program, 0.0, 0.1, np.ones(3), np.ones(2), np.ones(1))
    with pytest.raises(ValueError, match=r"interpret: dt must have shape \(\), got \(2,\)"):
        ct.interpret(step_program, 0.0, np.ones(2), np.ones(2), np.ones(2), np.ones(1))


def test_bad_precision(step_program: ct.Program) -> None:
    with pytest.raises(ValueError, match="precision must be 'float32' or 'float64'"):
        ct.interpret(step_program, 0.0, 0.1, np.ones(2), np.ones(2), np.ones(1),
                     precision="float16")


def test_float32_precision_computes_in_float32() -> None:
    def fn(x, s):
        return (x + s) - x, ct.sum(x) / 3.0, ct.zeros(2), ct.astype(x, "float64") / 3.0

    program = ct.trace(fn, ct.buffer(2), ct.scalar())
    x = np.array([1.0, 1.0])
    lost, third, zeros, pinned = ct.interpret(program, x, 1e-8, precision="float32")
    # 1 + 1e-8 rounds to 1 in float32; casting a float64 result would keep 1e-8
    np.testing.assert_array_equal(lost, [0.0, 0.0])
    assert lost.dtype == third.dtype == zeros.dtype == np.float32
    assert third == np.float32(2.0) / np.float32(3.0)
    assert pinned.dtype == np.float64  # an explicit float64 stays float64
    lost64, third64, zeros64, _ = ct.interpret(program, x, 1e-8)
    assert lost64.dtype == third64.dtype == zeros64.dtype == np.float64
    assert lost64[0] != 0.0 and third64 == 2.0 / 3.0


def test_float32_taps_and_loop_carries_stay_float32() -> None:
    def fn(x):
        def body(i, acc):
            ct.tap("acc", acc)
            return acc * 0.5 + ct.astype(i, "float")

        return ct.fori_loop(0, 3, body, x)

    out, taps = ct.interpret(ct.trace(fn, ct.buffer(2)), np.ones(2), precision="float32",
                             log=True)
    assert out.dtype == np.float32 and all(t.dtype == np.float32 for t in taps["acc"])
    np.testing.assert_array_equal(out, [2.625, 2.625])  # 1 -> 0.5 -> 1.25 -> 2.625
    np.testing.assert_array_equal([t[0] for t in taps["acc"]], [1.0, 0.5, 1.25])


def test_while_loop_and_cond_follow_the_data() -> None:
    def collatz(n):
        def body(c):
            k, steps = c
            k = ct.cond(k // 2 * 2 == k, lambda m: m // 2, lambda m: 3 * m + 1, k)
            return k, steps + 1

        return ct.while_loop(lambda c: c[0] != 1, body, (n, 0))[1]

    program = ct.trace(collatz, ct.scalar("int32"))
    assert [int(ct.interpret(program, np.int32(n))) for n in (1, 2, 6, 7, 27)] == \
        [0, 1, 8, 16, 111]
