"""Hand-written programs for lowering tests and benchmarks, with input samplers.

Each covers something random programs reach rarely: system calls and carried state
(steps on Lorenz), a seven-stage explicit Runge-Kutta step, int32 counters in a
`while_loop`, a child called twice, taps in loops and branches, stage stacks with
rows chosen at run time, loop carries that trade places, a long loop over scratch,
buffers of four dtypes, and SDIRK-like steps whose stages each call Newton calling a
Krylov solver (children nested in loops, one child program called at every stage).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import cubie_trace as ct

LORENZ_EQUATIONS = ["dx = sigma*(y - x)", "dy = x*(rho - z) - y", "dz = x*y - beta*z"]


def lorenz() -> ct.ODESystem:
    return ct.ODESystem.from_equations(
        LORENZ_EQUATIONS, states={"x": 1.0, "y": 0.0, "z": 0.0},
        parameters={"sigma": 10.0, "rho": 28.0, "beta": 8 / 3})


# Dormand-Prince 5(4) (Dormand & Prince 1980): nodes, stage rows, weights, error weights.
DP_C = (0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0)
DP_A = ((),
        (1 / 5,),
        (3 / 40, 9 / 40),
        (44 / 45, -56 / 15, 32 / 9),
        (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
        (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
        (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84))
DP_B = (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0.0)
DP_E = (71 / 57600, 0.0, -71 / 16695, 71 / 1920, -17253 / 339200, 22 / 525, -1 / 40)


@ct.step(order=5, error_order=4)
def dopri_like(f: Any, t: Any, dt: Any, y: Any, state: dict) -> tuple:
    """Seven `f(t, y)` stages in Dormand-Prince form, a fifth-order update and an error."""
    ks: list[Any] = []
    for c, row in zip(DP_C, DP_A):
        arg = y
        for a, k in zip(row, ks):
            if a:
                arg = arg + dt * a * k
        ks.append(f(t + c * dt, arg))
    y_new = y
    err = ct.zeros_like(y)
    for b, e, k in zip(DP_B, DP_E, ks):
        if b:
            y_new = y_new + dt * b * k
        if e:
            err = err + dt * e * k
    return y_new, err, state, ct.OK


@ct.step(order=2, error_order=1, state={"k": "n"})
def heun_fsal(f: Any, t: Any, dt: Any, y: Any, state: dict) -> tuple:
    """Heun with the last stage carried to the next step (first same as last)."""
    k1 = state["k"]
    k2 = f(t + dt, y + dt * k1)
    ct.tap("k2", k2)
    y_new = y + dt / 2 * (k1 + k2)
    return y_new, dt / 2 * (k2 - k1), {"k": f(t + dt, y_new)}, ct.OK


def sdirk_like(stages: int) -> ct.Step:
    """An implicit step of `stages` stages `z_i = gamma h f(t_i, y_{i-1} + z_i)`, each
    solved by Newton (a `while_loop` with backtracking) over BiCGSTAB on `f.operator`."""
    @ct.step(order=1, error_order=1, implicit=True, name=f"sdirk_like{stages}")
    def step(f: Any, t: Any, dt: Any, y: Any, state: dict) -> tuple:
        gamma_h = 0.3 * dt
        acc, status, z = y, int(ct.OK), ct.zeros_like(y)
        for i in range(stages):
            t_i, base = t + (i + 1) / stages * dt, acc
            z, info = ct.solvers.newton(
                lambda z, t_i=t_i, base=base: z - gamma_h * f(t_i, base + z), z,
                lambda z, v, t_i=t_i, base=base: f.operator(t_i, base + z, v, gamma_h),
                linear="bicgstab", tol=1e-12, max_iters=10, linear_max_iters=12)
            acc = base + z
            status = ct.where(status == int(ct.OK), info.status, status)
        return acc, acc - y, state, status

    return step


def counters(x: Any, limit: Any) -> tuple:
    """A while loop with int32 counters, a branch, a child called twice and taps."""
    @ct.function
    def child(v: Any, s: Any) -> tuple:
        ct.tap("child", s)
        return v * 0.5 + ct.tanh(s), s * 0.75

    def cond(carry: tuple) -> Any:
        i, _, s, _ = carry
        return ct.logical_and(i < ct.minimum(limit, 6), ct.abs(s) < 50.0)

    def body(carry: tuple) -> tuple:
        i, v, s, hits = carry
        ct.tap("i", i)
        v, s = ct.cond(ct.sum(v) > s, lambda a, b: child(a, b), lambda a, b: (a - b, b + 1.0),
                       v, s)
        ct.tap("v", v)
        return i + 1, v, s + ct.dot(v, v) * 0.1, hits + ct.astype(s > 0.0, "int32")

    i, v, s, hits = ct.while_loop(cond, body, (np.int32(0), x, ct.sum(x), np.int32(0)))
    w, _ = child(v, s)
    return v, w, s, i, hits


def stages(x: Any, j: Any) -> tuple:
    """A three-row stage stack filled in a fori_loop, read at a row chosen at run time."""
    def body(k: Any, stack: Any) -> Any:
        prev = stack[ct.maximum(k - 1, 0)]
        return stack.at[k].set(ct.sin(prev) + ct.astype(k, "float") * x)

    stack = ct.fori_loop(0, 3, body, ct.stack([x, -x, x * x]))
    row = stack[ct.minimum(ct.maximum(j, 0), 2)]
    ct.tap("row", row)
    return stack, row * 2.0, ct.max_abs(stack[1])


def swap(x: Any, y: Any, n: Any) -> tuple:
    """Loop carries that trade places every iteration."""
    def body(k: Any, carry: tuple) -> tuple:
        a, b = carry
        return b + 0.5 * a, a
    return ct.fori_loop(0, ct.minimum(ct.maximum(n, 0), 5), body, (x, y))


def churn(x: Any, n: Any) -> Any:
    """A long loop over a buffer in scratch storage: in the simulator, a block's threads
    interleave while it runs, so threads given overlapping shared storage would clash."""
    def body(k: Any, v: Any) -> Any:
        w = ct.sin(v) + x
        return 0.5 * w + 0.25 * ct.cos(w * v)
    return ct.fori_loop(0, n, body, x * 2.0)


def mixed(x: Any) -> Any:
    """Stored buffers of four dtypes: float, float32, float64 and int32."""
    k = ct.astype(x * 3.0, "int32")
    h = ct.astype(x, "float32")
    d = ct.astype(x, "float64") * 0.5
    w = ct.sin(x) + ct.astype(k, "float")
    y = w * x + ct.sum(w) + ct.sum(d) + ct.sum(ct.astype(k, "float"))
    return y + ct.astype(h * 2.0, "float") * ct.astype(h, "float") + ct.astype(d, "float")


def _lorenz_step_inputs(rng: np.random.Generator) -> list[Any]:
    return [rng.uniform(0, 1), rng.uniform(1e-3, 2e-2), rng.uniform(-5, 5, 3),
            rng.uniform(-5, 5, 3), np.array([10.0, rng.uniform(0, 28), 8 / 3])]


def _sdirk_inputs(rng: np.random.Generator) -> list[Any]:
    return [rng.uniform(0, 1), rng.uniform(1e-3, 1e-2), rng.uniform(-5, 5, 3),
            np.array([10.0, rng.uniform(0, 28), 8 / 3])]


def _dopri_inputs(rng: np.random.Generator) -> list[Any]:
    return [rng.uniform(0, 1), rng.uniform(1e-3, 2e-2), rng.uniform(-5, 5, 3),
            np.array([10.0, rng.uniform(0, 28), 8 / 3])]


# name -> (build the program, sample one run's flat inputs)
PROGRAMS: dict[str, tuple[Callable[[], ct.Program], Callable[[np.random.Generator], list]]] = {
    "dopri_like": (lambda: ct.trace(dopri_like, system=lorenz()), _dopri_inputs),
    "sdirk_like2": (lambda: ct.trace(sdirk_like(2), system=lorenz()), _sdirk_inputs),
    "heun_fsal": (lambda: ct.trace(heun_fsal, system=lorenz()), _lorenz_step_inputs),
    "counters": (lambda: ct.trace(counters, ct.buffer(4), ct.scalar("int32")),
                 lambda rng: [rng.uniform(-2, 2, 4), np.int32(rng.integers(0, 8))]),
    "stages": (lambda: ct.trace(stages, ct.buffer(3), ct.scalar("int32")),
               lambda rng: [rng.uniform(-2, 2, 3), np.int32(rng.integers(-1, 4))]),
    "churn": (lambda: ct.trace(churn, ct.buffer(4), ct.scalar("int32")),
              lambda rng: [rng.uniform(-2, 2, 4), np.int32(rng.integers(1500, 2000))]),
    "mixed": (lambda: ct.trace(mixed, ct.buffer(3)), lambda rng: [rng.uniform(-2, 2, 3)]),
    "swap": (lambda: ct.trace(swap, ct.buffer(2), ct.buffer(2), ct.scalar("int32")),
             lambda rng: [rng.uniform(-2, 2, 2), rng.uniform(-2, 2, 2),
                          np.int32(rng.integers(0, 6))]),
}


def program(name: str) -> ct.Program:
    return PROGRAMS[name][0]()


def sample_runs(name: str, n_runs: int, seed: int = 0) -> list[tuple[Any, ...]]:
    """`n_runs` runs of flat inputs for program `name`."""
    rng = np.random.default_rng(seed)
    return [tuple(PROGRAMS[name][1](rng)) for _ in range(n_runs)]
