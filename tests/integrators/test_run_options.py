"""Run-time options: what changes between solves without compiling again, an immutable
Solver with `replace`, truthful timings, and scipy's conventions (first step,
t_eval, per-state tolerances). References are closed forms."""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
import pytest

import cubie_trace as ct
import lowering


@pytest.fixture(scope="module")
def decay2() -> ct.ODESystem:
    """Two decays of rates k and 2k: x = x0 exp(-k t), y = y0 exp(-2 k t)."""
    return ct.ODESystem.from_equations(["dx = -k*x", "dy = -2*k*y"],
                                       states={"x": 1.0, "y": 1e-8}, parameters={"k": 1.0},
                                       name="decay2")


def exact(t: Any, x0: float = 1.0, y0: float = 1e-8, k: float = 1.0) -> np.ndarray:
    t = np.asarray(t, dtype=float)
    return np.stack([x0 * np.exp(-k * t), y0 * np.exp(-2 * k * t)], axis=-1)


@pytest.fixture()
def compiles(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the programs lowered (and compiled) while the test runs."""
    seen: list[str] = []
    original = lowering.lower

    def counting(program: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(program.name)
        return original(program, *args, **kwargs)

    monkeypatch.setattr(lowering, "lower", counting)
    return seen


CHANGES = [dict(rtol=1e-9), dict(atol=[1e-6, 1e-14]), dict(max_steps=50), dict(dt_min=1e-9),
           dict(dt_max=0.05), dict(first_step=1e-3), dict(dt=0.01)]


def test_run_time_options_do_not_recompile(decay2: ct.ODESystem,
                                           compiles: list[str]) -> None:
    """One compile serves every tolerance, step limit, first step, span and set of save
    times of the same count; each changed option takes effect."""
    solver = ct.Solver(decay2, "tsit5", rtol=1e-5, atol=1e-10, backend="cpu")
    base = solver.solve((0.0, 2.0), save_every=0.5, progress=False)
    assert len(compiles) == 1 and base.info["compile_s"] > 0
    steps = {}
    for change in CHANGES:
        sol = solver.replace(**change).solve((0.0, 2.0), save_every=0.5, progress=False)
        assert sol.info["compile_s"] == 0.0
        steps[str(change)] = int(sol.stats["accepted"][0])
    shifted = solver.solve((1.0, 4.0), save_at=[1.0, 1.5, 2.5, 3.0, 4.0], progress=False)
    np.testing.assert_allclose(shifted.y[0], exact(shifted.t - 1.0), rtol=1e-4, atol=1e-10)
    assert len(compiles) == 1
    accepted = int(base.stats["accepted"][0])
    assert steps[str(dict(rtol=1e-9))] > 3 * accepted
    assert steps[str(dict(dt_max=0.05))] >= 2.0 / 0.05
    assert steps[str(dict(max_steps=50))] <= 50
    changed = solver.replace(max_steps=3).solve((0.0, 2.0), save_every=0.5, progress=False)
    assert changed.status_names[0] == "MAX_STEPS"


def test_compiled_in_options_do_compile(decay2: ct.ODESystem, compiles: list[str]) -> None:
    """The method, the save count and the precision are compiled in."""
    solver = ct.Solver(decay2, "tsit5", backend="cpu")
    solver.solve((0.0, 1.0), progress=False)
    solver.replace(method="dopri54").solve((0.0, 1.0), progress=False)
    solver.solve((0.0, 1.0), save_every=0.5, progress=False)
    assert len(compiles) == 3


def test_solver_is_immutable(decay2: ct.ODESystem) -> None:
    solver = ct.Solver(decay2, "tsit5", rtol=1e-5, backend="cpu")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        solver.rtol = 1e-9  # type: ignore[misc]
    tighter = solver.replace(rtol=1e-9)
    assert solver.rtol == 1e-5 and tighter.rtol == 1e-9
    with pytest.raises(TypeError, match="unknown options.*tolerance"):
        solver.replace(tolerance=1e-3)


def test_timings_are_truthful(decay2: ct.ODESystem) -> None:
    """The first solve reports the compile; a second one reports none, and its total is
    about its run time."""
    solver = ct.Solver(decay2, "bs32", backend="cpu")
    first = solver.solve((0.0, 1.0), progress=False)
    second = solver.solve((0.0, 1.0), progress=False)
    info = first.info
    assert info["compile_s"] > 10 * info["kernel_s"]
    assert info["total_s"] >= info["compile_s"] + info["kernel_s"]
    assert second.info["compile_s"] == 0.0 and second.info["total_s"] < info["compile_s"]
    assert set(info) >= {"compile_s", "kernel_s", "transfer_s", "total_s"}


def test_per_state_atol() -> None:
    """y = 1e-8 cos(10 t) rides beside x = e^-t: a scalar atol of 1e-6 leaves the small
    oscillation unresolved, one atol per state resolves it to its own scale."""
    small = ct.ODESystem.from_equations(["dx = -x", "dy = w", "dw = -100*y"],
                                        states={"x": 1.0, "y": 1e-8, "w": 0.0}, name="small")
    times = np.linspace(0.0, 2.0, 5)
    loose, per_state = (ct.solve_ivp(small, (0.0, 2.0), method="bs32", rtol=1e-6, atol=atol,
                                     save_at=times, backend="cpu", progress=False)
                        for atol in (1e-6, [1e-6, 1e-16, 1e-15]))
    ref = 1e-8 * np.cos(10 * times)
    rel = [np.abs(s.y[0, :, 1] - ref).max() / 1e-8 for s in (loose, per_state)]
    assert rel[1] < 1e-4 < 1e-2 < rel[0], rel
    with pytest.raises(ValueError, match="atol.*one per state"):
        ct.Solver(small, "bs32", atol=[1e-6, 1e-6])


def test_dt_with_an_adaptive_method_is_the_first_step(decay2: ct.ODESystem) -> None:
    """As scipy's first_step: dt only starts an adaptive run; controller="fixed" asks
    for fixed steps."""
    adaptive = ct.solve_ivp(decay2, (0.0, 1.0), method="tsit5", dt=1e-4, rtol=1e-3,
                            atol=1e-3, backend="cpu", progress=False)
    fixed = ct.solve_ivp(decay2, (0.0, 1.0), method="tsit5", dt=0.1, controller="fixed",
                         backend="cpu", progress=False)
    assert int(adaptive.stats["accepted"][0]) < 30
    assert int(fixed.stats["accepted"][0]) == 10
    np.testing.assert_allclose(fixed.y[0, -1], exact(1.0), rtol=1e-6)
    with pytest.raises(ValueError, match="dt or first_step"):
        ct.Solver(decay2, "tsit5", dt=0.1, first_step=0.1)


def test_t_eval_and_scipy_keywords(decay2: ct.ODESystem) -> None:
    times = [0.0, 0.25, 1.0]
    sol = ct.solve_ivp(decay2, (0.0, 1.0), method="tsit5", t_eval=times, backend="cpu",
                       progress=False)
    np.testing.assert_array_equal(sol.t, times)
    np.testing.assert_allclose(sol.y[0], exact(times), rtol=1e-5)
    with pytest.raises(TypeError, match="args.*parameters="):
        ct.solve_ivp(decay2, (0.0, 1.0), args=(2.0,), backend="cpu")
    with pytest.raises(TypeError, match="from_function"):
        ct.Solver(lambda t, y: -y, "tsit5")
