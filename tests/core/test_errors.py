"""Every misuse the tracer cannot record raises a TracerError that says what to do."""

from __future__ import annotations

import numpy as np
import pytest

import cubie_trace as ct

X3 = ct.buffer(3)
CONTROL = r"ct\.cond.*ct\.where"  # the advice names ct.cond and ct.where


def _int(x):
    return ct.astype(ct.sum(x), "int32")


def _if(x):
    if ct.sum(x) > 0:
        return x
    return -x


def _while_python(x):
    while ct.sum(x) < 10.0:
        x = x * 2.0
    return x


def _raises(fn, match: str, *args) -> None:
    with pytest.raises(ct.TracerError, match=match):
        ct.trace(fn, *(args or (X3,)))


@pytest.mark.parametrize(("fn", "match"), [
    (_if, r"Python `if`.*" + CONTROL),
    (_while_python, r"Python `if`.*" + CONTROL),
    (lambda x: bool(ct.sum(x) > 0), r"bool\(\).*" + CONTROL),
    (lambda x: (ct.sum(x) > 0) and x, r"`and`.*" + CONTROL),
    (lambda x: int(ct.sum(x)), r"`int\(\)` of a traced value.*" + CONTROL),
    (lambda x: float(ct.sum(x)), r"`float\(\)` of a traced value.*" + CONTROL),
    (lambda x: [1.0, 2.0, 3.0][_int(x)], r"Python index.*" + CONTROL),
    (lambda x: range(_int(x)), r"Python index or size"),
    (lambda x: len(ct.sum(x)), r"`len\(\)` of a traced scalar.*" + CONTROL),
    (lambda x: [v for v in ct.sum(x)], r"iteration over a traced scalar.*" + CONTROL),
])
def test_python_control_flow_on_traced_values(fn, match: str) -> None:
    _raises(fn, match)


def test_static_length_and_iteration_of_buffers_work() -> None:
    program = ct.trace(lambda x: [v * 2.0 for v in x][len(x) - 1], X3)
    np.testing.assert_array_equal(ct.interpret(program, np.array([1.0, 2.0, 3.0])), 6.0)


@pytest.mark.parametrize(("fn", "match"), [
    (lambda x: x + x[0:2], r"add: operand shapes \[\(2,\), \(3,\)\] do not match"),
    (lambda x: ct.where(x > 0, x, x[1:]), "where: operand shapes"),
    (lambda x: ct.dot(x, x[0:2]), r"dot: operand shapes \(3,\) and \(2,\) do not match"),
    (lambda x: ct.sum(ct.sum(x)), "sum: expected a buffer, got a scalar"),
    (lambda x: ct.stack([x, x[0:2]]), "stack: rows must be buffers of one shape"),
    (lambda x: ct.stack([]), "stack: needs at least one row"),
    (lambda x: ct.stack([x, x]).at[0].set(x[0:2]), r"cannot set a value of shape \(2,\)"),
    (lambda x: ct.where(x, x, x), "where: the condition must be bool or int32"),
    (lambda x: ct.full(3, x), "fill: the value must be a scalar"),
])
def test_shape_and_dtype_mismatches(fn, match: str) -> None:
    _raises(fn, match)


def _cond(true_fn, false_fn):
    return lambda x: ct.cond(ct.sum(x) > 0, true_fn, false_fn, x)


@pytest.mark.parametrize(("fn", "match"), [
    (_cond(lambda a: a, lambda a: a[0:2]),
     r"cond: the branches' outputs differ: expected \['f\[3\]'\], got \['f\[2\]'\]"),
    (_cond(lambda a: ct.sum(a), lambda a: 0), r"expected \['f\[\]'\], got \['i\[\]'\].*0\.0"),
    (_cond(lambda a: (a, a), lambda a: [a, a]), "cond: the branches return different structures"),
    (_cond(lambda a: a, lambda a: (a,)), "cond: the branches return different structures"),
    (lambda x: ct.cond(ct.sum(x), lambda a: a, lambda a: a, x),
     "cond: the predicate must be a bool or int32 scalar"),
    (lambda x: ct.cond(x > 0, lambda a: a, lambda a: a, x),
     "cond: the predicate must be a bool or int32 scalar"),
])
def test_cond_misuse(fn, match: str) -> None:
    _raises(fn, match)


def _count(body, cond=lambda c: c[0] < 3):
    return lambda x: ct.while_loop(cond, body, (0, x))


@pytest.mark.parametrize(("fn", "match"), [
    (_count(lambda c: (c[0] + 1.0, c[1])),
     r"while_loop: the body changes the carry: expected \['i\[\]', 'f\[3\]'\], got \['f\[\]'"),
    (_count(lambda c: (c[0] + 1, c[1][0:2])), r"the body changes the carry.*f\[2\]"),
    (_count(lambda c: [c[0] + 1, c[1]]), "while_loop: the body must return a carry of the same "
                                         "structure as init"),
    (_count(lambda c: (c[0] + 1, c[1]), cond=lambda c: ct.sum(c[1])),
     "while_loop: cond_fn must return one bool scalar"),
    (_count(lambda c: (c[0] + 1, c[1]), cond=lambda c: c[1] > 0),
     "while_loop: cond_fn must return one bool scalar"),
    (lambda x: ct.fori_loop(0, 2.0, lambda i, c: c, x), "fori_loop: bounds must be int32"),
    (lambda x: ct.fori_loop(0, 2, lambda i, c: i, 0.0), "fori_loop: the body changes the carry"),
])
def test_loop_misuse(fn, match: str) -> None:
    _raises(fn, match)


def test_leaked_tracer_used_after_its_trace_ended() -> None:
    saved = []
    ct.trace(lambda x: saved.append(x * 2.0) or x, X3)
    _raises(lambda x: x + saved[0], r"escaped the function that computed it \(leaked tracer\)")


def test_tracer_leaked_out_of_a_branch() -> None:
    inner = []

    def fn(x):
        y = ct.cond(ct.sum(x) > 0, lambda a: inner.append(a * 3.0) or a, lambda a: a, x)
        return y + inner[0]

    _raises(fn, "leaked tracer")


def test_tracer_from_another_trace() -> None:
    _raises(lambda x: ct.trace(lambda y: y + x, X3), "a traced value from another trace")


@pytest.mark.parametrize("fn", [
    lambda x: x * np.ones(3),
    lambda x: np.ones(3) + x,
    lambda x: np.ones(3) < x,
    lambda x: ct.where(x > 0, np.ones(3), x),
])
def test_array_constants_cannot_enter_a_trace(fn) -> None:
    _raises(fn, "array constants cannot enter a traced function; pass arrays as inputs")


def test_zero_dimensional_array_constants_are_literals() -> None:
    program = ct.trace(lambda x: np.array(2.0) * x + np.float64(1.0), X3)
    np.testing.assert_array_equal(ct.interpret(program, np.ones(3)), [3.0, 3.0, 3.0])


@pytest.mark.parametrize(("fn", "match"), [
    (lambda x: x[5], "index 5 out of range for length 3"),
    (lambda x: x[-4], "index -4 out of range for length 3"),
    (lambda x: x[ct.sum(x)], r"a traced index must be an int32 scalar, got Tracer<f\[\]>"),
    (lambda x: x[_int(x) > 0], "a traced index must be an int32 scalar"),
    (lambda x: x["a"], "index must be an int or a traced int32 scalar, got 'a'"),
    (lambda x: x[1.0], "index must be an int or a traced int32 scalar"),
    (lambda x: ct.sum(x)[0], "cannot index a scalar"),
    (lambda x: ct.stack([x, x]).at[2].set(x), "index 2 out of range for length 2"),
    (lambda x: x[::2], "slices with a step are not supported"),
    (lambda x: x[2:0:-1], "slices with a step are not supported"),
    (lambda x: ct.stack([x, x])[0:1], "slices apply to 1-d buffers only"),
])
def test_bad_index_and_slice(fn, match: str) -> None:
    _raises(fn, match)


@pytest.mark.parametrize(("fn", "match"), [
    (lambda x: ct.hint(x, location="global"), r"hint: location must be one of \('shared', "
                                              r"'local'\), got 'global'"),
    (lambda x: ct.hint(x, name="not valid"), "hint: name must be an identifier"),
    (lambda x: ct.tap("a b", x), "tap: name must be an identifier"),
])
def test_bad_annotations(fn, match: str) -> None:
    # argument errors, the same in traced and eager code: ValueError, not TracerError
    with pytest.raises(ValueError, match=match):
        ct.trace(fn, X3)
    with pytest.raises(ValueError, match=match):
        fn(np.zeros(3))


def test_integer_literal_out_of_int32_range() -> None:
    with pytest.raises(OverflowError, match="does not fit in int32"):
        ct.trace(lambda x: x + 2**40, X3)


# ---------------------------------------------------------------- steps

DECAY = ct.ODESystem.from_equations(["dx = -k*x", "dy = x - y"], states={"x": 1.0, "y": 0.0},
                                    parameters={"k": 0.5})


def _step(fn, **kw):
    return ct.step(order=1, name="bad", **kw)(fn)


@pytest.mark.parametrize(("step", "match"), [
    (_step(lambda f, t, dt, y, s: (y, None, s)),
     r"step 'bad' must return \(y_new, error_or_None, state_new, status\), got tuple"),
    (_step(lambda f, t, dt, y, s: [y, None, s, ct.OK]), "must return .* got list"),
    (_step(lambda f, t, dt, y, s: (y[0:1], None, s, ct.OK)), r"y_new must be f\[2\], got f\[1\]"),
    (_step(lambda f, t, dt, y, s: (ct.sum(y), None, s, ct.OK)), r"y_new must be f\[2\]"),
    (_step(lambda f, t, dt, y, s: (y, y, s, ct.OK)),
     r"returns an error estimate exactly when it declares error_order \(error_order=None\)"),
    (_step(lambda f, t, dt, y, s: (y, None, s, ct.OK), error_order=1),
     r"error estimate exactly when it declares error_order \(error_order=1\)"),
    (_step(lambda f, t, dt, y, s: (y, y[0:1], s, ct.OK), error_order=1),
     r"error must be f\[2\], got f\[1\]"),
    (_step(lambda f, t, dt, y, s: (y, None, {"q": y}, ct.OK), state={"k": "n"}),
     r"state_new must be a dict with keys \['k'\]"),
    (_step(lambda f, t, dt, y, s: (y, None, {}, ct.OK), state={"k": "n"}),
     r"state_new must be a dict with keys \['k'\]"),
    (_step(lambda f, t, dt, y, s: (y, None, {"k": t}, ct.OK), state={"k": "n"}),
     r"state_new\['k'\] must be f\[2\], got f\[\]"),
    (_step(lambda f, t, dt, y, s: (y, None, s, 0.0)), r"status must be i\[\], got f\[\]"),
])
def test_step_contract(step, match: str) -> None:
    with pytest.raises(ct.TracerError, match=match):
        ct.trace(step, system=DECAY)


def test_a_correct_step_traces() -> None:
    step = _step(lambda f, t, dt, y, s: (y + dt * f(t, y), None, {"k": s["k"] + 1.0}, ct.OK),
                 state={"k": "n"})
    program = ct.trace(step, system=DECAY)
    assert program.input_names == ("t", "dt", "y", "k", "p")
    assert program.output_names == ("y_new", "k_new", "status")
    y_new, error, state, status = ct.interpret(program, 0.0, 0.1, np.array([1.0, 0.0]),
                                               {"k": np.zeros(2)}, np.array([0.5]))
    np.testing.assert_allclose(y_new, [1.0 - 0.1 * 0.5, 0.1])
    assert error is None
    np.testing.assert_array_equal(state["k"], [1.0, 1.0])
    assert status == 0
