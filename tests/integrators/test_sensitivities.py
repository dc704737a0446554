"""Forward sensitivities of a batch (`ct.Solver(..., sensitivities=[...])`): a linear
system's closed form, Lorenz against scipy on the variational equations and central
differences of the solution, and their place in `to_xarray`."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp

import cubie_trace as ct
from cubie_trace.systems.library import lorenz, robertson

TIMES = np.linspace(0.0, 1.0, 6)


def decay() -> ct.ODESystem:
    return ct.ODESystem.from_equations(["dx = -k*x + c", "dw = k*x - w"],
                                       states={"x": 1.0, "w": 0.0},
                                       parameters={"k": 0.5, "c": 0.25}, name="decay")


@pytest.mark.parametrize("error_control", [pytest.param(False, marks=pytest.mark.slow), True])
def test_linear_system_closed_form(error_control: bool) -> None:
    """x' = -k x + c: x = c/k + (x0 - c/k) e^{-kt}, so dx/dk, dx/dc and dx/dx0 are known:
    from the differentiated loop and from the variational equations as states."""
    k = np.array([0.5, 1.0, 2.0])
    x0 = np.array([1.0, 2.0, -1.0])
    c = 0.25
    solver = ct.Solver(decay(), "tsit5", rtol=1e-12, atol=1e-12, backend="cpu",
                       sensitivities=["k", "c", "x"], sensitivity_error_control=error_control)
    sol = solver.solve((0.0, 1.0), y0={"x": x0}, parameters={"k": k}, save_at=TIMES,
                       progress=False)
    assert sol.sensitivity_names == ("k", "c", "x")
    assert sol.sensitivities.shape == (3, len(TIMES), 2, 3)
    t, kk, xx = TIMES[None, :], k[:, None], x0[:, None]
    e = np.exp(-kk * t)
    dx_dk = -c / kk**2 + (c / kk**2) * e - (xx - c / kk) * t * e
    dx_dc = (1.0 - e) / kk
    dx_dx0 = e
    np.testing.assert_allclose(sol.sensitivities[:, :, 0, 0], dx_dk, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(sol.sensitivities[:, :, 0, 1], dx_dc, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(sol.sensitivities[:, :, 0, 2], dx_dx0, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(sol.sensitivities_final[:, 0, :],
                               sol.sensitivities[:, -1, 0, :], rtol=1e-13)


def lorenz_variational(rho: float, times: np.ndarray) -> np.ndarray:
    """d(x, y, z)/d(rho, sigma) at `times` from scipy on the variational equations."""
    sigma, beta = 10.0, 8.0 / 3.0

    def rhs(t: float, u: np.ndarray) -> np.ndarray:
        x, y, z = u[:3]
        s = u[3:].reshape(3, 2)
        jac = np.array([[-sigma, sigma, 0.0], [rho - z, -1.0, -x], [y, x, -beta]])
        dfdp = np.array([[0.0, y - x], [x, 0.0], [0.0, 0.0]])  # columns rho, sigma
        f = [sigma * (y - x), x * (rho - z) - y, x * y - beta * z]
        return np.concatenate([f, (jac @ s + dfdp).ravel()])

    sol = solve_ivp(rhs, (0.0, times[-1]), [1.0, 0.0, 0.0, *np.zeros(6)], method="DOP853",
                    rtol=1e-13, atol=1e-13, t_eval=times)
    return sol.y[3:].T.reshape(len(times), 3, 2)


@pytest.mark.parametrize("method", ["tsit5", pytest.param("rk4", marks=pytest.mark.slow)])
def test_lorenz_against_scipy_and_differences(method: str) -> None:
    rho = np.array([14.0, 21.0, 28.0])
    options = {"dt": 1e-3} if method == "rk4" else {"rtol": 1e-10, "atol": 1e-10}
    solver = ct.Solver(lorenz(), method, backend="cpu", sensitivities=["rho", "sigma"],
                       **options)
    sol = solver.solve((0.0, 1.0), y0={"x": 1.0, "y": 0.0, "z": 0.0},
                       parameters={"rho": rho}, save_at=TIMES, progress=False)
    for r, value in enumerate(rho):
        np.testing.assert_allclose(sol.sensitivities[r], lorenz_variational(value, TIMES),
                                   rtol=1e-6, atol=1e-8)
    plain = ct.Solver(lorenz(), method, backend="cpu", **options)
    h = 1e-6 * rho
    up = plain.solve((0.0, 1.0), y0={"x": 1.0, "y": 0.0, "z": 0.0},
                     parameters={"rho": rho + h}, save_at=TIMES, progress=False)
    down = plain.solve((0.0, 1.0), y0={"x": 1.0, "y": 0.0, "z": 0.0},
                       parameters={"rho": rho - h}, save_at=TIMES, progress=False)
    fd = (up.y - down.y) / (2 * h[:, None, None])
    scale = np.max(np.abs(fd))
    np.testing.assert_allclose(sol.sensitivities[..., 0], fd, rtol=1e-5, atol=1e-5 * scale)


def test_sensitivities_in_xarray_and_checked_names() -> None:
    ds = ct.solve_ivp(decay(), (0.0, 1.0), parameters={"k": [0.5, 1.0]}, save_every=0.5,
                      backend="cpu", sensitivities=["k"], sensitivity_error_control=True,
                      rtol=[1e-8, 1e-9], atol=[1e-10, 1e-9], progress=False).to_xarray()
    # per-state tolerances are each sensitivity's too: dx/dk of x' = -k x + 1/4, x(0) = 1
    kk, t = np.array([0.5, 1.0])[:, None], ds["time"].values[None, :]
    e = np.exp(-kk * t)
    np.testing.assert_allclose(ds["y_sensitivity"].values[:, :, 0, 0],
                               -0.25 / kk**2 + (0.25 / kk**2) * e - (1 - 0.25 / kk) * t * e,
                               rtol=1e-6, atol=1e-9)
    assert ds["y_sensitivity"].dims == ("run", "time", "state", "sensitivity")
    assert list(ds.coords["sensitivity"].values) == ["k"]
    assert ds["y_final_sensitivity"].dims == ("run", "state", "sensitivity")
    np.testing.assert_allclose(ds["y_final_sensitivity"].values[..., 0],
                               ds["y_sensitivity"].values[:, -1, :, 0], rtol=1e-12)
    with pytest.raises(ValueError, match="neither a parameter"):
        ct.Solver(decay(), "tsit5", sensitivities=["q"])
    with pytest.raises(ValueError, match="repeat"):
        ct.Solver(decay(), "tsit5", sensitivities=["k", "k"])


@pytest.mark.slow
@pytest.mark.parametrize("method, error_control", [("rodas4", False), ("radau_iia_5", True),
                                                   ("kvaerno5", True)])
def test_robertson_with_implicit_methods(method: str, error_control: bool) -> None:
    """Robertson: d y / d(k1, k3) at t = 1, 10, 40 against central differences of much
    tighter solves; rodas4 differentiated (its LU solves are arithmetic), Radau IIA 5 and
    Kvaerno 5 on the variational equations (their Newton solves take them as states)."""
    rob = robertson()
    k1, times = np.array([0.04, 0.05]), [1.0, 10.0, 40.0]
    sol = ct.Solver(rob, method, rtol=1e-8, atol=1e-12, backend="cpu",
                    sensitivities=["k1", "k3"],
                    sensitivity_error_control=error_control).solve(
        (0.0, 40.0), parameters={"k1": k1}, save_at=times, progress=False)
    assert np.all(sol.ok)
    tight = ct.Solver(rob, "rodas4", rtol=1e-12, atol=1e-16, backend="cpu",
                      max_steps=10**6)
    for k, name in enumerate(["k1", "k3"]):
        index = rob.parameter_names.index(name)
        base = np.tile(rob.default_parameters, (2, 1))
        base[:, 0] = k1
        h = 1e-6 * base[:, index]
        shifted = []
        for sign in (1.0, -1.0):
            p = base.copy()
            p[:, index] += sign * h
            shifted.append(tight.solve((0.0, 40.0), parameters=p, save_at=times,
                                       progress=False).y)
        fd = (shifted[0] - shifted[1]) / (2 * h[:, None, None])
        for i in range(rob.n_states):  # each state on its own scale (y2 is ~1e-5 of y1)
            scale = np.max(np.abs(fd[..., i]))
            np.testing.assert_allclose(sol.sensitivities[..., i, k], fd[..., i], rtol=1e-4,
                                       atol=1e-4 * scale, err_msg=f"d y{i + 1} / d {name}")


@pytest.mark.parametrize("method, options", [("radau_iia_5", {}), ("kvaerno5", {}),
                                             ("rodas4", {"jacobian": "matrix-free"})])
def test_iterative_solves_are_refused(method: str, options: dict) -> None:
    with pytest.raises(ValueError, match="solves by iteration"):
        ct.Solver(robertson(), method, sensitivities=["k1"], **options)
    ct.Solver(robertson(), method, sensitivities=["k1"], sensitivity_error_control=True,
              **options)


@pytest.mark.slow
def test_error_control_over_the_sensitivities() -> None:
    """Lorenz's sensitivities integrated as states: the controller weighs them (its steps
    differ from those of the state alone) and they match scipy on the variational equations
    at 1e-7 (rtol 1e-10); saving one state saves its sensitivities alone."""
    rho = np.array([5.0, 28.0])
    y0 = {"x": 1.0, "y": 0.0, "z": 0.0}
    options = {"rtol": 1e-10, "atol": 1e-10, "backend": "cpu"}
    sol = ct.Solver(lorenz(), "tsit5", sensitivities=["rho", "sigma"],
                    sensitivity_error_control=True, **options).solve(
        (0.0, 1.0), y0=y0, parameters={"rho": rho}, save_at=TIMES, progress=False)
    plain = ct.solve_ivp(lorenz(), (0.0, 1.0), y0=y0, parameters={"rho": rho},
                         save_at=TIMES, progress=False, **options)
    assert np.all(sol.stats["accepted"] != plain.stats["accepted"])
    np.testing.assert_allclose(sol.y, plain.y, rtol=1e-8, atol=1e-8)
    for r, value in enumerate(rho):
        np.testing.assert_allclose(sol.sensitivities[r], lorenz_variational(value, TIMES),
                                   rtol=1e-7, atol=1e-7)
    z_only = ct.Solver(lorenz(), "tsit5", sensitivities=["rho", "sigma"], save=["z"],
                       sensitivity_error_control=True, **options).solve(
        (0.0, 1.0), y0=y0, parameters={"rho": rho}, save_at=TIMES, progress=False)
    assert z_only.sensitivities.shape == (2, len(TIMES), 1, 2)
    np.testing.assert_allclose(z_only.sensitivities[:, :, 0], sol.sensitivities[:, :, 2],
                               rtol=1e-12)
