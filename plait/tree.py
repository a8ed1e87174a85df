"""Nested structures: a leaf (a tensor, an array, a number, None), or lists, tuples and dicts of them.

Multi-input and multi-output models pass their data as such structures. This is the one module that walks
them, as `keras.tree` is in Keras. Its single rule for dicts: `flatten` lists the values in sorted key order
(Keras's order, so a dict of inputs flattens the same way however it was built) and `pack_sequence_as`
fills them back in that order; `map_structure` keeps each dict's own key order in what it returns.

Example:
    >>> from plait import tree
    >>> tree.flatten({"b": 2, "a": [1, None]})
    [1, None, 2]
    >>> tree.map_structure(lambda v: v * 10, {"b": 2, "a": (1, 3)})
    {'b': 20, 'a': (10, 30)}
    >>> tree.pack_sequence_as({"b": 0, "a": [0, 0]}, [1, 2, 3])
    {'b': 3, 'a': [1, 2]}
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any


def is_nested(x: Any) -> bool:
    """Whether `x` is a list, tuple or dict (a structure), rather than a leaf."""
    return isinstance(x, (list, tuple, dict))


def _sorted_keys(x: dict) -> list:
    try:
        return sorted(x)
    except TypeError:  # keys of mixed types (1 and "a") have no order of their own
        return sorted(x, key=repr)


def _rebuild(template: Any, items: Iterable[Any]) -> Any:
    """A list or tuple of the same type as `template` (a namedtuple keeps its type) holding `items`."""
    if isinstance(template, list):
        return list(items)
    if hasattr(type(template), "_fields"):  # a namedtuple takes its fields as arguments
        return type(template)(*items)
    return tuple(items) if type(template) is tuple else type(template)(tuple(items))


def flatten(x: Any) -> list:
    """The leaves of `x` in order: list and tuple items in place, dict values by sorted key.

    A leaf is anything that is not a list, tuple or dict, None included (`flatten(None)` is `[None]`).
    """
    if isinstance(x, dict):
        return [leaf for key in _sorted_keys(x) for leaf in flatten(x[key])]
    if isinstance(x, (list, tuple)):
        return [leaf for item in x for leaf in flatten(item)]
    return [x]


def map_structure(fn: Callable[..., Any], *structures: Any) -> Any:
    """`fn` applied to each leaf (to the leaves at the same place, given several structures of one shape).

    Raises:
        ValueError: If the structures differ in shape (lengths, dict keys, or a leaf against a structure).
    """
    if not structures:
        raise TypeError("map_structure needs at least one structure.")
    first = structures[0]
    if len(structures) > 1:
        _check_same_shape(first, structures[1:])
    if isinstance(first, dict):
        return {k: map_structure(fn, *(s[k] for s in structures)) for k in first}
    if isinstance(first, (list, tuple)):
        return _rebuild(first, (map_structure(fn, *items) for items in zip(*structures)))
    return fn(*structures)


def _check_same_shape(first: Any, others: tuple) -> None:
    for other in others:
        if is_nested(first) != is_nested(other) or (is_nested(first) and (
                isinstance(first, dict) != isinstance(other, dict) or len(first) != len(other)
                or (isinstance(first, dict) and set(first) != set(other)))):
            raise ValueError(f"The structures differ: {_describe(first)} against {_describe(other)}.")


def _describe(x: Any) -> str:
    if isinstance(x, dict):
        return f"a dict with keys {_sorted_keys(x)}"
    if isinstance(x, (list, tuple)):
        return f"a {type(x).__name__} of {len(x)}"
    return f"a leaf ({type(x).__name__})"


def pack_sequence_as(structure: Any, flat_sequence: Iterable[Any]) -> Any:
    """The leaves of `flat_sequence` put in the shape of `structure` (the inverse of `flatten`).

    Raises:
        ValueError: If `flat_sequence` has more or fewer items than `structure` has leaves.
    """
    flat = list(flat_sequence)
    it = iter(flat)

    def build(t: Any) -> Any:
        if isinstance(t, dict):
            filled = {k: build(t[k]) for k in _sorted_keys(t)}
            return {k: filled[k] for k in t}
        if isinstance(t, (list, tuple)):
            return _rebuild(t, [build(v) for v in t])
        try:
            return next(it)
        except StopIteration:
            raise ValueError(f"pack_sequence_as got {len(flat)} items for a structure with more leaves.") from None

    out = build(structure)
    if next(it, _END) is not _END:
        raise ValueError(f"pack_sequence_as got {len(flat)} items for a structure with fewer leaves.")
    return out


_END = object()
