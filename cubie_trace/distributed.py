"""Batches over a Dask cluster: `Solver.solve(..., client=client)`.

The batch is cut into chunks of consecutive runs. Each chunk is one Dask task that
solves its runs on a worker by the local code path (`run_in_pieces` over a `Lowered`),
with the kernel shipped as generated source and compiled once per worker process
(`cubie_trace.shipping`). The results are Dask arrays over those tasks, with the shapes
and dtypes of a local solve and chunked along the runs: nothing runs until they are
computed (`sol.compute()`, `sol.persist()`, `sol.to_zarr(path)`), and computing them
together solves each chunk once. Tasks hold their inputs, so Dask recomputes the chunks
of a lost worker. A run that fails numerically keeps its status code like a local run; a
chunk that raises fails the computation with a `ChunkError` naming its runs and worker.

A CPU chunk runs on one Numba thread, since Dask counts a worker thread as one core.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import attrs
import numpy as np

try:
    import dask
    import dask.array as da
    import distributed
    from dask.highlevelgraph import HighLevelGraph
    from dask.utils import parse_bytes
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("solving on a Dask cluster needs Dask: "
                      "pip install 'cubie-trace[dask]'") from exc

from cubie_trace import shipping
from cubie_trace.batch import Batch
from cubie_trace.core.tree import flatten, unflatten
from cubie_trace.launches import run_in_pieces
from cubie_trace.solution import Solution
from lowering.targets import default_target, runnable

CHUNKS_PER_THREAD = 4  # so the work balances and a lost worker costs a small share
MIN_CHUNK = 8192  # runs: below this the overhead per chunk (tens of ms) shows on the CPU
MEMORY_SHARE = 8  # a chunk's inputs and results take at most 1/8 of a thread's memory


class ChunkError(RuntimeError):
    """A chunk of runs lo..hi (hi excluded) raised on a worker; a run that fails
    numerically is not this but a status code."""


@attrs.frozen(eq=False)
class Job:
    """What every chunk of one solve shares: the kernel per target, the backend asked
    for ("auto": each worker's default), the arguments all runs share, and the first
    run's initial values and parameters with the columns that vary from run to run (a
    chunk carries only those)."""

    kernels: dict[str, shipping.ShippedKernel]
    backend: str
    shared: tuple
    y0: np.ndarray
    parameters: np.ndarray
    varying_y0: np.ndarray
    varying_parameters: np.ndarray

    @classmethod
    def of(cls, kernels: dict[str, shipping.ShippedKernel], backend: str, shared: tuple,
           batch: Batch) -> Job:
        varying = [np.flatnonzero(np.any(a != a[:1], axis=0))
                   for a in (batch.y0, batch.parameters)]
        return cls(kernels, backend, shared, batch.y0[0], batch.parameters[0], *varying)

    @property
    def kernel(self) -> shipping.ShippedKernel:
        """One of the kernels: all have the same outputs."""
        return next(iter(self.kernels.values()))

    def bytes_per_run(self) -> int:
        """What a run's results and varying inputs take."""
        outputs = sum(int(np.prod(shape)) * np.dtype(dtype).itemsize
                      for shape, dtype in self.kernel.output_specs())
        return outputs + 8 * (len(self.varying_y0) + len(self.varying_parameters))

    def target(self) -> str:
        """This worker's target, refusing one the kernel cannot run on here."""
        here = default_target()
        target = here if self.backend == "auto" else self.backend
        if not runnable(target):
            raise RuntimeError("backend 'cuda' was asked for, but this worker has no CUDA GPU")
        if target not in self.kernels:
            raise RuntimeError(f"this worker's default backend is {target!r}, which the "
                               f"kernel was not lowered for (workers had {sorted(self.kernels)})")
        return target


def client_for(client: Any, scheduler: str | None) -> distributed.Client:
    """The client a solve runs on: `client`, or the default one for `scheduler="dask"`."""
    if scheduler is not None and scheduler != "dask":
        raise ValueError(f"scheduler must be 'dask' (the default Dask client), got {scheduler!r}")
    if client is None:
        try:
            return distributed.default_client()
        except ValueError:
            raise ValueError("scheduler='dask': no Dask client is running; make one with "
                             "dask.distributed.Client(...) or pass client=") from None
    if not isinstance(client, distributed.Client):
        raise TypeError(f"client must be a dask.distributed.Client, got {type(client).__name__}")
    return client


def solve(solver: Any, ts: np.ndarray, window: int, batch: Batch, shared: tuple,
          client: distributed.Client, chunks: int | None = None,
          backend: str = "auto", y0: np.ndarray | None = None,
          results: Callable[[Any], Any] | None = None) -> Solution:
    """The Solution of `batch` solved by `solver` in chunks of `chunks` runs (default:
    `chunk_size`) on the workers of `client`, its results lazy Dask arrays. `shared` are
    the kernel's arguments common to all runs; `backend` is the one asked for ("auto":
    each worker's default); `y0` replaces the batch's initial values as the loop's
    (those of a variational system), and `results` turns the loop's outputs into the
    Solution's."""
    solved = batch if y0 is None else attrs.evolve(batch, y0=y0)
    workers = client.scheduler_info(n_workers=-1)["workers"]
    if not workers:
        raise ValueError("the Dask cluster has no workers")
    targets = sorted(set(client.run(default_target).values()) if backend == "auto"
                     else {backend})
    job = Job.of({t: shipping.ShippedKernel.of(solver.lowered(len(ts), window, t,
                                                              lanes=solver.lanes or 1))
                  for t in targets}, backend, shared, solved)
    size = int(chunks or chunk_size(batch.n_runs, job.bytes_per_run(), workers))
    bounds = [(lo, min(lo + size, batch.n_runs)) for lo in range(0, batch.n_runs, size)]
    outputs = unflatten(job.kernel.interface.out_tree, _arrays(job, solved, bounds))
    if results is not None:
        outputs = results(outputs)
    return Solution.from_outputs(solver, ts, window, batch, outputs, {
        "backend": ",".join(targets), "method": solver.step.name,
        "precision": solver.precision, "rtol": solver.options.rtol,
        "atol": solver.options.atol, "scheduler": client.scheduler.address,
        "chunks": len(bounds), "chunk_runs": size})


def _arrays(job: Job, batch: Batch, bounds: list[tuple[int, int]]) -> list[da.Array]:
    """The kernel's outputs for runs `bounds[i]` in chunk i, as Dask arrays over one task
    per chunk (holding the chunk's varying inputs) and the job they share."""
    token = dask.base.tokenize(sorted(k.key for k in job.kernels.values()), job.backend,
                               job.shared, batch.y0, batch.parameters, bounds)
    job_key, chunk_name = f"cubie-trace-job-{token}", f"cubie-trace-chunk-{token}"
    tasks: dict[Any, Any] = {job_key: job}
    for i, (lo, hi) in enumerate(bounds):
        tasks[(chunk_name, i)] = (solve_chunk, job_key, lo, hi,
                                  batch.y0[lo:hi, job.varying_y0],
                                  batch.parameters[lo:hi, job.varying_parameters])
    runs = tuple(hi - lo for lo, hi in bounds)
    arrays = []
    for k, (shape, dtype) in enumerate(job.kernel.output_specs()):
        name = f"cubie-trace-out{k}-{token}"
        layer = {(name, i, *(0,) * len(shape)): (_pick, (chunk_name, i), k)
                 for i in range(len(runs))}
        graph = HighLevelGraph({chunk_name: tasks, name: layer},
                               {chunk_name: set(), name: {chunk_name}})
        arrays.append(da.Array(graph, name, (runs, *((n,) for n in shape)), dtype=dtype))
    return arrays


def chunk_size(n_runs: int, bytes_per_run: int, workers: dict[str, dict]) -> int:
    """Runs per chunk: few enough that each worker thread gets `CHUNKS_PER_THREAD`
    chunks, but at least `MIN_CHUNK`; and few enough that a chunk's inputs and results
    stay within Dask's array chunk size and 1/`MEMORY_SHARE` of a worker thread's memory.
    `workers` is the scheduler's description of them (`nthreads`, `memory_limit`)."""
    threads = sum(w["nthreads"] for w in workers.values())
    memory = min((w["memory_limit"] / w["nthreads"] for w in workers.values()
                  if w.get("memory_limit")), default=math.inf)
    budget = min(parse_bytes(dask.config.get("array.chunk-size")), memory / MEMORY_SHARE)
    by_memory = max(1, int(budget // max(bytes_per_run, 1)))
    by_balance = max(MIN_CHUNK, -(-n_runs // (CHUNKS_PER_THREAD * max(threads, 1))))
    return max(1, min(n_runs, by_memory, by_balance))


def solve_chunk(job: Job, lo: int, hi: int, y0_varying: np.ndarray,
                parameters_varying: np.ndarray) -> list[np.ndarray]:
    """Solve runs lo..hi on this worker; their outputs, flattened in the kernel's order."""
    import numba

    threads = numba.get_num_threads()
    try:
        target = job.target()
        lowered = shipping.kernel(job.kernels[target])
        y0 = _rows(job.y0, job.varying_y0, y0_varying)
        parameters = _rows(job.parameters, job.varying_parameters, parameters_varying)
        numba.set_num_threads(1)  # per thread: this task's thread is one of Dask's cores
        outputs, _, _ = run_in_pieces(
            lowered, hi - lo, lambda a, b: (y0[a:b], parameters[a:b], *job.shared), False)
    except Exception as exc:
        raise ChunkError(f"runs {lo}..{hi} failed on worker {_worker()}: "
                         f"{type(exc).__name__}: {exc}") from exc
    finally:
        numba.set_num_threads(threads)
    return flatten(outputs)[0]


def _rows(first: np.ndarray, varying: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per-run rows: the first run's row with the varying columns set from `values`."""
    rows = np.tile(first, (len(values), 1))
    rows[:, varying] = values
    return rows


def _pick(outputs: list[np.ndarray], k: int) -> np.ndarray:
    return outputs[k]


def _worker() -> str:
    try:
        return distributed.get_worker().address
    except ValueError:  # computed by another scheduler, in this process
        return "(this process)"
