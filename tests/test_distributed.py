"""Batches over a Dask cluster of two worker processes, against the local solve of the
same batch: every result bit for bit, each worker compiling the loop once, failed runs
as statuses, a chunk that raises, a worker lost mid-solve, and a Zarr round trip."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import cubie_trace as ct

distributed = pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")
xr = pytest.importorskip("xarray")

from cubie_trace import shipping  # noqa: E402  (needs Dask)
from cubie_trace.distributed import ChunkError  # noqa: E402
from lowering.targets import default_target  # noqa: E402

pytestmark = pytest.mark.xdist_group("dask")  # one cluster for the module's tests

SPAN, EVERY, N_RUNS = (0.0, 2.0), 0.1, 20_000
RHO = np.linspace(0.0, 30.0, N_RUNS)


@pytest.fixture(scope="module")
def client() -> distributed.Client:
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        client.wait_for_workers(2)
        yield client


@pytest.fixture(scope="module")
def solver() -> ct.Solver:
    lorenz = ct.ODESystem.from_equations(
        ["dx = sigma*(y - x)", "dy = x*(rho - z) - y", "dz = x*y - beta*z"],
        states={"x": 1.0, "y": 0.0, "z": 0.0},
        parameters={"sigma": 10.0, "rho": 28.0, "beta": 8 / 3}, name="lorenz")
    return ct.Solver(lorenz, "tsit5", rtol=1e-8, atol=1e-8, backend="cpu",
                     summaries=("mean", "max"), summarise_every=0.5)


@pytest.fixture(scope="module")
def local(solver: ct.Solver) -> ct.Solution:
    return solver.solve(SPAN, parameters={"rho": RHO}, save_every=EVERY, progress=False)


def assert_same(got: ct.Solution, want: ct.Solution) -> None:
    """Every result of `got` equals `want`'s bit for bit (NaN where NaN)."""
    for name in ("t", "y", "status", "t_final", "y_final", "parameters", "y0"):
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name), err_msg=name)
    for table in ("stats", "summaries", "swept"):
        assert getattr(got, table).keys() == getattr(want, table).keys()
        for key, values in getattr(want, table).items():
            np.testing.assert_array_equal(getattr(got, table)[key], values, err_msg=key)


def kernel_key(solver: ct.Solver) -> str:
    return shipping.ShippedKernel.of(solver.lowered(21, 5, "cpu")).key


def holders(client: distributed.Client, sol: ct.Solution) -> set[str]:
    """The workers holding a persisted Solution's chunks."""
    futures = distributed.futures_of(sol.status)
    return {worker for workers in client.who_has(futures).values() for worker in workers}


def test_a_sweep_is_the_local_solve_bit_for_bit_and_each_worker_compiles_once(
        client: distributed.Client, solver: ct.Solver, local: ct.Solution) -> None:
    sol = solver.solve(SPAN, parameters={"rho": RHO}, save_every=EVERY, client=client,
                       chunks=2_500)
    assert sol.lazy and isinstance(sol.y, da.Array) and sol.y.chunks[0] == (2_500,) * 8
    assert (sol.y.shape, sol.y.dtype) == (local.y.shape, local.y.dtype)
    persisted = sol.persist()
    assert_same(persisted.compute(), local)
    assert holders(client, persisted) == set(client.nthreads())  # both workers solved
    counts = client.run(shipping.compile_counts)
    assert {worker: c.get(kernel_key(solver)) for worker, c in counts.items()} == \
        dict.fromkeys(counts, 1)
    # a run-time option is a kernel argument: the next solve compiles nothing
    tighter = solver.replace(rtol=1e-9).solve(SPAN, parameters={"rho": RHO[:4_000]},
                                              save_every=EVERY, scheduler="dask")
    np.testing.assert_array_equal(
        tighter.compute().y,
        solver.replace(rtol=1e-9).solve(SPAN, parameters={"rho": RHO[:4_000]},
                                        save_every=EVERY, progress=False).y)
    assert client.run(shipping.compile_counts) == counts


def test_to_xarray_is_dask_backed_with_the_local_coordinates(
        client: distributed.Client, solver: ct.Solver, local: ct.Solution) -> None:
    sol = solver.solve(SPAN, parameters={"rho": RHO}, save_every=EVERY, client=client)
    ds = sol.to_xarray()
    assert isinstance(ds["y"].data, da.Array) and isinstance(ds["summary_max"].data, da.Array)
    assert sol.info["chunks"] > 2  # sized by default to give each worker several
    xr.testing.assert_equal(ds.compute(), local.to_xarray())
    picked = ds["y"].sel(rho=RHO[7], state="z")
    np.testing.assert_array_equal(picked.values.ravel(), local.y[7, :, 2])


def test_sensitivities_and_events_on_the_cluster(client: distributed.Client,
                                                 solver: ct.Solver) -> None:
    """Sensitivities integrated as states and an event, solved in chunks on the workers:
    the local solve's results, bit for bit, once computed."""
    extended = solver.replace(sensitivities=["rho", "x"], sensitivity_error_control=True,
                              events=[ct.Event("z - 20", direction=1, name="z20")],
                              summaries=None, summarise_every=None)
    rho = RHO[::100]
    local = extended.solve(SPAN, parameters={"rho": rho}, save_every=0.5, progress=False)
    sol = extended.solve(SPAN, parameters={"rho": rho}, save_every=0.5, client=client,
                         chunks=64).compute()
    for name in ("y", "y0", "y_final", "sensitivities", "sensitivities_final", "event_t",
                 "event_y", "event_count"):
        np.testing.assert_array_equal(getattr(sol, name), getattr(local, name), err_msg=name)
    assert sol.sensitivities.shape == (len(rho), 5, 3, 2)
    assert np.all(local.events["z20"].count[rho > 25] > 0)


def test_failed_runs_stay_failed_runs(client: distributed.Client, solver: ct.Solver) -> None:
    short = solver.replace(max_steps=150)  # the runs with larger rho need more steps
    with pytest.warns(RuntimeWarning, match="runs failed"):
        want = short.solve(SPAN, parameters={"rho": RHO}, save_every=EVERY, progress=False)
    assert 0 < np.count_nonzero(want.ok) < N_RUNS
    sol = short.solve(SPAN, parameters={"rho": RHO}, save_every=EVERY, client=client)
    assert sol.failures() == want.failures()  # of the lazy Solution: computes its statuses
    with pytest.warns(RuntimeWarning, match="runs failed"):
        got = sol.compute()
    assert_same(got, want)


def test_a_chunk_that_raises_names_its_runs_and_worker(client: distributed.Client,
                                                       solver: ct.Solver) -> None:
    if "cuda" in client.run(default_target).values():
        pytest.skip("the workers have a GPU")
    sol = solver.replace(backend="cuda").solve(SPAN, parameters={"rho": RHO[:3_000]},
                                               save_every=EVERY, client=client, chunks=1_000)
    with pytest.raises(ChunkError, match=r"runs \d+\.\.\d+ failed on worker tcp://.+ "
                                         r"RuntimeError: backend 'cuda' .* no CUDA GPU"):
        sol.compute()


def test_to_zarr_round_trip(client: distributed.Client, solver: ct.Solver,
                            local: ct.Solution, tmp_path) -> None:
    sol = solver.solve(SPAN, parameters={"rho": RHO}, save_every=EVERY, client=client,
                       chunks=4_000)
    sol.to_zarr(tmp_path / "sweep.zarr", consolidated=False)
    back = xr.open_zarr(tmp_path / "sweep.zarr", consolidated=False)
    assert back["y"].encoding["chunks"] == (4_000, 21, 3)  # written chunk by chunk
    back = back.set_index(run=["rho"]).compute()
    xr.testing.assert_equal(back, local.to_xarray().reset_index("run").set_index(run=["rho"]))


def test_a_worker_lost_mid_solve_is_recomputed(client: distributed.Client,
                                               solver: ct.Solver, local: ct.Solution) -> None:
    persisted = solver.solve(SPAN, parameters={"rho": RHO}, save_every=EVERY, client=client,
                             chunks=500).persist()
    futures = distributed.futures_of(persisted.status)
    deadline = time.monotonic() + 60
    while not any(f.done() for f in futures) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not all(f.done() for f in futures)  # mid-solve
    victim = next(iter(next(iter(client.who_has([f for f in futures if f.done()]).values()))))
    os.kill(client.run(os.getpid, workers=[victim])[victim], signal.SIGKILL)
    assert_same(persisted.compute(), local)
    while victim in client.nthreads() or len(client.nthreads()) < 2:  # the nanny restarts it
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_bad_arguments(client: distributed.Client, solver: ct.Solver) -> None:
    with pytest.raises(ValueError, match="chunks= sizes the chunks of a Dask solve"):
        solver.solve(SPAN, parameters={"rho": RHO}, chunks=100, progress=False)
    with pytest.raises(ValueError, match="scheduler must be 'dask'"):
        solver.solve(SPAN, scheduler="threads")
    with pytest.raises(TypeError, match="client must be a dask.distributed.Client"):
        solver.solve(SPAN, client="tcp://localhost:8786")
    with pytest.raises(ValueError, match="chunks must be a positive number of runs"):
        solver.solve(SPAN, client=client, chunks=0)


def test_without_dask_the_library_imports_and_client_says_what_to_install() -> None:
    script = """
import sys
sys.modules.update(dask=None, distributed=None)  # as if not installed
import cubie_trace as ct
system = ct.ODESystem.from_equations(["dx = -x"], states={"x": 1.0})
try:
    ct.solve_ivp(system, (0.0, 1.0), client=object())
except ImportError as exc:
    print(exc)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120)
    assert "pip install 'cubie-trace[dask]'" in out.stdout, out.stderr
