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

from lowering.segments import Segment, coalesce, is_exit, lockstep, split

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
        self.params = [a.arg for a in func.args.args]
        self.arrays = arrays
        self.lane_params = lane_params
        func.body = coalesce(func.body, set(self.params), func)
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
        for group in split(stmts):
            if len(group) == 1 and lockstep(group[0]):
                items.append(self._lock_step(group[0], mask))  # type: ignore[arg-type]
            else:
                items.append(self._segment(group, mask))
        return items

    def _segment(self, stmts: list[ast.stmt], mask: str | None) -> Segment:
        segment = Segment(stmts, mask)
        self.segments.append(segment)
        return segment

    def _lock_step(self, loop: ast.While, outer: str | None) -> Lockstep:
        k = next(i for i, s in enumerate(loop.body) if is_exit(s))
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
