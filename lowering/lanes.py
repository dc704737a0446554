"""The lane-blocked form of a CPU device function: W runs integrated together, their
values held in W-element lanes, so that LLVM vectorises each step across the runs.

The scalar device function is rewritten on its syntax tree:

* its statements are cut into *segments*, each a `for l in range(W)` loop: a run of
  simple statements (assignments and calls) is one segment, which LLVM vectorises
  (conditional expressions become selects, `and`/`or` bitwise operations); any other
  compound statement (a `for` loop, a branch) is a segment of its own, run lane by lane;
* a `while True:` whose body opens with simple statements and `if not <name>: break`
  runs its lanes in *lock-step*, at any depth: each pass sets a mask to the lanes whose
  condition holds (among those running the enclosing loop) and stops when none does;
  in the body every store of a lane outside the mask is masked, so a finished lane's
  values stay as they were and its condition stays false;
* a local that some segment reads before writing it (a value from another segment, or
  from the previous pass) gets a row of a lane array, `lane_float[k, l]`; the
  others stay scalars inside their segment; the batch arrays the function takes
  (inputs, outputs, pools) gain a leading lane axis, `a[i]` becoming `a[l, i]`.
"""

from __future__ import annotations

import ast
import copy

import attrs

LANE = "l"
MASK = "act"
SELECT = "lane_select"
LIVE = "_live"
WIDTH = "lanes"
# the numpy type of a lane array, per IR dtype (integers as Python's, as the scalar
# function computes them)
LANE_TYPES = {"float": "FLOAT", "float32": "np.float32", "float64": "np.float64",
              "int32": "np.int64", "bool": "np.bool_"}
GROUP_NAMES = {"FLOAT": "float", "np.float32": "float32", "np.float64": "float64",
               "np.int64": "int", "np.bool_": "bool"}


# a select with both sides evaluated (see `_Rewrite.visit_IfExp`)
LANE_HELPERS = '''
{decorator}
def lane_select(c, a, b):
    return a if c else b
'''


class LanesUnsupported(ValueError):
    """The device function uses a construct the lane-blocked form does not rewrite."""


def _simple(stmt: ast.stmt) -> bool:
    return isinstance(stmt, (ast.Assign, ast.AugAssign, ast.Expr, ast.Pass))


def _lockstep(stmt: ast.stmt) -> bool:
    """`while True:` opening with simple statements and `if not <name>: break`."""
    if not (isinstance(stmt, ast.While) and isinstance(stmt.test, ast.Constant)
            and stmt.test.value is True and not stmt.orelse):
        return False
    for k, inner in enumerate(stmt.body):
        if _is_exit(inner):
            return all(_simple(s) for s in stmt.body[:k])
        if not _simple(inner):
            return False
    return False


def _is_exit(stmt: ast.stmt) -> bool:
    return (isinstance(stmt, ast.If) and isinstance(stmt.test, ast.UnaryOp)
            and isinstance(stmt.test.op, ast.Not) and isinstance(stmt.test.operand, ast.Name)
            and len(stmt.body) == 1 and isinstance(stmt.body[0], ast.Break)
            and not stmt.orelse)


def _split(stmts: list[ast.stmt]) -> list[list[ast.stmt]]:
    """Runs of simple statements, and each compound statement on its own."""
    groups: list[list[ast.stmt]] = []
    for stmt in stmts:
        if _simple(stmt) and groups and all(_simple(s) for s in groups[-1]):
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


def _coalesce(body: list[ast.stmt], fixed: set[str], function: ast.AST) -> list[ast.stmt]:
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
            stmt.body = _coalesce(stmt.body, fixed, function)
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
        self.loads = self.exposed | (set() if all(_simple(s) for s in stmts) else self.writes)

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


class _Rewrite(ast.NodeTransformer):
    """Addresses the batch at lane `l` (a batched scalar's element, a batch array's row)
    and makes conditionals branch-free."""

    def __init__(self, lane_params: set[str], arrays: set[str]) -> None:
        self.lane_params, self.arrays = lane_params, arrays

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id in self.lane_params or node.id in self.arrays:
            return ast.Subscript(ast.Name(node.id, ast.Load()), ast.Name(LANE, ast.Load()),
                                 node.ctx)
        return node

    def visit_IfExp(self, node: ast.IfExp) -> ast.AST:
        """A select with both sides evaluated: Python's lazy conditional is control flow,
        which LLVM does not vectorise where a side loads from memory."""
        args = [self.visit(node.test), self.visit(node.body), self.visit(node.orelse)]
        return ast.Call(ast.Name(SELECT, ast.Load()), args, [])

    def visit_BoolOp(self, node: ast.BoolOp) -> ast.AST:
        """`and` / `or` of booleans as `&` / `|` (no short-circuit branch)."""
        op = ast.BitAnd() if isinstance(node.op, ast.And) else ast.BitOr()
        values = [self.visit(v) for v in node.values]
        out = values[0]
        for v in values[1:]:
            out = ast.BinOp(out, op, v)
        return out

    def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
        if isinstance(node.value, ast.Name) and node.value.id in self.arrays:
            index = self.visit(node.slice)
            return ast.Subscript(ast.Name(node.value.id, ast.Load()),
                                 ast.Tuple([ast.Name(LANE, ast.Load()), index], ast.Load()),
                                 node.ctx)
        return self.generic_visit(node)


def _active() -> ast.expr:
    """Whether this lane runs the segment's loop: its mask, read once per segment."""
    return ast.Name(LIVE, ast.Load())


@attrs.frozen
class Lockstep:
    """A `while True` loop run by all lanes together: `condition` sets `mask` to the
    lanes whose condition holds (among those running the enclosing loop); the loop
    ends when none does."""

    condition: Segment
    mask: str
    body: list[Segment | Lockstep]

    def segments(self) -> list[Segment]:
        out = [self.condition]
        for item in self.body:
            out += item.segments() if isinstance(item, Lockstep) else [item]
        return out

    def carried(self) -> set[str]:
        """Locals a pass reads before it writes them: from the previous pass or from
        before the loop."""
        carried: set[str] = set()

        def walk(item: Segment | Lockstep, defined: set[str]) -> None:
            if isinstance(item, Segment):
                carried.update(item.exposed - defined)
                defined |= item.writes
                return
            walk(item.condition, defined)
            inner = set(defined)  # the body may run no pass
            for sub in item.body:
                walk(sub, inner)

        walk(self, set())
        return carried


def _guard(stmt: ast.stmt) -> ast.stmt:
    """`stmt` for a lane that may have finished: locals are written freely (the segment
    stores them back masked), stores to arrays and calls run only for active lanes (in a
    loop or branch, each one)."""
    if isinstance(stmt, (ast.For, ast.While, ast.If)):
        out = copy.copy(stmt)
        out.body = [_guard(s) for s in stmt.body]
        out.orelse = [_guard(s) for s in stmt.orelse]
        return out
    if isinstance(stmt, (ast.Pass, ast.Break, ast.Continue)):
        return stmt
    targets = stmt.targets if isinstance(stmt, ast.Assign) else \
        [stmt.target] if isinstance(stmt, ast.AugAssign) else []
    if targets and all(isinstance(t, ast.Name) for t in targets):
        return stmt
    if len(targets) == 1 and isinstance(targets[0], ast.Subscript) and \
            isinstance(targets[0].value, ast.Name) and targets[0].value.id.startswith(MASK):
        return stmt  # a loop's mask, already restricted to the enclosing loop's lanes
    return ast.If(_active(), [stmt], [])


class LaneFunction:
    """The lane-blocked rewrite of one device function."""

    def __init__(self, source: str, dtypes: dict[str, str], arrays: set[str],
                 lane_params: set[str], return_dtypes: list[str]) -> None:
        tree = ast.parse(source)
        func = tree.body[0]
        if not isinstance(func, ast.FunctionDef):
            raise LanesUnsupported("expected one function definition")
        self.func = func
        self.params = [a.arg for a in func.args.args]
        self.arrays = arrays
        self.lane_params = lane_params
        func.body = _coalesce(func.body, set(self.params), func)
        body = list(func.body)
        ret = body.pop() if body and isinstance(body[-1], ast.Return) else None
        self.segments: list[Segment] = []
        self.masks = 0
        self.plan = self._items(body, None)
        self.returns = self._returns(ret)
        dtypes = {**dtypes, **{f"_ret{k}": d for k, d in enumerate(return_dtypes)}}
        local = {n for s in self.segments for n in s.writes} - set(self.params)
        # a value crosses from one segment (or pass) to another only where some segment
        # reads it before writing it
        exposed = {n for s in self.segments for n in s.exposed}
        self.lane_arrays = (local & exposed) | set(self.returns)
        unknown = sorted(n for n in self.lane_arrays if n not in dtypes)
        if unknown:
            raise LanesUnsupported(f"no type for the lane values {unknown}")
        self.dtypes = dtypes
        # per loop mask, the locals whose stores a finished lane must not make: those a
        # pass carries in, and those read outside the loop; the rest are rewritten in
        # every pass before they are read
        self.kept: dict[str, set[str]] = {}
        for loop in self._loops(self.plan):
            inside = {id(seg) for seg in loop.segments()}
            outside = {n for seg in self.segments if id(seg) not in inside for n in seg.reads}
            self.kept[loop.mask] = (loop.carried() | outside) & self.lane_arrays

    def _loops(self, items: list[Segment | Lockstep]) -> list[Lockstep]:
        out = []
        for item in items:
            if isinstance(item, Lockstep):
                out += [item, *self._loops(item.body)]
        return out

    def _items(self, stmts: list[ast.stmt], mask: str | None) -> list[Segment | Lockstep]:
        items: list[Segment | Lockstep] = []
        for group in _split(stmts):
            if len(group) == 1 and _lockstep(group[0]):
                items.append(self._lockstep(group[0], mask))  # type: ignore[arg-type]
            else:
                items.append(self._segment(group, mask))
        return items

    def _segment(self, stmts: list[ast.stmt], mask: str | None) -> Segment:
        segment = Segment(stmts, mask)
        self.segments.append(segment)
        return segment

    def _lockstep(self, loop: ast.While, outer: str | None) -> Lockstep:
        k = next(i for i, s in enumerate(loop.body) if _is_exit(s))
        test: ast.expr = ast.Name(loop.body[k].test.operand.id, ast.Load())  # type: ignore
        mask = f"{MASK}{self.masks}"
        self.masks += 1
        if outer is not None:
            test = ast.BoolOp(ast.And(), [_active(), test])
        flag = ast.Assign([ast.Subscript(ast.Name(mask, ast.Load()),
                                         ast.Name(LANE, ast.Load()), ast.Store())], test)
        condition = self._segment([*loop.body[:k], flag], outer)
        return Lockstep(condition, mask, self._items(loop.body[k + 1:], mask))

    def _returns(self, ret: ast.Return | None) -> list[str]:
        """Names of the returned lane values (each return value gets one)."""
        if ret is None or not isinstance(ret.value, ast.Tuple):
            return []
        names = []
        stmts: list[ast.stmt] = []
        for k, elt in enumerate(ret.value.elts):
            name = f"_ret{k}"
            names.append(name)
            stmts.append(ast.Assign([ast.Name(name, ast.Store())], elt))
        self.plan.append(self._segment(stmts, None))
        return names

    # ------------------------------------------------------------ writing

    def source(self, name: str, width: int) -> list[str]:
        """Lines of the lane-blocked function `name` (the scalar one's parameters, with a
        leading lane axis on the batch arrays and batched scalars) for `width` lanes.

        The lane values of each type share one array, value k in row k: one base pointer
        lets LLVM check the lanes' loads and stores independent with one comparison of
        the row length and the trip count (separate arrays would need more run-time alias
        checks than it makes; one flat array, distances it cannot prove safe for an
        unknown trip count). The loops run to the parameter `lanes` (equal to `width`),
        a bound LLVM does not see as a constant: it would unroll a loop of constant trip
        count in full, and the unrolled lanes do not vectorise again."""
        groups: dict[str, list[str]] = {}
        for n in sorted(self.lane_arrays):
            groups.setdefault(LANE_TYPES[self.dtypes[n]], []).append(n)
        slots = {n: (f"lane_{GROUP_NAMES[kind]}", k)
                 for kind, members in groups.items() for k, n in enumerate(members)}
        rewrite = _Rewrite(self.lane_params, self.arrays)
        lines = [f"def {name}({', '.join([WIDTH, *self.params])}):"]
        lines += [f"    {MASK}{k} = np.empty({width}, np.bool_)" for k in range(self.masks)]
        lines += [f"    lane_{GROUP_NAMES[kind]} = np.empty(({len(members)}, {width}), {kind})"
                  for kind, members in groups.items()]

        def write(item: Segment | Lockstep, indent: str) -> list[str]:
            if isinstance(item, Lockstep):
                out = [f"{indent}while True:", *write(item.condition, indent + "    "),
                       f"{indent}    if not np.any({item.mask}):", f"{indent}        break"]
                for inner in item.body:
                    out += write(inner, indent + "    ")
                return out
            if not item.stmts:
                return []
            stmts = [rewrite.visit(_guard(s) if item.mask else s)
                     for s in item.stmts]
            body = ast.unparse(ast.fix_missing_locations(ast.Module(stmts, []))).splitlines()
            kept = self.kept[item.mask] if item.mask else set()
            loaded = item.loads & self.lane_arrays
            # a kept value read at the start is restored from that read (LLVM cannot
            # tell the rows apart to reuse the load itself)
            old = {n: f"_old_{n}" if n in loaded else slot(n) for n in kept & item.writes}
            loads = [f"{old[n]} = {slot(n)}" for n in sorted(loaded) if n in old]
            loads += [f"{n} = {old.get(n, slot(n))}" for n in sorted(loaded)]
            stores = [f"{slot(n)} = {SELECT}({LIVE}, {n}, {old[n]})"
                      if n in old else f"{slot(n)} = {n}"
                      for n in sorted(item.writes & self.lane_arrays)]
            if item.mask:
                loads.insert(0, f"{LIVE} = {item.mask}[{LANE}]")
            return [f"{indent}for {LANE} in range({WIDTH}):",
                    *(f"{indent}    {line}" for line in [*loads, *body, *stores])]

        def slot(n: str) -> str:
            return f"{slots[n][0]}[{slots[n][1]}, {LANE}]"

        for item in self.plan:
            lines += write(item, "    ")
        returned = [f"{slots[n][0]}[{slots[n][1]}]"
                    for n in self.returns]
        lines.append(f"    return ({', '.join(returned)},)" if returned else "    return 0")
        return lines
