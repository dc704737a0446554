"""Hostile model input: strings run nothing, work stays bounded, names stay apart."""

from __future__ import annotations

import math
import re
import time
from pathlib import Path

import numpy as np
import pytest

import cubie_trace as ct
from cubie_trace.systems import codegen

HANG_GUARD_S = 5.0  # generous: each case takes milliseconds; this only catches hangs


def payloads(marker: Path) -> list[str]:
    return [f"__import__('os').system('touch {marker}')",
            f"__import__('pathlib').Path('{marker}').touch()",
            f"open('{marker}', 'w')",
            "().__class__.__base__.__subclasses__()",
            f"exec(\"open('{marker}', 'w')\")"]


@pytest.mark.parametrize("index", range(5))
def test_mass_matrix_payload_runs_nothing(tmp_path: Path, index: int) -> None:
    marker = tmp_path / "marker"
    payload = payloads(marker)[index]
    with pytest.raises(ValueError, match="mass matrix"):
        ct.ODESystem({"x": "-x"}, states={"x": 1.0}, mass=[[payload]])
    with pytest.raises(ValueError, match="mass matrix"):
        ct.ODESystem({"x": "-x", "y": "-y"}, states={"x": 1.0, "y": 1.0}, mass=[1.0, payload])
    assert not marker.exists()


@pytest.mark.filterwarnings("ignore:undeclared symbol")
def test_payloads_in_every_text_field_run_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    for payload in payloads(marker):
        with pytest.raises(ValueError):
            ct.ODESystem({"x": payload}, states={"x": 1.0})
        with pytest.raises(ValueError):
            ct.ODESystem.from_equations([f"dx = {payload}"], states={"x": 1.0})
        with pytest.raises(ValueError):
            ct.ODESystem.from_equations(["dx = -x"], states={"x": 1.0},
                                        observables={"o": payload})
        with pytest.raises(ValueError):
            ct.ODESystem.from_equations(["dx = -x"], states={"x": 1.0},
                                        observables=[f"o = {payload}"])
        with pytest.raises(ValueError):
            ct.ODESystem.from_equations(["dx = -x"], states={"x": 1.0}, strict=False,
                                        observables=[f"o = {payload}"])
    assert not marker.exists()


def test_numeric_mass_matrices_still_work() -> None:
    system = ct.ODESystem({"x": "-x", "y": "-y"}, states={"x": 1.0, "y": 1.0},
                          parameters={"m": 3.0}, mass=np.array([[2.0, 0.5], [0.0, 1.0]]))
    v = np.array([1.0, -2.0])
    (mv,) = system.evaluate("operator", 0.0, np.ones(2), v, 0.0, np.array([3.0]))
    np.testing.assert_allclose(mv, [2.0 - 1.0, -2.0])
    diagonal = ct.ODESystem({"x": "-x", "y": "-y"}, states={"x": 1.0, "y": 1.0},
                            parameters={"m": 3.0}, mass=[2, "m"])
    (mv,) = diagonal.evaluate("operator", 0.0, np.ones(2), v, 0.0, np.array([3.0]))
    np.testing.assert_allclose(mv, [2.0, -6.0])


def test_declared_names_win_over_sympy_constants() -> None:
    names = {"E": 2.0, "I": 3.0, "pi": 5.0, "S": 7.0, "N": 11.0, "oo": 13.0}
    system = ct.ODESystem({"x": "-E*x + I", "y": "pi*S - N*y + oo"}, states={"x": 1.0, "y": 2.0},
                          parameters=names, mass=[["E", "I"], ["0", "pi + N"]])
    p = np.array(list(names.values()))
    (rhs,) = system.evaluate("rhs", 0.0, np.array([1.0, 2.0]), p)
    np.testing.assert_allclose(rhs, [-2.0 + 3.0, 5.0 * 7.0 - 11.0 * 2.0 + 13.0], rtol=1e-15)
    v = np.array([1.0, 10.0])
    (mv,) = system.evaluate("operator", 0.0, np.array([1.0, 2.0]), v, 0.0, p)
    np.testing.assert_allclose(mv, [2.0 * 1 + 3.0 * 10, (5.0 + 11.0) * 10], rtol=1e-15)
    undeclared = ct.ODESystem({"x": "pi*x"}, states={"x": 1.0})
    np.testing.assert_allclose(undeclared.evaluate("rhs", 0.0, np.ones(1), np.zeros(0))[0],
                               [math.pi])


@pytest.mark.parametrize("line", ["dx = 10**10**10*x", "dx = 2**(3**(4**5))*x",
                                  "dx = x*10**400", "dx = (1e300**64)*x", "dx = 9**99*x",
                                  "dx = exp(exp(exp(100)))*x", "dx = x**(10**10**10)"])
def test_power_towers_are_refused_fast(line: str) -> None:
    start = time.perf_counter()
    with pytest.raises(ValueError, match=r"equation 'dx = .*(exponent|float64)"):
        ct.ODESystem.from_equations([line], states={"x": 1.0})
    assert time.perf_counter() - start < HANG_GUARD_S


def test_chained_squarings_give_linear_source() -> None:
    n = 22
    equations = ["a1 = x**2 + x", *(f"a{i} = a{i - 1}**2 + x" for i in range(2, n + 1)),
                 f"dx = a{n}"]
    start = time.perf_counter()
    system = ct.ODESystem.from_equations(equations, states={"x": -0.5})
    assert time.perf_counter() - start < HANG_GUARD_S
    source = system.emit("rhs", "f")
    assert len(source) < 100_000
    namespace = {"FLOAT": np.float64, "math": math}
    exec(source, namespace)
    out = np.zeros(1)
    namespace["f"](0.0, np.array([-0.5]), np.zeros(0), out)
    value = -0.5
    for _ in range(n):
        value = value * value - 0.5
    np.testing.assert_allclose(out, [value], rtol=1e-13)


@pytest.mark.parametrize("line", ["dx = 1e400*x", "dx = -1e309*x", "dx = 1e300*x*1e300",
                                  "dx = x/0", "dx = exp(1000)*x", "dx = log(0)*x",
                                  "dx = sqrt(-1)*x", "dx = " + "9" * 400 + "*x"])
def test_non_finite_numbers_name_the_equation(line: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f"equation {line!r}")):
        ct.ODESystem.from_equations([line], states={"x": 1.0})


@pytest.mark.parametrize("literal", ["1j", "0x10", "0b11", "0o7", "1_000", "1e5j"])
def test_only_decimal_literals(literal: str) -> None:
    with pytest.raises(ValueError, match="unsupported number"):
        ct.ODESystem.from_equations([f"dx = {literal}*x"], states={"x": 1.0})


def test_generated_source_is_limited(monkeypatch: pytest.MonkeyPatch) -> None:
    system = ct.ODESystem.from_equations(
        ["dx = " + " + ".join(f"sin({k}*x)" for k in range(1, 60))], states={"x": 1.0},
        name="wide")
    monkeypatch.setattr(codegen, "MAX_SOURCE_CHARS", 500)
    with pytest.raises(ValueError, match=r"system 'wide', function 'rhs'.*exceeds 500"):
        system.emit("rhs", "f")


@pytest.mark.parametrize(("first", "second"), [("fi", "\ufb01"), ("x", "\uff58"),
                                               ("\u00e9", "e\u0301"), ("IX", "\u2168")])
def test_nfkc_equal_names_clash(first: str, second: str) -> None:
    with pytest.raises(ValueError, match=f"{second!r}.*{first!r}|{first!r}.*{second!r}"):
        ct.ODESystem({first: "-1"}, states={first: 1.0}, parameters={second: 1.0})
    with pytest.raises(ValueError, match="NFKC"):
        ct.ODESystem.from_equations([f"{second} = 2*{first}", f"d{first} = -{first}"],
                                    states={first: 1.0})
    with pytest.raises(ValueError, match="NFKC"):
        ct.ODESystem.from_equations([f"d{first} = -{first}"], states={first: 1.0},
                                    observables=[f"{second} = {first}"])


def test_time_has_no_look_alike() -> None:
    with pytest.raises(ValueError, match="time"):
        ct.ODESystem({"x": "-x"}, states={"x": 1.0}, parameters={"\uff54": 1.0})


def test_look_alike_reads_the_declared_name() -> None:
    system = ct.ODESystem.from_equations(["dfi = -2*\ufb01"], states={"fi": 1.0})
    np.testing.assert_allclose(system.evaluate("rhs", 0.0, np.ones(1), np.zeros(0))[0], [-2.0])
    fullwidth = ct.ODESystem.from_equations(["d\uff58 = -3*x"], states={"x": 1.0})
    np.testing.assert_allclose(fullwidth.evaluate("rhs", 0.0, np.ones(1), np.zeros(0))[0],
                               [-3.0])
    with pytest.raises(ValueError, match="two derivatives"):
        ct.ODESystem.from_equations(["dx = -x", "d\uff58 = -3*x"], states={"x": 1.0})


def test_constants_obey_the_number_bounds() -> None:
    with pytest.raises(ValueError, match=re.escape("equation 'dx = exp(exp(c))*x'")):
        ct.ODESystem.from_equations(["dx = exp(exp(c))*x"], states={"x": 1.0},
                                    constants={"c": 100.0})
    with pytest.raises(ValueError, match="exponent"):
        ct.ODESystem({"x": "c**c**c*x"}, states={"x": 1.0}, constants={"c": 10.0})


def test_python_functions_read_look_alike_attributes() -> None:
    # Python normalises `p.ﬁ` to `p.fi`; it still reads the parameter declared as "ﬁ"
    system = ct.ODESystem.from_function(lambda t, y, p: [-p.ﬁ * y.x], states={"x": 1.0},
                                        parameters={"\ufb01": 2.0})
    np.testing.assert_allclose(system.evaluate("rhs", 0.0, np.ones(1), np.array([2.0]))[0],
                               [-2.0])


@pytest.mark.parametrize("step", ["sin(a{})", "(a{})**3 + x"])
def test_deep_auxiliary_chains_are_refused(step: str) -> None:
    equations = ["a0 = x", *(f"a{i} = " + step.format(i - 1) for i in range(1, 150)),
                 "dx = a149"]
    start = time.perf_counter()
    with pytest.raises(ValueError, match="nested deeper than"):
        ct.ODESystem.from_equations(equations, states={"x": 1.0})
    assert time.perf_counter() - start < HANG_GUARD_S
    with pytest.raises(ValueError, match="nested deeper than"):
        ct.ODESystem.from_equations(["dx = " + "sin(" * 150 + "x" + ")" * 150],
                                    states={"x": 1.0})


def test_hostile_names_solve_like_the_closed_form() -> None:
    # keywords, dunders, generated-code names, SymPy constants and a look-alike as names
    states = {"__class__": 1.0, "_p0": 0.0, "\ufb01": 0.5}
    parameters = {"lambda": 2.0, "E": 0.5, "FLOAT": 1.0}
    equations = ["d__class__ = -lambda*__class__", "d_p0 = lambda*__class__ - E*_p0",
                 "d\ufb01 = -fi*FLOAT + where(_p0 > 10, 1, 0)"]
    with_mass = ct.ODESystem.from_equations(equations, states=states, parameters=parameters,
                                            mass=[1, 1, "FLOAT"], name="hostile")
    with pytest.raises(ValueError, match="explicit"):  # the mass entry reads the parameter
        ct.Solver(with_mass, "rk4", dt=1e-3, backend="cpu")
    system = ct.ODESystem.from_equations(equations, states=states, parameters=parameters,
                                         name="hostile")
    sol = ct.Solver(system, "rk4", dt=1e-3, backend="cpu").solve((0.0, 0.5), progress=False)
    t, a, e = 0.5, 2.0, 0.5
    expected = [math.exp(-a * t), a / (a - e) * (math.exp(-e * t) - math.exp(-a * t)),
                0.5 * math.exp(-t)]
    np.testing.assert_allclose(sol.y[0, -1], expected, rtol=1e-9)
