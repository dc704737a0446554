"""A Solver's loops: what is compiled in (`LoopSpec`), the system the loop integrates,
and each loop built, lowered and compiled once, then kept in the Solver's kernel cache,
which `replace`d copies share."""

from __future__ import annotations

import time
from typing import Any

from cubie_trace.arguments import indices
from cubie_trace.core.program import Program
from cubie_trace.integrators.loop import LoopSpec, build_loop
from cubie_trace.integrators.sensitivity import directions, sensitivity_loop, variational_spec
from cubie_trace.integrators.summaries import Summaries
from cubie_trace.layout import Layout, plan
from cubie_trace.systems.variational import variational_system
from lowering.targets.cpu import default_lanes

# batches from this many runs on integrate runs in SIMD lanes by default (`lanes_for`)
LANE_BATCH = 8192


class Kernels:
    """The compilation half of `cubie_trace.solve.Solver` (its fields are the Solver's)."""

    @property
    def loop_system(self) -> Any:
        """The system the loop integrates: this one, extended by its variational
        equations with `sensitivity_error_control`, with the events' functions (built
        once, and shared by `replace`d copies)."""
        if not self.events and not self.sensitivity_error_control:
            return self.system
        key = ("loop system", id(self.system), self.events, self.sensitivity_error_control
               and self.sensitivities)
        if key not in self._kernels:
            if not hasattr(self.system, "with_events"):
                raise ValueError("events and sensitivities with error control need an "
                                 "ODESystem")
            system = self.system
            if self.sensitivity_error_control:
                system = variational_for(self._kernels, system, self._directions)
            if self.events:
                system = system.with_events({event.name: event.fn for event in self.events})
            self._kernels[key] = system
        return self._kernels[key]

    @property
    def _directions(self) -> list[tuple[str, int, int]]:
        return directions(self.sensitivities or (), tuple(self.system.state_names),
                          tuple(self.system.parameter_names))

    def spec(self, n_saves: int, window: int = 1) -> LoopSpec:
        """The compiled-in part of the loop for `n_saves` saves (windows of `window`)."""
        summaries = Summaries(self.summaries, window, n_saves) if self.summaries else None
        occurring = {"events": self.events, "max_events": self.max_events}
        if self.save is None:
            return LoopSpec(self.step, self.controller, n_saves, summaries, self.save_mode,
                            (), (), precision=self.precision, **occurring)
        names, obs = self.system.state_names, tuple(getattr(self.system, "observable_names", ()))
        states = indices("states", [s for s in self.save if s in names], names)
        observed = indices("observables", [s for s in self.save if s in obs], obs)
        every = tuple(range(len(names)))
        return LoopSpec(self.step, self.controller, n_saves, summaries, self.save_mode,
                        None if states == every else states,
                        None if observed == tuple(range(len(obs))) else observed,
                        None if states in (every, ()) else states, precision=self.precision,
                        **occurring)

    def compiled(self, n_saves: int = 1, window: int = 1,
                 n_runs: int | None = None) -> tuple[Program, Layout, Any]:
        """(program, layout, lowered) for `n_saves` save times, built and compiled once: the
        kernel a solve of `n_runs` runs uses (its lane count, `lanes_for`)."""
        return self._compile(n_saves, window, self.lanes_for(n_runs, n_saves, window))[:3]

    def lanes_for(self, n_runs: int | None, n_saves: int = 1, window: int = 1) -> int:
        """Runs integrated together per CPU core step for a batch of `n_runs` (None: not
        known): `lanes` where given; else, on the CPU, for batches of at least
        `LANE_BATCH` runs whose loop keeps all its scratch in registers, a count chosen
        for the machine's vectors (`lowering.targets.cpu.default_lanes`); 1 (one run at
        a time) otherwise. Smaller batches keep the scalar kernel, which compiles
        several times faster, and so do larger systems, whose scratch arrays the lanes
        would address run by run."""
        if self.backend != "cpu":
            return 1
        if self.lanes is not None:
            return self.lanes
        if (n_runs or 0) < LANE_BATCH:
            return 1
        held = self.lowered(n_saves, window, lanes=1).memory.scratch_held()
        return default_lanes(self.precision) if held else 1

    def lowered(self, n_saves: int = 1, window: int = 1, target: str | None = None,
                lanes: int = 1) -> Any:
        """The loop for `n_saves` save times lowered for `target` (default: this Solver's
        backend) with `lanes` runs per CPU step: its module generated and loaded but not
        compiled, which is what a Dask worker compiles from its source. Built once per
        target and lane count."""
        from lowering import lower

        target = target or self.backend
        lanes = lanes if target == "cpu" else 1
        key = ("lowered", target, lanes, *self._loop_key(n_saves, window))
        if key not in self._kernels:
            spec = self.spec(n_saves, window)
            if self.sensitivity_error_control:
                spec = variational_spec(spec, self.system.n_states, len(self._directions))
            program = build_loop(self.loop_system, spec)
            if self.sensitivities and not self.sensitivity_error_control:
                program = sensitivity_loop(program, self._directions)
            layout = plan(program, policy=self.policy, shared_budget_bytes=self.shared_budget_bytes,
                          pin=self.pin, precision=self.precision, scratch_in_outputs=False)
            batched = [name in ("y0", "p") for name in program.input_names]
            self._kernels[key] = (lower(program, layout, target=target, precision=self.precision,
                                        batched=batched, lanes=lanes), self.step)
        return self._kernels[key][0]

    def _loop_key(self, n_saves: int, window: int) -> tuple:
        """What fixes the loop's program and layout (not the target)."""
        return (id(self.system), id(self.step), self.controller, self.precision,
                self.summaries, self.save, self.save_mode, self.policy, self.sensitivities,
                self.sensitivity_error_control,
                self.events, self.max_events,
                self.shared_budget_bytes,
                None if self.pin is None else tuple(sorted(self.pin.items())), n_saves, window)

    def _compile(self, n_saves: int, window: int, lanes: int = 1
                 ) -> tuple[Program, Layout, Any, float]:
        key = (*self._loop_key(n_saves, window), self.backend, lanes)
        fresh = key not in self._kernels
        if fresh:
            started = time.perf_counter()
            lowered = self.lowered(n_saves, window, lanes=lanes)
            lowered.compile()
            self._kernels[key] = (lowered.program, lowered.layout, lowered, self.step,
                                  time.perf_counter() - started)
        self._kernels["last"] = key
        program, layout, lowered, _, seconds = self._kernels[key]
        return program, layout, lowered, seconds if fresh else 0.0

    @property
    def program(self) -> Program:
        """The whole integration loop as one Program (of the last solve)."""
        return self._last()[0]

    @property
    def layout(self) -> Layout:
        """The loop's Layout (of the last solve)."""
        return self._last()[1]

    def _last(self) -> tuple[Any, ...]:
        key = self._kernels.get("last")
        return self._kernels[key] if key is not None else self._compile(1, 1)


def variational_for(kernels: dict, system: Any, chosen: list[tuple[str, int, int]]) -> Any:
    """`system`'s variational system for the directions `chosen`, built once."""
    key = ("variational", id(system), tuple(chosen))
    if key not in kernels:
        kernels[key] = variational_system(system, chosen)
    return kernels[key]
