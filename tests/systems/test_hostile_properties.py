"""Property: a model with hostile names or text is refused with a ValueError, runs
no code, or computes what its expression trees compute."""

from __future__ import annotations

import os
import tempfile
import unicodedata
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import cubie_trace as ct
from cubie_trace.testing import examples
from cubie_trace.testing.hostile import Model, hostile_models, hostile_names, hostile_texts, value

MARKER = Path(tempfile.gettempdir()) / f"cubie_trace_marker_{os.getpid()}"


def plainly_valid(names: tuple[str, ...]) -> bool:
    """ASCII identifiers, distinct, none the time `t`: these must be accepted."""
    return all(n.isascii() and n.isidentifier() for n in names) \
        and len(set(names)) == len(names) and "t" not in names


def check_against_trees(model: Model, system: ct.ODESystem) -> None:
    rng = np.random.default_rng(len(model.states))
    y = rng.uniform(-1.0, 1.0, len(model.states))
    p = system.default_parameters
    (rhs,) = system.evaluate("rhs", 0.25, y, p)
    expected = [value(tree, y, p) for tree in model.derivatives]
    np.testing.assert_allclose(rhs, expected, rtol=1e-9, atol=1e-9)
    if model.mass is not None:
        v = rng.uniform(-1.0, 1.0, len(model.states))
        (mv,) = system.evaluate("operator", 0.25, y, v, 0.0, p)
        diagonal = [value(tree, y, p) for tree in model.mass]
        np.testing.assert_allclose(mv, np.multiply(diagonal, v), rtol=1e-9, atol=1e-9)


@settings(max_examples=examples(60, 600))
@given(model=hostile_models(names=hostile_names(str(MARKER))))
def test_hostile_names_are_refused_or_compute_the_trees(model: Model) -> None:
    names = model.states + model.parameters
    try:
        system = model.build()
    except ValueError:
        assert not plainly_valid(names), f"refused plain identifiers {names}"
        return
    finally:
        assert not MARKER.exists()
    canonical = {unicodedata.normalize("NFKC", n) for n in names}
    assert len(canonical) == len(names) and "t" not in canonical
    check_against_trees(model, system)
    check_against_trees(model, model.plain().build())


@settings(max_examples=examples(60, 600))
@given(text=hostile_texts(str(MARKER)), field=st.sampled_from(["rhs", "observable", "mass"]))
def test_hostile_text_is_refused_or_parsed(text: str, field: str) -> None:
    options = {"states": {"x": 1.0}, "parameters": {"k": 2.0}}
    try:
        if field == "rhs":
            system = ct.ODESystem({"x": text}, **options)
        elif field == "observable":
            system = ct.ODESystem({"x": "-x"}, observables={"o": text}, **options)
        else:
            system = ct.ODESystem({"x": "-x"}, mass=[text], **options)
    except ValueError:
        return
    finally:
        assert not MARKER.exists()
    for fn in system.functions:
        assert system.emit(fn, "f").startswith("def f(")
