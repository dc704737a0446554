"""The `cubie-trace` command."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `cubie-trace` console script."""
    parser = argparse.ArgumentParser(prog="cubie-trace", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="integrate the Lorenz rho-sweep ensemble and plot it")
    args = parser.parse_args(argv)
    if args.command == "demo":
        print("cubie-trace demo: integrates 4,096 Lorenz runs (rho swept over [0, 21]) with "
              "tsit5 at rtol = atol = 1e-8 and writes lorenz.png and layout.png. The batch "
              "solver is not built yet.", file=sys.stderr)
        return 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
