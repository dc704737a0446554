"""The `cubie-trace` command: the Lorenz ensemble demo and layout reports."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np


def demo(runs: int, backend: str, out_dir: Path) -> int:
    """Integrate the Lorenz rho-sweep, print a report and write lorenz.png and layout.png."""
    import cubie_trace as ct
    from cubie_trace.systems.library import lorenz

    system = lorenz()
    rhos = np.linspace(0.0, 21.0, runs)
    print(f"cubie-trace demo: Lorenz ensemble, {runs} runs, rho in [0, 21], tsit5, "
          "rtol = atol = 1e-8, t in [0, 1]")
    started = time.perf_counter()
    solver = ct.Solver(system, "tsit5", rtol=1e-8, atol=1e-8, backend=backend)
    sol = solver.solve((0.0, 1.0), parameters={"rho": rhos}, save_every=0.01)
    first = time.perf_counter() - started
    started = time.perf_counter()
    sol = solver.solve((0.0, 1.0), parameters={"rho": rhos}, save_every=0.01, progress=False)
    warm = time.perf_counter() - started
    layout = solver.layout
    steps = int(sol.stats["accepted"].sum() + sol.stats["rejected"].sum())
    bound = layout.lower_bound
    print(f"backend              {sol.info['backend']}")
    print(f"runs                 {sol.n_runs} ({int(sol.ok.sum())} succeeded)")
    print(f"first solve          {first:.2f} s (tracing, planning and compiling included)")
    print(f"solve                {warm:.3f} s")
    print(f"steps                {steps} ({steps / warm:.3g} steps/s, "
          f"{sol.n_runs / warm:.3g} runs/s)")
    for location in ("shared", "local", "persistent"):
        print(f"{location + ' elements':<20} {layout.elements(location)} per thread "
              f"(lower bound {bound[location]})")
    _plot_ensemble(sol, rhos).savefig(out_dir / "lorenz.png", dpi=120)
    layout.plot().savefig(out_dir / "layout.png", dpi=120)
    print(f"wrote {out_dir / 'lorenz.png'} and {out_dir / 'layout.png'}")
    return 0 if sol.ok.all() else 1


def _plot_ensemble(sol: object, rhos: np.ndarray):  # noqa: ANN202
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4), layout="constrained")
    left, right = fig.subplots(1, 2)
    for r in np.linspace(0, len(rhos) - 1, 5).astype(int):
        left.plot(sol.t, sol.y[r, :, 0], label=f"rho = {rhos[r]:.1f}")  # type: ignore[attr-defined]
    left.set(xlabel="t", ylabel="x", title="trajectories")
    left.legend(fontsize="small")
    right.plot(rhos, sol.y[:, -1, 2], ".", markersize=2)  # type: ignore[attr-defined]
    right.set(xlabel="rho", ylabel="z(t = 1)", title="final z against rho")
    return fig


def layout_report(method: str, states: int, out_dir: Path) -> int:
    """Print a method's step layout on an N-state linear chain and write its chart."""
    import cubie_trace as ct
    from cubie_trace.systems.library import linear_chain

    system = linear_chain(states)
    layout = ct.plan(ct.trace(method, system=system))
    layout.verify()
    print(f"{method} step on a {states}-state linear chain, float64")
    print(layout.table())
    path = out_dir / f"layout_{method}.png"
    layout.plot().savefig(path, dpi=120)
    print(f"wrote {path}")
    return 0


def _folder(text: str) -> Path:
    """An existing, writable folder (argparse type): checked before any work starts."""
    path = Path(text)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"no such folder: {text}")
    if not os.access(path, os.W_OK):
        raise argparse.ArgumentTypeError(f"cannot write to {text}")
    return path


def _positive(text: str) -> int:
    """A positive integer (argparse type)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _method(text: str) -> str:
    """A registered method name (argparse type)."""
    import cubie_trace as ct

    if text not in ct.methods():
        raise argparse.ArgumentTypeError(
            f"unknown method {text!r}; choose from {', '.join(sorted(ct.methods()))}")
    return text


def parser() -> argparse.ArgumentParser:
    """The argument parser of the `cubie-trace` command."""
    from cubie_trace import __version__

    top = argparse.ArgumentParser(prog="cubie-trace", description=__doc__)
    top.add_argument("--version", action="version", version=f"cubie-trace {__version__}")
    sub = top.add_subparsers(dest="command", required=True)
    run = sub.add_parser("demo", help="integrate the Lorenz rho-sweep ensemble and plot it")
    run.add_argument("--runs", type=_positive, default=4096,
                     help="number of runs (default 4096)")
    run.add_argument("--backend", default="auto", choices=("auto", "cpu", "cuda"),
                     help="where to run: auto picks a CUDA GPU when one is present, "
                          "else the CPU (default auto)")
    run.add_argument("--out-dir", type=_folder, default=Path.cwd(),
                     help="existing folder for lorenz.png and layout.png (default: here)")
    lay = sub.add_parser("layout", help="print a method's layout table and write its chart")
    lay.add_argument("method", type=_method, help="a name from cubie_trace.methods()")
    lay.add_argument("--states", type=_positive, default=3,
                     help="states of the linear chain (default 3)")
    lay.add_argument("--out-dir", type=_folder, default=Path.cwd(),
                     help="existing folder for layout_METHOD.png (default: here)")
    return top


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `cubie-trace` console script."""
    top = parser()
    args = top.parse_args(argv)
    if args.command == "demo":
        if args.backend == "cuda":
            from lowering.targets import default_target

            if default_target() != "cuda":
                top.error("--backend cuda: no CUDA GPU is available here "
                          "(use --backend cpu or auto)")
        return demo(args.runs, args.backend, args.out_dir)
    return layout_report(args.method, args.states, args.out_dir)


if __name__ == "__main__":
    sys.exit(main())
