"""Step-size controllers, as traced code.

A controller turns the scaled error norm E of a trial step (accept when
E <= 1) into the next step size. With k = min(order, error_order) + 1:

- ``fixed``: always accept, keep dt;
- ``i``: dt * safety * E^(-1/k);
- ``pi``: dt * safety * E^(-0.7/k) * E_prev^(0.4/k);
- ``pid``: dt * safety * E^(-0.49/k) * E_prev^(0.34/k) * E_prev2^(-0.10/k);
- ``gustafsson``: the predictive controller of Hairer and Wanner (Radau5): the
  smaller of the I factor and safety * (dt/dt_prev) * (E_prev / E)^(1/k) * E^(-1/k).

Factors are clipped to [min_factor, max_factor] (at most 1 after a rejection),
and the result to dt_max (the step-size limits are run-time options of the
loop). History (previous norms and step) changes
only on accepted steps.

A step that fails in a retryable way (a Newton or linear solver failure) is
rejected and retried with dt * retry_factor by every kind, history unchanged.
The fixed controller takes the shrunk dt for sub-steps up to the end of the
step that failed (or an earlier save time), then returns to its nominal dt, so
the grid of a fixed-step run is kept; a further failure among the sub-steps
shrinks them again.
"""

from __future__ import annotations

from typing import Any

import attrs

from cubie_trace.core import ops

KINDS = ("fixed", "i", "pi", "pid", "gustafsson")
# exponents (of E, E_prev, E_prev2) in units of 1/k
FILTERS = {"i": (1.0, 0.0, 0.0), "pi": (0.7, -0.4, 0.0), "pid": (0.49, -0.34, 0.10),
           "gustafsson": (1.0, 0.0, 0.0)}


def _positive(name: str) -> Any:
    def check(_: Any, attribute: Any, value: float) -> None:
        if not value > 0:
            raise ValueError(f"controller: {name} must be positive, got {value}")

    return check


@attrs.frozen
class Controller:
    """A step-size controller: its kind and its factors."""

    kind: str = "pi"
    safety: float = attrs.field(default=0.9, validator=_positive("safety"))
    min_factor: float = attrs.field(default=0.2, validator=_positive("min_factor"))
    max_factor: float = attrs.field(default=10.0, validator=_positive("max_factor"))
    retry_factor: float = attrs.field(default=0.25, validator=_positive("retry_factor"))

    def __attrs_post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"controller must be one of {KINDS}, got {self.kind!r}")
        if self.min_factor > 1 or self.max_factor < 1:
            raise ValueError("controller: need min_factor <= 1 <= max_factor")
        if self.retry_factor >= 1:
            raise ValueError(f"controller: retry_factor must be below 1, got {self.retry_factor}")

    @property
    def adaptive(self) -> bool:
        return self.kind != "fixed"

    def initial_history(self, dt: Any) -> tuple[Any, Any, Any]:
        """(E_prev, E_prev2, dt_prev) before the first step."""
        return 1.0, 1.0, dt

    def retry(self, dt: Any) -> Any:
        """The step size to retry with after a retryable failure of a step of size dt."""
        return dt * self.retry_factor

    def propose(self, norm: Any, dt: Any, history: tuple[Any, Any, Any], k: int,
                dt_max: Any = float("inf")) -> tuple[Any, Any, tuple[Any, Any, Any]]:
        """(accept, next dt at most dt_max, next history) from the error norm of a step
        of size dt."""
        if not self.adaptive:
            return True, dt, history
        e_prev, e_prev2, dt_prev = history
        accept = norm <= 1.0
        e = ops.maximum(ops.where(ops.isfinite(norm), norm, 1e300), 1e-10)
        b1, b2, b3 = FILTERS[self.kind]
        # E^a E_prev^b ... as one exp of a sum of logs: cheaper than a pow per factor on
        # GPUs (E and its history are positive and finite, so the logs are too)
        log_e = ops.log(e)
        log_prev = ops.log(e_prev) if b2 or self.kind == "gustafsson" else None
        exponent = (-b1 / k) * log_e
        if b2:
            exponent = exponent + (-b2 / k) * log_prev
        if b3:
            exponent = exponent + (-b3 / k) * ops.log(e_prev2)
        factor = self.safety * ops.exp(exponent)
        if self.kind == "gustafsson":
            predictive = self.safety * (dt / dt_prev) * \
                ops.exp((log_prev - log_e) * (1.0 / k) - log_e * (1.0 / k))
            factor = ops.minimum(factor, predictive)
        factor = ops.minimum(ops.maximum(factor, self.min_factor), self.max_factor)
        factor = ops.where(accept, factor, ops.minimum(factor, 1.0))
        dt_new = ops.minimum(dt * factor, dt_max)
        history_new = (ops.where(accept, e, e_prev), ops.where(accept, e_prev, e_prev2),
                       ops.where(accept, dt, dt_prev))
        return accept, dt_new, history_new


def controller_for(step: Any, controller: str | Controller | None) -> Controller:
    """The controller of `step`: `controller` (a Controller or a kind), else PI for an
    adaptive step and a fixed step otherwise."""
    if isinstance(controller, Controller):
        chosen = controller
    else:
        if controller is not None and controller not in KINDS:
            raise ValueError(f"controller must be one of {KINDS}, got {controller!r}")
        chosen = Controller(controller or ("pi" if step.adaptive else "fixed"))
    if chosen.adaptive and not step.adaptive:
        raise ValueError(f"method {step.name!r} has no error estimate; "
                         "use controller='fixed' with dt")
    return chosen
