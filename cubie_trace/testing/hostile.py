"""Hypothesis strategies for model input from hostile alphabets.

`hostile_names()` draws names a user might give a state or parameter that stress
the front end: Python keywords, dunders, builtins, SymPy's constants, the names
generated code uses, quotes, backslashes, Unicode letters and NFKC look-alikes
(`"ﬁ"` and `"fi"`, fullwidth letters, decomposed accents). `hostile_models()`
draws small systems over such names with expression trees that `Model.value`
evaluates independently of SymPy; `hostile_texts()` draws expression text mixed
with code that would create a marker file if anything evaluated it.
"""

from __future__ import annotations

import keyword
import math
from collections.abc import Sequence
from typing import Any

import attrs
from hypothesis import strategies as st

from cubie_trace.systems.ode_system import ODESystem

WORDS = (
    *keyword.kwlist, *keyword.softkwlist, "__class__", "__import__", "__builtins__",
    "__dict__", "__init__", "eval", "exec", "open", "print", "getattr", "E", "I", "pi", "S",
    "N", "O", "Q", "oo", "zoo", "nan", "inf", "Symbol", "Integer", "Float", "Rational",
    "lambda", "beta", "gamma", "exp", "sin", "where", "min", "abs", "FLOAT", "math", "out",
    "y", "p", "d", "v", "gamma_h", "_ct_0", "_ct_1", "_p0", "_x0", "_u0", "_i0",
)
LOOK_ALIKES = (
    "fi", "\ufb01", "x", "\uff58", "\u00e9", "e\u0301", "IX", "\u2168", "N", "\u2115",
    "s", "\u017f", "dz", "\u01c6", "\u00b5", "\u03bc", "K", "\u212a", "t", "\uff54",
)
LETTERS = "aZ_\u00df\u03a9\u0130\ufb01\uff58\u00e9\u0301\u2168\u03bc\u00b50"
CHARACTERS = "ax_0'\"\\ .()$#=+*\n\tß\u0130\u03a9\ufb01\uff58\u00e9\u0301"
FUNCTIONS = ("sin", "cos", "tanh", "abs")
LITERALS = ("2", "0.5", "1e-3", "3.25")


def hostile_names(marker: str | None = None) -> st.SearchStrategy[str]:
    """One name: a hostile word, a look-alike, a short string of hostile characters
    or, given a `marker` path, code that creates it."""
    words = WORDS + LOOK_ALIKES + (tuple(payloads(marker)) if marker else ())
    return st.one_of(st.sampled_from(words),
                     st.text(alphabet=LETTERS, min_size=1, max_size=3).filter(str.isidentifier),
                     st.text(alphabet=CHARACTERS, min_size=1, max_size=4))


def payloads(marker: str) -> list[str]:
    """Code that creates the file `marker` if anything evaluates it."""
    return [f"__import__('os').system('touch {marker}')",
            f"__import__('pathlib').Path({marker!r}).touch()",
            f"open({marker!r}, 'w')",
            f"exec(\"open({marker!r}, 'w')\")",
            f"lambda: open({marker!r}, 'w')",
            f"[open({marker!r}, 'w') for _ in (0,)]"]


def hostile_texts(marker: str) -> st.SearchStrategy[str]:
    """Expression text: fragments of arithmetic, hostile names and payloads joined."""
    fragment = st.one_of(hostile_names(marker),
                         st.sampled_from(["x", "+", "*", "**", "(", ")", ",", "1e400", "1j",
                                          "10**10**10", "exp(", "where(", "<", "1"]))
    return st.lists(fragment, min_size=1, max_size=6).map("".join)


Tree = tuple[Any, ...]


def trees(n_states: int, n_parameters: int, max_leaves: int = 6) -> st.SearchStrategy[Tree]:
    """Expression trees over states ("s", i), parameters ("p", i) and literals ("n", text),
    with + - * negation, powers 2 and 3, FUNCTIONS and where(a > b, c, d)."""
    leaves = [st.tuples(st.just("s"), st.integers(0, n_states - 1)),
              st.tuples(st.just("n"), st.sampled_from(LITERALS))]
    if n_parameters:
        leaves.append(st.tuples(st.just("p"), st.integers(0, n_parameters - 1)))

    def nodes(child: st.SearchStrategy[Tree]) -> st.SearchStrategy[Tree]:
        return st.one_of(
            st.tuples(st.sampled_from("+-*"), child, child),
            st.tuples(st.just("neg"), child),
            st.tuples(st.just("pow"), child, st.sampled_from([2, 3])),
            st.tuples(st.just("call"), st.sampled_from(FUNCTIONS), child),
            st.tuples(st.just("where"), child, child, child, child))

    return st.recursive(st.one_of(leaves), nodes, max_leaves=max_leaves)


def render(tree: Tree, states: Sequence[str], parameters: Sequence[str]) -> str:
    """Model text of `tree` with the given names."""
    kind = tree[0]
    if kind in ("s", "p"):
        return (states if kind == "s" else parameters)[tree[1]]
    if kind == "n":
        return tree[1]
    args = [render(a, states, parameters) for a in tree[1:] if isinstance(a, tuple)]
    if kind == "neg":
        return f"(-{args[0]})"
    if kind == "pow":
        return f"({args[0]})**{tree[2]}"
    if kind == "call":
        return f"{tree[1]}({args[0]})"
    if kind == "where":
        return f"where({args[0]} > {args[1]}, {args[2]}, {args[3]})"
    return f"({args[0]} {kind} {args[1]})"


def value(tree: Tree, y: Sequence[float], p: Sequence[float]) -> float:
    """`tree` evaluated in float64 with `math`, the reference for a system's rhs."""
    kind = tree[0]
    if kind in ("s", "p"):
        return float((y if kind == "s" else p)[tree[1]])
    if kind == "n":
        return float(tree[1])
    args = [value(a, y, p) for a in tree[1:] if isinstance(a, tuple)]
    if kind == "neg":
        return -args[0]
    if kind == "pow":
        return args[0] ** tree[2]
    if kind == "call":
        return abs(args[0]) if tree[1] == "abs" else getattr(math, tree[1])(args[0])
    if kind == "where":
        return args[2] if args[0] > args[1] else args[3]
    a, b = args
    return a + b if kind == "+" else a - b if kind == "-" else a * b


@attrs.frozen
class Model:
    """A small system: state and parameter names, one tree per state's derivative and
    optionally a diagonal mass matrix of trees."""

    states: tuple[str, ...]
    parameters: tuple[str, ...]
    derivatives: tuple[Tree, ...]
    mass: tuple[Tree, ...] | None

    def plain(self) -> Model:
        """The same model with names x0.., k0.."""
        return attrs.evolve(self, states=tuple(f"x{i}" for i in range(len(self.states))),
                            parameters=tuple(f"k{i}" for i in range(len(self.parameters))))

    def equations(self) -> list[str]:
        return [f"d{s} = {render(tree, self.states, self.parameters)}"
                for s, tree in zip(self.states, self.derivatives)]

    def mass_entries(self) -> list[str] | None:
        if self.mass is None:
            return None
        return [render(tree, self.states, self.parameters) for tree in self.mass]

    def build(self) -> ODESystem:
        """The system of this model (parameters default to 1.5, 0.75, ...)."""
        return ODESystem.from_equations(
            self.equations(), states=dict.fromkeys(self.states, 0.5),
            parameters={n: 1.5 / (1 + i) for i, n in enumerate(self.parameters)},
            mass=self.mass_entries())


@st.composite
def hostile_models(draw: st.DrawFn, max_states: int = 3, max_parameters: int = 3,
                   names: st.SearchStrategy[str] | None = None) -> Model:
    """Models over `names` (default `hostile_names()`), 1..max_states states."""
    names = names if names is not None else hostile_names()
    n = draw(st.integers(1, max_states))
    m = draw(st.integers(0, max_parameters))
    chosen = draw(st.lists(names, min_size=n + m, max_size=n + m, unique=True))
    derivatives = tuple(draw(trees(n, m)) for _ in range(n))
    mass = draw(st.none() | st.tuples(*(trees(n, m, max_leaves=2) for _ in range(n))))
    return Model(tuple(chosen[:n]), tuple(chosen[n:]), derivatives, mass)
