"""The reference interpreter: evaluates a program with numpy, with no aliasing.

Every lowering is tested against it. Values are numpy arrays and 0-d numpy
scalars of each variable's dtype under the working `precision`; `tap`s
append copies of their operand to the log, in execution order.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cubie_trace.core.program import Eqn, Program
from cubie_trace.core.tree import flatten, unflatten
from cubie_trace.core.values import Atom, Lit, Var, numpy_dtype

Log = dict[str, list[np.ndarray]]


def interpret(program: Program, *args: Any, precision: str = "float64",
              log: bool = False) -> Any:
    """Evaluate `program` on `args` (structured like its inputs, or flat).

    Returns the outputs, structured like the traced function's result; with
    `log=True` returns `(outputs, log)`, the log mapping each tap name to the
    list of values it recorded.
    """
    if precision not in ("float32", "float64"):
        raise ValueError(f"precision must be 'float32' or 'float64', got {precision!r}")
    leaves, _ = flatten(list(args))
    if len(leaves) != len(program.inputs):
        names = ", ".join(program.input_names) or f"{len(program.inputs)} values"
        raise TypeError(f"interpret: {program.name} takes {len(program.inputs)} inputs "
                        f"({names}), got {len(leaves)}")
    values = []
    for i, (var, value) in enumerate(zip(program.inputs, leaves)):
        arr = np.asarray(value)
        if arr.shape != var.shape:
            label = program.input_names[i] if i < len(program.input_names) else f"input {i}"
            raise ValueError(f"interpret: {label} must have shape {var.shape}, got {arr.shape}")
        values.append(_typed(arr, var, precision))
    records: Log = {}
    outs = _Evaluator(precision, records).run(program, values)
    result = unflatten(program.out_tree, outs) if program.out_tree is not None else tuple(outs)
    return (result, records) if log else result


def _typed(value: Any, var: Var, precision: str) -> Any:
    arr = np.asarray(value, dtype=numpy_dtype(var.dtype, precision))
    return arr[()] if arr.ndim == 0 else arr


class _Evaluator:
    def __init__(self, precision: str, records: Log) -> None:
        self.precision = precision
        self.records = records

    def run(self, program: Program, args: list[Any]) -> list[Any]:
        env: dict[Var, Any] = dict(zip(program.inputs, args))
        for eqn in program.eqns:
            ins = [self.read(env, a) for a in eqn.inputs]
            outs = self.apply(eqn, ins)
            for var, value in zip(eqn.outputs, outs):
                env[var] = _typed(value, var, self.precision)
        return [self.read(env, a) for a in program.outputs]

    def read(self, env: dict[Var, Any], atom: Atom) -> Any:
        if isinstance(atom, Lit):
            return numpy_dtype(atom.dtype, self.precision).type(atom.value)
        return env[atom]

    def record(self, name: str, value: Any) -> None:
        self.records.setdefault(name, []).append(np.array(value, copy=True))

    def apply(self, eqn: Eqn, ins: list[Any]) -> list[Any]:
        """The primitive's numpy rule, given the services it names in its `context`."""
        services = {"precision": self.precision, "run": self.run, "record": self.record}
        extra = {key: services[key] for key in eqn.primitive.context}
        with np.errstate(all="ignore"):
            return eqn.primitive.impl(*ins, **eqn.params, **extra)
