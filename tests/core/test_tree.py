"""Pytrees: nested tuples, lists, dicts and None flatten to leaves and back."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cubie_trace.core.tree import LEAF, TreeDef, flatten, unflatten
from cubie_trace.testing import examples

leaves = st.one_of(st.integers(), st.floats(allow_nan=False), st.text(max_size=3))
trees = st.recursive(
    st.one_of(leaves, st.none()),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=4).map(tuple),
        st.dictionaries(st.text(max_size=3), children, max_size=4)),
    max_leaves=20)


def _same(a: Any, b: Any) -> bool:
    """Equal values with equal container types throughout."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def _count(tree: Any) -> int:
    if tree is None:
        return 0
    if isinstance(tree, dict):
        return sum(_count(v) for v in tree.values())
    if isinstance(tree, (list, tuple)):
        return sum(_count(v) for v in tree)
    return 1


@settings(max_examples=examples(50, 1000))
@given(trees)
def test_round_trip(tree: Any) -> None:
    flat, treedef = flatten(tree)
    assert len(flat) == treedef.num_leaves == _count(tree)
    assert _same(unflatten(treedef, flat), tree)


@settings(max_examples=examples(50, 1000))
@given(trees)
def test_structure_is_independent_of_leaf_values(tree: Any) -> None:
    flat, treedef = flatten(tree)
    rebuilt = unflatten(treedef, [f"leaf{i}" for i in range(len(flat))])
    assert flatten(rebuilt) == ([f"leaf{i}" for i in range(len(flat))], treedef)


def test_flatten_orders_leaves_depth_first_and_keeps_dict_order() -> None:
    tree = {"b": (1, [2, None, 3]), "a": 4}
    flat, treedef = flatten(tree)
    assert flat == [1, 2, 3, 4]
    assert treedef.kind == "dict" and treedef.keys == ("b", "a")
    assert treedef.children[0] == TreeDef("tuple", (LEAF, TreeDef("list", (LEAF, TreeDef("none"),
                                                                             LEAF))))
    assert flatten(None) == ([], TreeDef("none"))
    assert flatten(5) == ([5], LEAF)


def test_unflatten_checks_the_number_of_leaves() -> None:
    _, treedef = flatten((1, 2))
    with pytest.raises(ValueError, match="too few leaves"):
        unflatten(treedef, [1])
    with pytest.raises(ValueError, match="too many leaves"):
        unflatten(treedef, [1, 2, 3])
