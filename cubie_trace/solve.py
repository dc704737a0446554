"""The batch API: `Solver` (compile once, solve many batches), `solve_ivp` and `Solution`.

A `Solver` is immutable. What it compiles in (the system, the method, the controller
kind, the precision, the backend, what is saved and summarised, how saves are served)
fixes its kernels; the run-time options (tolerances, first step, step-size limits,
step budget) and the span and save times are arguments of those kernels, so
`solver.replace(rtol=1e-9)` gives a Solver that shares them.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np

from cubie_trace.arguments import indices, lane_count, positive, refuse, runs_backward, tolerance
from cubie_trace.backward import solve_backward
from cubie_trace.batch import build_batch, save_times, summary_window
from cubie_trace.core.step import Step, get_method, method_options
from cubie_trace.core.values import epsilon
from cubie_trace.integrators import refuse_mass
from cubie_trace.integrators.controllers import Controller, controller_for
from cubie_trace.integrators.events import Event, checked
from cubie_trace.integrators.loop import RunOptions
from cubie_trace.integrators.sensitivity import (
    check_method,
    directions,
)
from cubie_trace.integrators.summaries import Summaries
from cubie_trace.kernels import Kernels, variational_for
from cubie_trace.launches import run_in_pieces
from cubie_trace.solution import Solution
from cubie_trace.systems.variational import (
    initial_sensitivities,
    split_outputs,
    tolerances_per_block,
)
from lowering.targets import default_target

BACKENDS = ("auto", "cpu", "cuda")
PRECISIONS = ("float32", "float64")


@attrs.frozen(init=False)
class Solver(Kernels):
    """A method, its options and a backend; kernels are compiled on first use, once per
    number of saves (and summary window), and shared by `replace`d copies.

    `newton`, `linear` (dicts) and `jacobian` ("dense" or "matrix-free") configure an
    implicit method's solves (see the method's factory for the keys it takes). `dt` is
    the step of a fixed-step method (or of `controller="fixed"`) and the first step of an
    adaptive one (as `first_step`). `save` names the states and observables saved at
    each save time (default: every state and observable); `save=None` keeps no
    trajectories (summaries and final states only). Summaries are taken of the saved
    states (of every state with `save=None`). `sensitivities` names parameters and
    states whose forward sensitivities (d saved state / d parameter or initial value)
    the solve returns: by differentiating the loop (`cubie_trace.integrators.sensitivity`;
    the step-size control sees the states alone), or with
    `sensitivity_error_control=True` by integrating the variational equations as states
    (`cubie_trace.systems.variational`: the control weighs them too, and every method,
    Newton-based ones included, takes them). `events` are `ct.Event`s
    (or bare event functions) whose occurrences the solve locates and records, the first
    `max_events` of each per run (`cubie_trace.integrators.events`).
    """

    system: Any
    step: Step
    controller: Controller
    options: RunOptions
    precision: str
    backend: str
    summaries: tuple[str, ...] | None
    summarise_every: float | None
    save: tuple[str, ...] | None
    save_mode: str
    policy: str
    lanes: int | None
    sensitivities: tuple[str, ...] | None
    sensitivity_error_control: bool
    events: tuple[Event, ...]
    max_events: int
    shared_budget_bytes: int | None
    pin: Mapping[str, str] | None
    _arguments: dict[str, Any] = attrs.field(eq=False, repr=False)
    _kernels: dict[Any, Any] = attrs.field(eq=False, repr=False)

    def __init__(self, system: Any, method: str | Step = "tsit5", *,
                 rtol: Any = None, atol: Any = None, dt: float | None = None,
                 first_step: float | None = None, controller: str | Controller | None = None,
                 dt_min: float = 1e-12, dt_max: float = float("inf"),
                 max_steps: int = 100_000, precision: str = "float64",
                 backend: str = "auto", summaries: Sequence[str] | None = None,
                 summarise_every: float | None = None, save: Any = "all",
                 save_mode: str = "dense", policy: str = "local",
                 shared_budget_bytes: int | None = None, pin: Mapping[str, str] | None = None,
                 newton: dict | None = None, linear: dict | None = None,
                 jacobian: str | None = None, lanes: int | None = None,
                 sensitivities: Sequence[str] | None = None,
                 sensitivity_error_control: bool = False, events: Any = None,
                 max_events: int = 16, _kernels: dict | None = None) -> None:
        arguments = {key: value for key, value in locals().items()
                     if key not in ("self", "_kernels", "__class__")}
        if not hasattr(system, "n_states") and callable(system):
            raise TypeError("system must be an ODESystem; wrap a plain f(t, y, *args) with "
                            "ct.ODESystem.from_function(f, states=..., parameters=...)")
        kernels = {} if _kernels is None else _kernels
        sensitive = tuple(sensitivities) if sensitivities is not None else None
        chosen = directions(sensitive or (), tuple(system.state_names),
                            tuple(system.parameter_names)) if sensitive else []
        error_control = bool(sensitivity_error_control) and bool(chosen)
        # the step is built for the system the loop integrates
        integrated = variational_for(kernels, system, chosen) if error_control else system
        step = get_method(method, integrated,
                          **method_options(newton=newton, linear=linear, jacobian=jacobian))
        refuse_mass(step, system)
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        if not isinstance(max_steps, (int, np.integer)) or max_steps < 1:
            raise ValueError(f"max_steps must be a positive int, got {max_steps!r}")
        if dt is not None and first_step is not None:
            raise ValueError("give dt or first_step, not both")
        first = positive("dt", dt) if dt is not None else \
            positive("first_step", first_step) if first_step is not None else 0.0
        ctrl = controller_for(step, controller)
        if not ctrl.adaptive and not first:
            raise ValueError(f"method {step.name!r} with a fixed step needs dt")
        n = system.n_states
        limits = (positive("dt_min", dt_min), float("inf") if dt_max == float("inf")
                  else positive("dt_max", dt_max))
        if limits[0] > limits[1]:
            raise ValueError(f"dt_min {dt_min} > dt_max {dt_max}")
        options = RunOptions(tolerance("rtol", 1e-6 if rtol is None else rtol, n),
                             tolerance("atol", 1e-6 if atol is None else atol, n),
                             first, *limits, int(max_steps))
        if summaries is not None and summarise_every is None:
            raise ValueError("summaries need summarise_every (a multiple of save_every)")
        summaries = tuple(summaries) if summaries is not None else None
        if summaries is not None:
            Summaries(summaries, 1, 1)
        if isinstance(save, str):
            save = None if save == "none" else \
                (*system.state_names, *getattr(system, "observable_names", ())) \
                if save == "all" else (save,)
        elif save is not None:
            save = tuple(save)
        if save is not None:
            known = (*system.state_names, *getattr(system, "observable_names", ()))
            indices("states or observables", save, known)
        if sensitive and not error_control:
            check_method(step, system)
        events = checked(events, max_events) if events is not None else ()
        backend = default_target() if backend == "auto" else backend
        self.__attrs_init__(
            system, step, ctrl, options, precision, backend, summaries,
            positive("summarise_every", summarise_every) if summarise_every is not None
            else None, save, save_mode, policy, lane_count(lanes), sensitive, error_control,
            events,
            max_events, shared_budget_bytes, pin, arguments,
            kernels)
        if events:
            self.loop_system  # noqa: B018 - its functions are checked before anything compiles
        self._check_precision()

    def replace(self, **changes: Any) -> Solver:
        """A Solver with some options changed; it shares this one's compiled kernels (a
        change of run-time options alone compiles nothing)."""
        unknown = sorted(set(changes) - set(self._arguments))
        if unknown:
            raise TypeError(f"replace: unknown options {unknown}")
        arguments = {**self._arguments, **changes}
        # the step is built for the system the loop integrates, which sensitivities
        # integrated as states change
        regrown = [k for k in ("sensitivities", "sensitivity_error_control")
                   if k in changes and changes[k] != self._arguments[k]]
        if "method" not in changes and not regrown and not any(
                k in changes for k in ("newton", "linear", "jacobian", "system")):
            arguments["method"] = self.step  # the same step object keys the same kernels
            for key in ("newton", "linear", "jacobian"):
                arguments[key] = None
        system, method = arguments.pop("system"), arguments.pop("method")
        return Solver(system, method, **arguments, _kernels=self._kernels)

    def _check_precision(self) -> None:
        floor = epsilon(self.precision)
        if np.min(self.options.rtol) < floor:
            warnings.warn(f"rtol {np.min(self.options.rtol):g} is below what {self.precision} "
                          f"resolves (about {floor:.1g}); steps will shrink to dt_min or the "
                          "error will stay above the tolerance", RuntimeWarning, stacklevel=3)

    @property
    def rtol(self) -> Any:
        return self.options.rtol

    @property
    def atol(self) -> Any:
        return self.options.atol

    @property
    def max_steps(self) -> int:
        return self.options.max_steps

    # ------------------------------------------------------------ solving

    def solve(self, t_span: tuple[float, float], y0: Any = None, parameters: Any = None,
              drivers: Mapping[str, Any] | None = None, save_every: float | None = None,
              save_at: Sequence[float] | None = None, grid: str = "verbatim",
              progress: bool = True, settling_time: float = 0.0,
              t_eval: Sequence[float] | None = None, client: Any = None,
              scheduler: str | None = None, chunks: int | None = None,
              **unknown: Any) -> Solution:
        """Integrate every run of the batch over `t_span`; saves start after
        `settling_time` (save_every counts from t0 + settling_time). `t_eval` is
        `save_at` by its scipy name.

        With `client=` (a `dask.distributed.Client`, or `scheduler="dask"` for the default
        client) chunks of runs (`chunks` runs each; by default sized by the workers'
        memory and the result) are solved on the cluster's workers and the Solution's
        results are lazy Dask arrays (see `cubie_trace.distributed`); `progress` has no
        effect there (the Dask dashboard shows the chunks)."""
        if unknown:
            refuse(unknown)
        cluster = None
        if client is not None or scheduler is not None:
            from cubie_trace import distributed

            cluster = distributed.client_for(client, scheduler)
        if chunks is not None and cluster is None:
            raise ValueError("chunks= sizes the chunks of a Dask solve: give client= or "
                             "scheduler='dask' too")
        if chunks is not None and not (isinstance(chunks, (int, np.integer)) and chunks >= 1):
            raise ValueError(f"chunks must be a positive number of runs, got {chunks!r}")
        if t_eval is not None:
            if save_at is not None:
                raise ValueError("give save_at or t_eval, not both")
            save_at = t_eval
        if runs_backward(t_span):
            return solve_backward(self, t_span, y0, parameters, drivers, save_every, save_at,
                                  grid, progress, settling_time, client, scheduler, chunks)
        started = time.perf_counter()
        ts = save_times(t_span, save_every, save_at, settling_time)
        window = summary_window(self.summaries, self.summarise_every, save_every)
        batch = build_batch(self.system, y0, parameters, grid)
        d = self._driver_coefficients(drivers)
        context = [d] if self.system.n_driver_coefficients else []
        y0, options = batch.y0, self.options.values(self.system.n_states)
        if self.sensitivity_error_control:
            y0 = initial_sensitivities(batch.y0, self._directions)
            options = tolerances_per_block(options, len(self._directions))
        shared = (float(t_span[0]), ts, *options)
        if cluster is not None:
            return distributed.solve(self, ts, window, batch, (*context, *shared), cluster,
                                     chunks, backend=self._arguments["backend"], y0=y0,
                                     results=self._results(len(ts), window))
        lanes = self.lanes_for(batch.n_runs, len(ts), window)
        program, layout, lowered, compile_s = self._compile(len(ts), window, lanes)
        outputs, kernel_s, wall_s = run_in_pieces(
            lowered, batch.n_runs, lambda lo, hi: (y0[lo:hi], batch.parameters[lo:hi],
                                            *context, *shared), progress)
        outputs = self._results(len(ts), window)(outputs)
        transfer_s = max(wall_s - kernel_s, 0.0) if self.backend == "cuda" else 0.0
        sol = Solution.from_outputs(self, ts, window, batch, outputs, {
            "backend": self.backend, "method": self.step.name, "precision": self.precision,
            "rtol": self.options.rtol, "atol": self.options.atol,
            "compile_s": compile_s, "run_s": wall_s, "kernel_s": kernel_s,
            "transfer_s": transfer_s,
            "total_s": time.perf_counter() - started, "launch": dict(lowered.timings)})
        sol.warn_failures()
        return sol

    def _results(self, n_saves: int, window: int) -> Any:
        """What turns the loop's outputs into the results a Solution takes: the
        variational system's states split into states and sensitivities."""
        if not self.sensitivity_error_control:
            return lambda outputs: outputs
        saved = self.spec(n_saves, window).saved_states
        n = self.system.n_states
        return lambda outputs: split_outputs(outputs, self._directions, n,
                                             n if saved is None else len(saved))

    def _driver_coefficients(self, drivers: Mapping[str, Any] | None) -> np.ndarray | None:
        if not self.system.n_driver_coefficients:
            if drivers:
                raise ValueError(f"drivers: system {self.system.name!r} has no drivers")
            return None
        if drivers is None:
            return np.asarray(self.system.driver_coefficients)
        return np.asarray(self.system.coefficients(drivers))


def solve_ivp(system: Any, t_span: tuple[float, float], y0: Any = None,
              parameters: Any = None, method: str | Step = "tsit5", *,
              drivers: Mapping[str, Any] | None = None, save_every: float | None = None,
              save_at: Sequence[float] | None = None, t_eval: Sequence[float] | None = None,
              grid: str = "verbatim", progress: bool = True, settling_time: float = 0.0,
              args: Any = None, client: Any = None, scheduler: str | None = None,
              chunks: int | None = None, **options: Any) -> Solution:
    """Integrate a batch of runs of `system` in one call (see `Solver` for the options and
    `Solver.solve` for `client=`)."""
    if args is not None:
        refuse({"args": args})
    solver = Solver(system, method, **options)
    return solver.solve(t_span, y0=y0, parameters=parameters, drivers=drivers,
                        save_every=save_every, save_at=save_at, t_eval=t_eval, grid=grid,
                        progress=progress, settling_time=settling_time, client=client,
                        scheduler=scheduler, chunks=chunks)
