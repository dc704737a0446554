"""Symbolic analysis for the sparse LU: a fill-reducing order, the fill-in and the
static elimination schedule, all computed once in Python from a sparsity pattern."""

from __future__ import annotations

import attrs
import numpy as np


def minimum_degree(pattern: np.ndarray) -> list[int]:
    """A minimum-degree elimination order of the symmetrised pattern (ties: lowest
    index): eliminating a node joins its remaining neighbours into a clique."""
    n = pattern.shape[0]
    sym = pattern | pattern.T
    neighbours = [set(np.flatnonzero(sym[i])) - {i} for i in range(n)]
    remaining = set(range(n))
    order = []
    while remaining:
        node = min(remaining, key=lambda i: (len(neighbours[i]), i))
        order.append(node)
        remaining.remove(node)
        around = neighbours[node]
        for i in around:
            neighbours[i] |= around - {i}
            neighbours[i].discard(node)
    return order


@attrs.frozen(eq=False)
class Symbolic:
    """A pattern analysed for LU in the order `perm` (row/column k of the factors is
    row/column `perm[k]` of A).

    `slots[(i, j)]` is the position of factor entry (i, j) (permuted indices) in the
    one buffer holding L (unit diagonal not stored) and U: A's structural nonzeros plus
    fill, row-major. `source[s]` is the index, in A's row-major nonzeros, of the value
    slot s starts from (-1 for fill). `lower[i]` / `upper[i]` list the columns j < i /
    j > i of row i present in the factors.
    """

    n: int
    perm: tuple[int, ...]
    slots: dict[tuple[int, int], int]
    source: tuple[int, ...]
    lower: tuple[tuple[int, ...], ...]
    upper: tuple[tuple[int, ...], ...]

    @property
    def nnz(self) -> int:
        return len(self.slots)

    @property
    def fill(self) -> int:
        return sum(1 for s in self.source if s < 0)

    def below(self, k: int) -> list[int]:
        """Rows i > k with an entry in column k of L."""
        return [i for i in range(k + 1, self.n) if (i, k) in self.slots]


def analyse(pattern: np.ndarray) -> Symbolic:
    """Order `pattern` (a square bool array; the diagonal is always kept, since the
    pivots live there) and find the fill of LU without pivoting in that order."""
    pattern = np.asarray(pattern)
    if pattern.ndim != 2 or pattern.shape[0] != pattern.shape[1] or pattern.shape[0] == 0:
        raise ValueError(f"SparseLU: the pattern must be a non-empty square array, got shape "
                         f"{pattern.shape}")
    if pattern.dtype != bool:
        raise ValueError(f"SparseLU: the pattern must be a bool array, got {pattern.dtype}")
    n = pattern.shape[0]
    structure = pattern | np.eye(n, dtype=bool)
    perm = minimum_degree(structure)
    filled = structure[np.ix_(perm, perm)].copy()
    for k in range(n):  # symbolic elimination: row k's pattern spreads to rows below
        rows = np.flatnonzero(filled[k + 1:, k]) + k + 1
        cols = np.flatnonzero(filled[k, k + 1:]) + k + 1
        filled[np.ix_(rows, cols)] = True
    original = {(int(i), int(j)): s for s, (i, j) in enumerate(zip(*np.nonzero(pattern)))}
    entries = [(int(i), int(j)) for i, j in zip(*np.nonzero(filled))]
    slots = {e: s for s, e in enumerate(entries)}
    source = tuple(original.get((perm[i], perm[j]), -1) for i, j in entries)
    lower = tuple(tuple(j for j in range(i) if filled[i, j]) for i in range(n))
    upper = tuple(tuple(j for j in range(i + 1, n) if filled[i, j]) for i in range(n))
    return Symbolic(n, tuple(perm), slots, source, lower, upper)
