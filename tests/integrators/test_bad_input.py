"""Bad input to `Solver`, `Solver.solve` and `solve_ivp` fails before anything
compiles, with a ValueError or TypeError naming the argument.

`lowering.lower` is replaced by a function that fails the test, so an error
raised only after compiling (or a compile where an error was due) shows up.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest

import cubie_trace as ct
import lowering


class CompiledError(AssertionError):
    """Raised by the stand-in for `lowering.lower`."""


@pytest.fixture(autouse=True)
def no_compile(monkeypatch: pytest.MonkeyPatch) -> None:
    def lower(*args: Any, **kwargs: Any) -> Any:
        raise CompiledError("lowering.lower was called for bad input")

    monkeypatch.setattr(lowering, "lower", lower)


def test_stand_in_is_used(lorenz: ct.ODESystem) -> None:
    """Good input does reach the (patched) compiler: the patch is effective."""
    with pytest.raises(CompiledError):
        ct.solve_ivp(lorenz, (0.0, 1.0), method="tsit5", backend="cpu", progress=False)


SOLVER_CASES = [
    (dict(method="nope"), ValueError, "unknown method 'nope'"),
    (dict(method=3), TypeError, "method"),
    (dict(method="tsit5", controller="nope"), ValueError, "controller"),
    (dict(method="rk4"), ValueError, "needs dt"),
    (dict(method="tsit5", controller="fixed"), ValueError, "needs dt"),
    (dict(method="rk4", dt=1e-3, controller="pi"), ValueError, "no error estimate.*controller"),
    (dict(method="euler", dt=1e-3, controller="i"), ValueError, "no error estimate"),
    (dict(rtol=0.0), ValueError, "rtol"),
    (dict(atol=-1e-8), ValueError, "atol"),
    (dict(rtol=float("nan")), ValueError, "rtol"),
    (dict(rtol="tight"), TypeError, "rtol"),
    (dict(method="rk4", dt=0.0), ValueError, "dt"),
    (dict(dt_min=0.0), ValueError, "dt_min"),
    (dict(dt_max=-1.0), ValueError, "dt_max"),
    (dict(max_steps=0), ValueError, "max_steps"),
    (dict(max_steps=2.5), ValueError, "max_steps"),
    (dict(precision="float16"), ValueError, "precision"),
    (dict(backend="tpu"), ValueError, "backend"),
    (dict(summaries=("mean",)), ValueError, "summarise_every"),
    (dict(summaries=("median",), summarise_every=0.1), ValueError, "summaries.*median"),
    (dict(summaries=(), summarise_every=0.1), ValueError, "summaries"),
    (dict(summaries=("mean",), summarise_every=0.0), ValueError, "summarise_every"),
]


@pytest.mark.parametrize("kwargs, error, match", SOLVER_CASES)
def test_bad_solver_options(lorenz: ct.ODESystem, kwargs: dict, error: type,
                            match: str) -> None:
    kwargs = {"backend": "cpu", **kwargs}
    started = time.perf_counter()
    with pytest.raises(error, match=match):
        ct.Solver(lorenz, **kwargs)
    with pytest.raises(error, match=match):
        ct.solve_ivp(lorenz, (0.0, 1.0), progress=False, **kwargs)
    assert time.perf_counter() - started < 10.0


SOLVE_CASES = [
    # time span and save times
    (dict(t_span=(1.0, 0.0), save_at=[0.2, 0.5]), ValueError, "save_at.*decreasing"),
    (dict(t_span=(0.0, 0.0)), ValueError, "t_span"),
    (dict(t_span=(0.0, float("inf"))), ValueError, "t_span"),
    (dict(t_span=(0.0,)), TypeError, "t_span"),
    (dict(t_span=None), TypeError, "t_span"),
    (dict(t_span=("a", 1.0)), TypeError, "t_span"),
    (dict(save_every=0.1, save_at=[0.5]), ValueError, "save_every or save_at"),
    (dict(save_at=[0.5, 0.2]), ValueError, "save_at.*increasing"),
    (dict(save_at=[0.2, 0.2]), ValueError, "save_at.*increasing"),
    (dict(save_at=[0.5, 2.0]), ValueError, "save_at.*t_span"),
    (dict(save_at=[-0.5, 0.5]), ValueError, "save_at.*t_span"),
    (dict(save_at=[]), ValueError, "save_at"),
    (dict(save_at=[float("nan")]), ValueError, "save_at"),
    (dict(save_every=-0.1), ValueError, "save_every"),
    (dict(save_every=0.0), ValueError, "save_every"),
    # names
    (dict(y0={"q": 1.0}), ValueError, "y0.*unknown.*'q'"),
    (dict(parameters={"nope": 1.0}), ValueError, "parameters.*unknown.*'nope'"),
    (dict(parameters={"x": 1.0}), ValueError, "parameters.*unknown.*'x'"),  # a state
    # shapes
    (dict(y0=np.ones((2, 2))), ValueError, r"y0.*shape.*\(n_runs, 3\)"),
    (dict(y0=np.ones(4)), ValueError, "y0.*shape"),
    (dict(parameters=np.ones((2, 4))), ValueError, "parameters.*shape"),
    (dict(y0={"x": np.ones((2, 2))}), ValueError, r"y0\['x'\].*1-d"),
    (dict(y0={"x": [1.0, 2.0]}, parameters={"rho": [1.0, 2.0, 3.0]}), ValueError,
     "lengths"),
    (dict(y0=np.ones((2, 3)), parameters=np.ones((3, 3))), ValueError, "lengths|runs"),
    # values
    (dict(y0={"x": float("nan")}), ValueError, r"y0\['x'\].*non-finite"),
    (dict(parameters={"rho": [1.0, float("inf")]}), ValueError,
     r"parameters\['rho'\].*non-finite"),
    (dict(y0=np.array([[1.0, np.nan, 0.0]])), ValueError, "y0.*non-finite"),
    (dict(parameters=np.array([10.0, np.inf, 1.0])), ValueError, "parameters.*non-finite"),
    (dict(y0={"x": "one"}), TypeError, r"y0\['x'\].*numbers"),
    (dict(y0="abc"), TypeError, "y0.*numbers"),
    (dict(parameters=[[1.0, 2.0, 3.0], [1.0, 2.0]]), TypeError, "parameters.*numbers"),
    # empty batches
    (dict(y0={"x": []}), ValueError, r"y0\['x'\].*empty"),
    (dict(parameters={"rho": np.array([])}), ValueError, "parameters.*empty"),
    (dict(y0=np.empty((0, 3))), ValueError, "y0.*empty"),
    # batch layout and drivers
    (dict(grid="diagonal"), ValueError, "grid"),
    (dict(y0=np.ones((2, 3)), grid="product"), ValueError, "grid='product'"),
    (dict(drivers={"u": ([0.0, 1.0], [0.0, 1.0])}), ValueError, "drivers"),
]


@pytest.mark.parametrize("kwargs, error, match", SOLVE_CASES)
def test_bad_solve_arguments(lorenz: ct.ODESystem, kwargs: dict, error: type,
                             match: str) -> None:
    kwargs = {"t_span": (0.0, 1.0), "progress": False, **kwargs}
    solver = ct.Solver(lorenz, "tsit5", backend="cpu")
    with pytest.raises(error, match=match):
        solver.solve(**kwargs)
    with pytest.raises(error, match=match):
        ct.solve_ivp(lorenz, method="tsit5", backend="cpu", **kwargs)
    assert solver._kernels == {}


@pytest.mark.parametrize("kwargs, match", [
    (dict(save_every=0.1), "multiple"),  # 0.35 is not a multiple of 0.1
    (dict(save_every=0.7), "multiple"),  # nor of 0.7: a window must hold whole saves
    (dict(save_at=[0.5, 1.0]), "save_every"),
    (dict(), "save_every"),
])
def test_bad_summary_windows(lorenz: ct.ODESystem, kwargs: dict, match: str) -> None:
    solver = ct.Solver(lorenz, "tsit5", backend="cpu", summaries=("mean", "peaks"),
                       summarise_every=0.35)
    with pytest.raises(ValueError, match=match):
        solver.solve((0.0, 1.0), progress=False, **kwargs)


@pytest.mark.parametrize("options, match", [
    (dict(pin={"no_such_buffer": "shared"}), "pin.*no_such_buffer"),
    (dict(policy="everywhere"), "policy"),
])
def test_bad_layout_options(lorenz: ct.ODESystem, options: dict, match: str) -> None:
    """Layout options are checked when the loop is planned, still before compiling."""
    with pytest.raises(ValueError, match=match):
        ct.solve_ivp(lorenz, (0.0, 1.0), method="rk4", dt=0.1, backend="cpu",
                     progress=False, **options)


def test_duplicate_and_reserved_names() -> None:
    with pytest.raises(ValueError, match="'x'"):
        ct.ODESystem.from_equations(["dx = -a*x"], states={"x": 1.0}, parameters={"x": 1.0})
    with pytest.raises(ValueError, match="'t'"):
        ct.ODESystem.from_equations(["dx = -t*x"], states={"x": 1.0}, parameters={"t": 1.0})


def test_bad_driver_samples() -> None:
    system = ct.ODESystem.from_equations(["dx = -x + u"], states={"x": 1.0},
                                         drivers={"u": ([0.0, 1.0, 2.0], [0.0, 1.0, 0.0])})
    solver = ct.Solver(system, "tsit5", backend="cpu")
    with pytest.raises(ValueError, match="drivers.*'u'"):
        solver.solve((0.0, 1.0), drivers={"v": ([0.0, 1.0], [0.0, 1.0])}, progress=False)
    with pytest.raises(ValueError, match="'u'.*3 samples"):
        solver.solve((0.0, 1.0), drivers={"u": ([0.0, 1.0], [0.0, 1.0])}, progress=False)
