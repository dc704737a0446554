"""The statements of a scalar device function as `lowering.lanes` runs them: which
statements form a segment (one loop over the lanes), which `while` loops run in
lock-step, what each segment reads before writing, and the loop-carry copies that can
be coalesced away."""

from __future__ import annotations

import ast


def simple(stmt: ast.stmt) -> bool:
    return isinstance(stmt, (ast.Assign, ast.AugAssign, ast.Expr, ast.Pass))


def lockstep(stmt: ast.stmt) -> bool:
    """`while True:` opening with simple statements and `if not <name>: break`."""
    if not (isinstance(stmt, ast.While) and isinstance(stmt.test, ast.Constant)
            and stmt.test.value is True and not stmt.orelse):
        return False
    for k, inner in enumerate(stmt.body):
        if is_exit(inner):
            return all(simple(s) for s in stmt.body[:k])
        if not simple(inner):
            return False
    return False


def is_exit(stmt: ast.stmt) -> bool:
    return (isinstance(stmt, ast.If) and isinstance(stmt.test, ast.UnaryOp)
            and isinstance(stmt.test.op, ast.Not) and isinstance(stmt.test.operand, ast.Name)
            and len(stmt.body) == 1 and isinstance(stmt.body[0], ast.Break)
            and not stmt.orelse)


def split(stmts: list[ast.stmt]) -> list[list[ast.stmt]]:
    """Runs of simple statements, and each compound statement on its own."""
    groups: list[list[ast.stmt]] = []
    for stmt in stmts:
        if simple(stmt) and groups and all(simple(s) for s in groups[-1]):
            groups[-1].append(stmt)
        else:
            groups.append([stmt])
    return groups


def _references(node: ast.AST) -> dict[str, int]:
    counts: dict[str, int] = {}
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            counts[sub.id] = counts.get(sub.id, 0) + 1
    return counts


def coalesce(body: list[ast.stmt], fixed: set[str], function: ast.AST) -> list[ast.stmt]:
    """`body` with copies `x = y` removed where `y` can live in `x` instead: `y` is
    first written by a statement of `body` and referenced only from there to the copy,
    and `x` is not referenced in between. A loop's carries are such copies (each result
    copied into its slot at the end of the pass), which in lanes would each cost a load
    and a store per pass. Applied to every `while` body within, too."""
    body = list(body)
    changed = True
    while changed:
        changed = False
        everywhere = _references(function)
        for j, stmt in enumerate(body):
            if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
                    and isinstance(stmt.targets[0], ast.Name)
                    and isinstance(stmt.value, ast.Name)):
                continue
            x, y = stmt.targets[0].id, stmt.value.id
            if x == y:
                del body[j]
                changed = True
                break
            if x in fixed or y in fixed:
                continue
            first = next((i for i in range(j) if isinstance(body[i], ast.Assign)
                          and any(isinstance(t, ast.Name) and t.id == y
                                  for t in body[i].targets)), None)  # type: ignore
            if first is None:
                continue
            span = sum(_references(b).get(y, 0) for b in body[first:j + 1])
            if span != everywhere.get(y, 0) or any(_references(b).get(x, 0)
                                                   for b in body[first + 1:j]):
                continue
            for b in body[first:j]:
                for sub in ast.walk(b):
                    if isinstance(sub, ast.Name) and sub.id == y:
                        sub.id = x
            del body[j]
            changed = True
            break
    for stmt in body:
        if isinstance(stmt, ast.While):
            stmt.body = coalesce(stmt.body, fixed, function)
    return body


class Segment:
    """Statements run for every lane in one `for l in range(W)` loop."""

    def __init__(self, stmts: list[ast.stmt], mask: str | None) -> None:
        self.stmts, self.mask = stmts, mask  # the mask of the lanes still running
        self.reads: set[str] = set()
        self.writes: set[str] = set()
        self.exposed: set[str] = set()  # read before any write, in source order
        for stmt in stmts:
            self._scan(stmt)
        # values in a segment with a loop or branch may keep their old value
        self.loads = self.exposed | (set() if all(simple(s) for s in stmts) else self.writes)

    def _scan(self, node: ast.AST) -> None:
        if isinstance(node, ast.Assign):
            self._scan(node.value)
            for target in node.targets:
                self._scan(target)
        elif isinstance(node, ast.AugAssign):
            self._scan(node.value)
            if isinstance(node.target, ast.Name):
                self._read(node.target.id)
            self._scan(node.target)
        elif isinstance(node, ast.For):
            self._scan(node.iter)
            self._scan(node.target)
            for stmt in node.body:
                self._scan(stmt)
        elif isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Store):
                self.writes.add(node.id)
            else:
                self._read(node.id)
        else:
            for child in ast.iter_child_nodes(node):
                self._scan(child)

    def _read(self, name: str) -> None:
        self.reads.add(name)
        if name not in self.writes:
            self.exposed.add(name)
