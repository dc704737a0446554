"""Nested containers of values (tuples, lists, dicts, None) flattened to leaves."""

from __future__ import annotations

from typing import Any

import attrs


@attrs.frozen
class TreeDef:
    """The structure of a nested container, without its leaves."""

    kind: str  # "leaf", "none", "tuple", "list", "dict"
    children: tuple[TreeDef, ...] = ()
    keys: tuple[Any, ...] = ()

    @property
    def num_leaves(self) -> int:
        if self.kind == "leaf":
            return 1
        return sum(c.num_leaves for c in self.children)


LEAF = TreeDef("leaf")


def flatten(tree: Any, none_is_leaf: bool = False) -> tuple[list[Any], TreeDef]:
    """Leaves of `tree` in order, and its structure (with `none_is_leaf`, a None is a
    leaf: a tangent that is zero, say, in a tree of tangents)."""
    if tree is None:
        return ([None], LEAF) if none_is_leaf else ([], TreeDef("none"))
    if isinstance(tree, (tuple, list)):
        leaves: list[Any] = []
        defs = []
        for item in tree:
            sub, d = flatten(item, none_is_leaf)
            leaves += sub
            defs.append(d)
        return leaves, TreeDef(type(tree).__name__ if type(tree) in (tuple, list) else "tuple",
                               tuple(defs))
    if isinstance(tree, dict):
        leaves = []
        defs = []
        for key in tree:
            sub, d = flatten(tree[key], none_is_leaf)
            leaves += sub
            defs.append(d)
        return leaves, TreeDef("dict", tuple(defs), tuple(tree))
    return [tree], LEAF


def unflatten(treedef: TreeDef, leaves: list[Any]) -> Any:
    """Rebuild a container of structure `treedef` from its leaves."""
    it = iter(leaves)
    out = _build(treedef, it)
    if next(it, _END) is not _END:
        raise ValueError("too many leaves for the tree structure")
    return out


_END = object()


def _build(treedef: TreeDef, it: Any) -> Any:
    if treedef.kind == "leaf":
        value = next(it, _END)
        if value is _END:
            raise ValueError("too few leaves for the tree structure")
        return value
    if treedef.kind == "none":
        return None
    children = [_build(c, it) for c in treedef.children]
    if treedef.kind == "dict":
        return dict(zip(treedef.keys, children))
    return tuple(children) if treedef.kind == "tuple" else children
