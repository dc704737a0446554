"""Generated source: compiles with numba.njit and agrees with `evaluate`."""

from __future__ import annotations

import math

import numba
import numpy as np
import pytest
import sympy as sp
from numba import cuda, float32
from numba.cuda.cudadrv import nvvm

from cubie_trace.systems.codegen import Printer, function_source
from tests.systems.models import operands, systems

SYSTEMS = systems()
CASES = [(name, fn) for name, system in SYSTEMS.items() for fn in system.functions]


def compiled(source: str, func_name: str, float_type: type = np.float64) -> object:
    namespace = {"FLOAT": float_type, "math": math}
    exec(source, namespace)
    return namespace[func_name]


@pytest.mark.parametrize(("name", "fn"), CASES)
def test_emitted_source_matches_evaluate(name: str, fn: str) -> None:
    system = SYSTEMS[name]
    kernel = numba.njit(compiled(system.emit(fn, f"{name}_{fn}"), f"{name}_{fn}"))
    rng = np.random.default_rng(7)
    for t in (-0.5, 0.0, 0.3, 0.7, 1.99, 2.0, 3.0):  # drivers: before, on, between, after knots
        args = operands(system, fn, rng, t)
        (expected,) = system.evaluate(fn, *args)
        out = np.full(system.definitions[fn].shape, np.nan)
        kernel(*args, out)
        np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


def test_emit_contract() -> None:
    system = SYSTEMS["driven"]
    source = system.emit("operator", "op")
    assert source.startswith("def op(t, y, v, gamma_h, p, d, out):\n")
    assert "import" not in source
    rhs = system.emit("rhs", "f")
    assert "- FLOAT(0.5)" in rhs and "_u0" in rhs and "_u1" in rhs
    jac = SYSTEMS["lorenz"].emit("jacobian", "jac")
    assert "out[2, 2] = " in jac and "out[0, 2] = FLOAT(0.0)" in jac
    sparse = SYSTEMS["chain16"].emit("jacobian", "jac")
    assert "out[_i0, _i1] = FLOAT(0.0)" in sparse and "out[0, 1] =" not in sparse
    assert SYSTEMS["lorenz"].emit("rhs", "r").startswith("def r(t, y, p, out):")
    assert system.emit("drivers", "drv").startswith("def drv(t, p, d, out):")


def test_printer_powers_and_numbers() -> None:
    x, y = sp.symbols("x y", real=True)
    show = Printer({x: "a[0]", y: "a[1]"})
    assert show(x**2) == "a[0]*a[0]"
    assert show(x**-3) == "FLOAT(1.0)/(a[0]*a[0]*a[0])"
    assert show(1 / x) == "FLOAT(1.0)/a[0]"
    assert show(sp.sqrt(x)) == "math.sqrt(a[0])"
    assert show(x**7) == "a[0]**FLOAT(7.0)"
    assert show((x + y) ** 2) == "_p0*_p0" and show.pending == ["_p0 = a[0] + a[1]"]
    assert show(x - 3 * y / 2) == "a[0] - FLOAT(1.5)*a[1]"
    assert show(x / (2 * y)) == "FLOAT(0.5)*a[0]/a[1]"
    assert show(sp.exp(-x)) == "math.exp(-a[0])"


@pytest.mark.parametrize("expr", ["Max(x, y)**2", "Abs(x)*y", "Piecewise((x, x > y), (y, True))",
                                  "Abs(x)**y + atan2(x, y)", "exp(-x**2)/(1 + y**2)", "tanh(x*y)"])
def test_printer_special_functions(expr: str) -> None:
    x, y = sp.symbols("x y", real=True)
    e = sp.sympify(expr, locals={"x": x, "y": y})
    source = function_source("g", ["a"], [e, e.diff(x), e.diff(y)], (3,),
                             {x: "a[0]", y: "a[1]"})
    kernel = numba.njit(compiled(source, "g"))
    reference = sp.lambdify([x, y], [e, e.diff(x), e.diff(y)], "numpy")
    for a in ([0.7, 1.3], [1.3, 0.7], [-0.4, 0.9], [0.5, 0.5]):
        out = np.zeros(3)
        kernel(np.array(a), out)
        np.testing.assert_allclose(out, np.array(reference(*a), dtype=float), rtol=1e-12)


def float32_signature(system: object, fn: str) -> tuple:
    operands = [float32 if o in ("t", "gamma_h") else float32[::1]
                for o in system.definitions[fn].operands]
    return (*operands, float32[:, ::1] if fn == "jacobian" else float32[::1])


FLOAT32_CASES = [c for c in CASES if c[0] == "driven"]


@pytest.mark.parametrize(("name", "fn"), FLOAT32_CASES)
def test_float32_kernels_stay_float32(name: str, fn: str) -> None:
    system = SYSTEMS[name]
    kernel = numba.njit(float32_signature(system, fn))(
        compiled(system.emit(fn, "g"), "g", np.float32))
    (result,) = kernel.overloads.values()
    wide = {var: str(ty) for var, ty in result.type_annotation.typemap.items()
            if "float64" in str(ty) and not var.startswith("$const")}  # FLOAT(1.0)'s 1.0
    assert not wide


@pytest.mark.skipif(not nvvm.is_available(), reason="needs NVVM to compile PTX")
@pytest.mark.parametrize(("name", "fn"), FLOAT32_CASES)
def test_compiles_as_cuda_device_function(name: str, fn: str) -> None:
    system = SYSTEMS[name]
    func = compiled(system.emit(fn, "g"), "g", np.float32)
    ptx, result = cuda.compile_ptx(func, float32_signature(system, fn), device=True,
                                   cc=(8, 0))
    assert ".func" in ptx and str(result) == "none"
