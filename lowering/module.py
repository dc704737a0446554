"""Assemble a generated module: system functions, the program's device function and the
batch kernel, for one target and precision."""

from __future__ import annotations

import attrs

from cubie_trace.core.program import Program
from cubie_trace.core.values import Var
from cubie_trace.layout import Layout
from lowering import names
from lowering.children import Children
from lowering.codegen import FunctionWriter
from lowering.lanes import LANE_HELPERS, LaneFunction
from lowering.memory import NUMPY_TYPE, Memory, Ref


@attrs.frozen
class Signature:
    """How the device function and the kernel see the program's inputs and outputs."""

    inputs: tuple[str, ...]  # parameter per program input ("" for carried state)
    outputs: tuple[str, ...]  # "out<k>" for buffer outputs, "sout<k>" scalars, "" carried
    batched: tuple[bool, ...]
    carried: dict[int, Var]  # output index -> the carried input it updates


def signature(program: Program, batched: tuple[bool, ...]) -> Signature:
    carried_in = {c.input for c in program.carried}
    carried_out = _carried_outputs(program)
    ins = tuple("" if v in carried_in else (f"in{k}" if v.is_buffer else f"s{k}")
                for k, v in enumerate(program.inputs))
    outs = tuple("" if k in carried_out else (f"out{k}" if a.shape else f"sout{k}")
                 for k, a in enumerate(program.outputs))
    return Signature(ins, outs, batched, carried_out)


def _carried_outputs(program: Program) -> dict[int, Var]:
    """Output index -> the carried input it updates."""
    out: dict[int, Var] = {}
    n = len(program.outputs)
    for c in program.carried:
        for k in range(n):
            if program.outputs[k] is c.output and k not in out:
                out[k] = c.input
                break
    return out


def device_function(program: Program, layout: Layout, memory: Memory, sig: Signature,
                    systems: dict, target: str, instrument: bool,
                    children: Children) -> tuple[list[str], dict[str, str]]:
    """Source lines of the program's device function (its children's go to `children`),
    and the IR dtype of each local it names.

    Written twice: first to find which small arrays are only ever addressed at
    constant indices (`memory.registers`), then holding those in scalar locals."""
    _body(program, layout, memory, sig, systems, target, instrument,
          Children(program, children.decorator))
    memory.registers.settle()
    writer, returns = _body(program, layout, memory, sig, systems, target, instrument,
                            children)
    params = [p for p in sig.inputs if p] + [p for p in sig.outputs if p.startswith("out")]
    params += memory.pool_arrays()
    if instrument:
        params += ["log_data", "log_count"]
    head = f"def {function_name(program)}({', '.join(params)}):"
    tail = f"    return ({', '.join(returns)},)" if returns else "    return 0"
    entry = ["    " + line for line in memory.held_entry()]
    exit_ = ["    " + line for line in memory.held_exit()]
    dtypes = {name: var.dtype for var, name in writer.values.items()}
    dtypes |= {f"{array}_{k}": dtype for array in memory.registers.held
               for k, dtype in [(k, memory.registers.candidates[array][1])
                                for k in range(memory.registers.candidates[array][0])]}
    return [head, *entry, *writer.lines, *exit_, tail], dtypes


def lane_device_function(program: Program, memory: Memory, sig: Signature,
                         scalar: list[str], dtypes: dict[str, str], instrument: bool,
                         lanes: int) -> list[str]:
    """The device function's lane-blocked form (`lowering.lanes`)."""
    arrays = {p for p, batched in zip(sig.inputs, sig.batched)
              if p.startswith("in") and batched}
    arrays |= {p for p in sig.outputs if p.startswith("out")} | set(memory.pool_arrays())
    if instrument:
        arrays |= {"log_data", "log_count"}
    lane_params = {p for p, batched in zip(sig.inputs, sig.batched)
                   if p.startswith("s") and batched}
    returned = [a.dtype for k, a in enumerate(program.outputs) if sig.outputs[k].startswith("sout")]
    function = LaneFunction("\n".join(scalar), dtypes, arrays, lane_params, returned)
    return function.source(lane_function_name(program), lanes)


def _body(program: Program, layout: Layout, memory: Memory, sig: Signature, systems: dict,
          target: str, instrument: bool, children: Children
          ) -> tuple[FunctionWriter, list[str]]:
    """A writer holding the device function's body, and the scalars it returns."""
    writer = FunctionWriter(program, layout, memory, systems, target, instrument, children)
    for var, param in zip(program.inputs, sig.inputs):
        if param.startswith("s"):
            writer.values[var] = param
    writer.body(program)
    returns = []
    for k, atom in enumerate(program.outputs):
        param = sig.outputs[k]
        if k in sig.carried:
            writer.copy(atom, sig.carried[k])
        elif param.startswith("out"):
            _write_output(writer, atom, memory.array(param))
        else:
            returns.append(writer.scalar(atom, atom.dtype))
    return writer, returns


def _write_output(writer: FunctionWriter, atom: object, dst: Ref) -> None:
    if isinstance(atom, Var) and writer.ref(atom).same(dst):
        return
    writer.each(atom.aval.elements,  # type: ignore[attr-defined]
                lambda i: [f"{dst.at(i)} = {writer.element(atom, i, atom.dtype)}"])  # type: ignore


def function_name(program: Program) -> str:
    """The device function's name: an identifier made from the program's name."""
    return f"program_{names.identifier(program.name)}"


def lane_function_name(program: Program) -> str:
    return f"{function_name(program)}_lanes"


def system_functions(program: Program, target_module: object) -> tuple[dict, list[str]]:
    """Emitted system functions, one per (system, function) the program calls."""
    names: dict = {}
    lines: list[str] = []
    for _, eqn in program.walk():
        if eqn.primitive.kind != "system":
            continue
        system, fn = eqn.params["system"], eqn.params["fn"]
        key = (id(system), fn)
        if key in names:
            continue
        name = f"system{len({k[0] for k in names})}_{fn}"
        names[key] = name
        lines += ["", target_module.DEVICE, *system.emit(fn, name).splitlines()]  # type: ignore
    return names, lines


def _kernel_parameters(memory: Memory, sig: Signature, instrument: bool) -> list[str]:
    params = ["n_runs"]
    for p in (*sig.inputs, *sig.outputs):
        if p:
            params.append(f"{p}_all")
    params += [f"{name}_all" for name in memory.pool_arrays() if name.startswith("persist")]
    if instrument:
        params += ["log_data_all", "log_count_all"]
    return params


def _rows(sig: Signature, rows: str) -> tuple[list[str], list[str]]:
    """Kernel lines taking the inputs' and outputs' `rows` of the batch (`[run]`, or a
    block's slice), and the device function's arguments they give."""
    body, call = [], []
    for p, batched in zip(sig.inputs, sig.batched):
        if p:
            body.append(f"{p} = {p}_all{rows}" if batched else f"{p} = {p}_all")
            call.append(p)
    for p in sig.outputs:
        if p.startswith("out"):
            body.append(f"{p} = {p}_all{rows}")
            call.append(p)
    return body, call


def _run_body(program: Program, memory: Memory, sig: Signature, target: str,
              instrument: bool) -> list[str]:
    """Kernel lines integrating run `run`: its rows of the batch, its pools, the call."""
    rows, call = _rows(sig, "[run]")
    body = memory.allocate(target, "run") + rows
    call += memory.pool_arrays()
    if instrument:
        body += ["log_data = log_data_all[run]", "log_count = log_count_all[run]"]
        call += ["log_data", "log_count"]
    body.append(f"result = {function_name(program)}({', '.join(call)})")
    j = 0
    for p in sig.outputs:
        if p.startswith("sout"):
            body.append(f"{p}_all[run] = result[{j}]")
            j += 1
    return body


def _block_body(program: Program, memory: Memory, sig: Signature, instrument: bool,
                lanes: int) -> list[str]:
    """Kernel lines integrating runs `first` to `first + lanes`: views of their rows of
    the batch, their pools, the lane-blocked call."""
    rows = f"[first:first + {lanes}]"
    body, taken = _rows(sig, rows)
    call = [str(lanes), *taken]
    for name in memory.pool_arrays():
        location, dtype = name.split("_", 1)
        if location == "persist":
            body.append(f"{name} = {name}_all{rows}")
        else:
            size = memory.pools[("shared" if location == "shared" else "local", dtype)]
            body.append(f"{name} = np.empty(({lanes}, {size}), {NUMPY_TYPE[dtype]})")
        call.append(name)
    if instrument:
        body += [f"log_data = log_data_all{rows}", f"log_count = log_count_all{rows}"]
        call += ["log_data", "log_count"]
    body.append(f"result = {lane_function_name(program)}({', '.join(call)})")
    j = 0
    for p in sig.outputs:
        if p.startswith("sout"):
            body += [f"for l in range({lanes}):", f"    {p}_all[first + l] = result[{j}][l]"]
            j += 1
    return body


def kernel(program: Program, memory: Memory, sig: Signature, target_module: object,
           instrument: bool) -> list[str]:
    """Source lines of the batch kernel: one run per thread (CUDA) or prange step (CPU)."""
    opening, pad = target_module.kernel_prologue("run")  # type: ignore[attr-defined]
    body = _run_body(program, memory, sig, target_module.NAME, instrument)  # type: ignore
    lines = [target_module.KERNEL,  # type: ignore[attr-defined]
             f"def kernel({', '.join(_kernel_parameters(memory, sig, instrument))}):"]
    lines += ["    " + line for line in opening]
    lines += ["    " + pad + line for line in body]
    return lines


def lane_kernel(program: Program, memory: Memory, sig: Signature, target_module: object,
                instrument: bool, lanes: int) -> list[str]:
    """Source lines of the CPU batch kernel integrating `lanes` runs per `prange` step
    (the lane-blocked device function on views of their rows), and the runs left over
    after the last whole block one per step (the scalar device function)."""
    params = _kernel_parameters(memory, sig, instrument)
    block = _block_body(program, memory, sig, instrument, lanes)
    run = _run_body(program, memory, sig, "cpu", instrument)
    return [target_module.KERNEL, f"def kernel({', '.join(params)}):",  # type: ignore
            f"    blocks = n_runs // {lanes}",
            f"    for step in prange(blocks + n_runs % {lanes}):",
            "        if step < blocks:",
            f"            first = step * {lanes}",
            *("            " + line for line in block),
            "        else:",
            f"            run = blocks * {lanes} + step - blocks",
            *("            " + line for line in run)]


HEADER = '''"""Generated by cubie_trace.lowering."""

# program {name}, target {target}, precision {precision}

import math

import numpy as np
{target_header}

FLOAT = np.{precision}
'''


def module_source(program: Program, layout: Layout, memory: Memory, sig: Signature,
                  target_module: object, precision: str, instrument: bool,
                  lanes: int = 1) -> str:
    """The whole generated module (with `lanes` > 1, a CPU one whose kernel integrates
    that many runs together)."""
    systems, system_lines = system_functions(program, target_module)
    children = Children(program, target_module.DEVICE)  # type: ignore[attr-defined]
    device, dtypes = device_function(program, layout, memory, sig, systems,
                                     target_module.NAME, instrument, children)  # type: ignore
    decorator = target_module.DEVICE  # type: ignore[attr-defined]
    parts = [HEADER.format(name=names.comment(program.name), target=target_module.NAME,  # type: ignore
                           precision=precision,
                           target_header=target_module.HEADER),  # type: ignore
             *system_lines, *children.lines, "", "", decorator, *device, "", ""]
    if lanes > 1:
        lane_lines = lane_device_function(program, memory, sig, device, dtypes, instrument,
                                          lanes)
        parts += [*LANE_HELPERS.format(decorator=decorator).splitlines(), "", "",
                  decorator, *lane_lines, "", "",
                  *lane_kernel(program, memory, sig, target_module, instrument, lanes), ""]
    else:
        parts += [*kernel(program, memory, sig, target_module, instrument), ""]
    return "\n".join(parts)
