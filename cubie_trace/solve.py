"""The batch API: `Solver` (compile once, solve many batches), `solve_ivp` and `Solution`."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from cubie_trace.batch import Batch, build_batch, save_times
from cubie_trace.core.program import Program
from cubie_trace.core.step import Step, get_method, method_options
from cubie_trace.integrators import refuse_mass
from cubie_trace.integrators.controllers import KINDS, Controller
from cubie_trace.integrators.loop import LoopSpec, build_loop
from cubie_trace.integrators.summaries import Summaries
from cubie_trace.layout import Layout, plan
from cubie_trace.solution import Solution
from lowering.targets import default_target

BACKENDS = ("auto", "cpu", "cuda")
PRECISIONS = ("float32", "float64")
CHUNK_BYTES = 1 << 30  # outputs held on the host per chunk


def _positive(name: str, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a positive number, got {value!r}") from None
    if not (np.isfinite(number) and number > 0):
        raise ValueError(f"{name} must be positive and finite, got {value!r}")
    return number


class Solver:
    """A method, its options and a backend, compiled once per number of saves.

    `newton`, `linear` (dicts) and `jacobian` ("dense" or "matrix-free") configure an
    implicit method's solves (see the method's factory for the keys it takes).
    """

    def __init__(self, system: Any, method: str | Step = "tsit5", *, rtol: float | None = None,
                 atol: float | None = None, dt: float | None = None,
                 controller: str | Controller | None = None, dt_min: float = 1e-12,
                 dt_max: float = float("inf"), max_steps: int = 100_000,
                 precision: str = "float64", backend: str = "auto",
                 summaries: Sequence[str] | None = None, summarise_every: float | None = None,
                 policy: str = "local", shared_budget_bytes: int | None = None,
                 pin: Mapping[str, str] | None = None, newton: dict | None = None,
                 linear: dict | None = None, jacobian: str | None = None) -> None:
        self.system = system
        self.step = get_method(method, system,
                               **method_options(newton=newton, linear=linear, jacobian=jacobian))
        refuse_mass(self.step, system)
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        if not isinstance(max_steps, (int, np.integer)) or max_steps < 1:
            raise ValueError(f"max_steps must be a positive int, got {max_steps!r}")
        self.rtol = _positive("rtol", rtol) if rtol is not None else None
        self.atol = _positive("atol", atol) if atol is not None else None
        self.dt = _positive("dt", dt) if dt is not None else None
        self.controller = self._controller(controller, dt_min, dt_max)
        if not self.controller.adaptive and self.dt is None:
            raise ValueError(f"method {self.step.name!r} with a fixed step needs dt")
        if summaries is not None and summarise_every is None:
            raise ValueError("summaries need summarise_every (a multiple of save_every)")
        self.summaries = tuple(summaries) if summaries is not None else None
        self.summarise_every = _positive("summarise_every", summarise_every) \
            if summarise_every is not None else None
        if self.summaries is not None:
            Summaries(self.summaries, 1, 1)
        self.max_steps = int(max_steps)
        self.precision = precision
        self.backend = default_target() if backend == "auto" else backend
        self.policy, self.shared_budget_bytes, self.pin = policy, shared_budget_bytes, pin
        self._compiled: dict[tuple[int, int], tuple[Program, Layout, Any]] = {}
        self._last: tuple[int, int] = (1, 1)

    def _controller(self, controller: str | Controller | None, dt_min: float,
                    dt_max: float) -> Controller:
        if isinstance(controller, Controller):
            chosen = controller
        else:
            if controller is not None and controller not in KINDS:
                raise ValueError(f"controller must be one of {KINDS}, got {controller!r}")
            tolerances = self.rtol is not None or self.atol is not None
            default = "pi" if self.step.adaptive and (self.dt is None or tolerances) \
                else "fixed"
            chosen = Controller(controller or default, dt_min=_positive("dt_min", dt_min),
                                dt_max=dt_max if dt_max == float("inf")
                                else _positive("dt_max", dt_max))
        if chosen.adaptive and not self.step.adaptive:
            raise ValueError(f"method {self.step.name!r} has no error estimate; "
                             "use controller='fixed' with dt")
        return chosen

    # ------------------------------------------------------------ compilation

    def _spec(self, n_saves: int, window: int) -> LoopSpec:
        summaries = Summaries(self.summaries, window, n_saves) if self.summaries else None
        return LoopSpec(self.step, self.controller, n_saves, self.rtol or 1e-6,
                        self.atol or 1e-6, self.max_steps, summaries,
                        auto_dt=self.controller.adaptive and self.dt is None)

    def compiled(self, n_saves: int = 1, window: int = 1) -> tuple[Program, Layout, Any]:
        """(program, layout, lowered) for `n_saves` save times, built once."""
        from lowering import lower

        key = (n_saves, window)
        if key not in self._compiled:
            program = build_loop(self.system, self._spec(n_saves, window))
            layout = plan(program, policy=self.policy, shared_budget_bytes=self.shared_budget_bytes,
                          pin=self.pin, precision=self.precision, scratch_in_outputs=False)
            batched = [name in ("y0", "p") for name in program.input_names]
            lowered = lower(program, layout, target=self.backend, precision=self.precision,
                            batched=batched)
            self._compiled[key] = (program, layout, lowered)
        self._last = key
        return self._compiled[key]

    @property
    def program(self) -> Program:
        """The whole integration loop as one Program."""
        return self.compiled(*self._last)[0]

    @property
    def layout(self) -> Layout:
        """The loop's Layout."""
        return self.compiled(*self._last)[1]

    # ------------------------------------------------------------ solving

    def solve(self, t_span: tuple[float, float], y0: Any = None, parameters: Any = None,
              drivers: Mapping[str, Any] | None = None, save_every: float | None = None,
              save_at: Sequence[float] | None = None, grid: str = "verbatim",
              progress: bool = True) -> Solution:
        """Integrate every run of the batch over `t_span`."""
        ts = save_times(t_span, save_every, save_at)
        window = 1
        if self.summaries is not None:
            if save_every is None:
                raise ValueError("summaries need save_every")
            ratio = self.summarise_every / save_every  # type: ignore[operator]
            if abs(ratio - round(ratio)) > 1e-9 or round(ratio) < 1:
                raise ValueError(f"summarise_every ({self.summarise_every}) must be a multiple "
                                 f"of save_every ({save_every})")
            window = int(round(ratio))
        batch = build_batch(self.system, y0, parameters, grid)
        d = self._driver_coefficients(drivers)
        started = time.perf_counter()
        program, layout, lowered = self.compiled(len(ts), window)
        compiled_at = time.perf_counter()
        t0, t_end = float(t_span[0]), float(t_span[1])
        dt0 = self.dt if self.dt is not None else 0.0
        chunks = self._chunks(batch, len(ts))
        bar = _progress(len(chunks), progress)
        pieces, kernel_s = [], 0.0
        for lo, hi in chunks:
            args = [batch.y0[lo:hi], batch.parameters[lo:hi]]
            if self.system.n_driver_coefficients:
                args.append(d)
            pieces.append(lowered.run(*args, t0, t_end, dt0, ts))
            kernel_s += lowered.timings.get("kernel_s") or 0.0
            bar.update(1)
        bar.close()
        finished = time.perf_counter()
        return Solution.from_pieces(self.system, ts, batch, pieces, {
            "backend": self.backend, "method": self.step.name, "precision": self.precision,
            "prepare_s": compiled_at - started, "run_s": finished - compiled_at,
            "kernel_s": kernel_s, "launch": dict(lowered.timings)})

    def _driver_coefficients(self, drivers: Mapping[str, Any] | None) -> np.ndarray | None:
        if not self.system.n_driver_coefficients:
            if drivers:
                raise ValueError(f"drivers: system {self.system.name!r} has no drivers")
            return None
        if drivers is None:
            return np.asarray(self.system.driver_coefficients)
        return np.asarray(self.system.coefficients(drivers))

    def _chunks(self, batch: Batch, n_saves: int) -> list[tuple[int, int]]:
        per_run = 8 * n_saves * (self.system.n_states + getattr(self.system, "n_observables", 0))
        size = max(1, CHUNK_BYTES // max(per_run, 1))
        return [(lo, min(lo + size, batch.n_runs)) for lo in range(0, batch.n_runs, size)]


def _progress(total: int, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=not enabled or total < 2, desc="batches", unit="chunk")


def solve_ivp(system: Any, t_span: tuple[float, float], y0: Any = None,
              parameters: Any = None, method: str | Step = "tsit5", *,
              drivers: Mapping[str, Any] | None = None, save_every: float | None = None,
              save_at: Sequence[float] | None = None, grid: str = "verbatim",
              progress: bool = True, **options: Any) -> Solution:
    """Integrate a batch of runs of `system` in one call (see `Solver` for the options)."""
    solver = Solver(system, method, **options)
    return solver.solve(t_span, y0=y0, parameters=parameters, drivers=drivers,
                        save_every=save_every, save_at=save_at, grid=grid, progress=progress)
