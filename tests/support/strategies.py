"""Hypothesis strategies more than one fuzz test draws from."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st


def any_json(
    *, text: int, keys: int, items: int, leaves: int, nan: bool = True
) -> st.SearchStrategy[Any]:
    """Any JSON value: scalars (strings up to `text` long), lists and objects of up to `items`
    (keys up to `keys` long), at most `leaves` scalars in all."""
    scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=nan)
    return st.recursive(
        scalars | st.text(max_size=text),
        lambda children: (
            st.lists(children, max_size=items)
            | st.dictionaries(st.text(max_size=keys), children, max_size=items)
        ),
        max_leaves=leaves,
    )
