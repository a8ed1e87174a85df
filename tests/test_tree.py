"""plait.tree: the one walker of nested structures (flatten order, map_structure, pack_sequence_as)."""
from collections import OrderedDict, namedtuple

import numpy as np
import pytest
import torch

import plait
from plait import tree

Pair = namedtuple("Pair", ["left", "right"])


def test_is_nested():
    assert tree.is_nested([1]) and tree.is_nested((1,)) and tree.is_nested({"a": 1}) and tree.is_nested(Pair(1, 2))
    for leaf in (1, None, "ab", np.zeros(3), torch.zeros(2)):
        assert not tree.is_nested(leaf)


def test_flatten_lists_tuples_in_place_and_dict_values_by_sorted_key():
    assert tree.flatten([1, (2, [3]), 4]) == [1, 2, 3, 4]
    assert tree.flatten({"b": 2, "a": 1, "c": {"z": 5, "y": 4}}) == [1, 2, 4, 5]
    assert tree.flatten(OrderedDict([("b", 2), ("a", 1)])) == [1, 2]
    assert tree.flatten(Pair(left=[1, 2], right=3)) == [1, 2, 3]


def test_flatten_order_does_not_depend_on_how_the_dict_was_built():
    forward, backward = {"x": 1, "y": 2, "z": 3}, {"z": 3, "y": 2, "x": 1}
    assert tree.flatten(forward) == tree.flatten(backward) == [1, 2, 3]


def test_flatten_keeps_none_and_arrays_as_leaves():
    a, t = np.arange(6).reshape(2, 3), torch.ones(2)
    assert tree.flatten(None) == [None]
    assert tree.flatten([None, {"k": None}]) == [None, None]
    out = tree.flatten({"t": t, "a": a})
    assert out[0] is a and out[1] is t
    assert tree.flatten([]) == [] and tree.flatten({}) == []


def test_flatten_dict_with_keys_of_mixed_types():
    # 1 and "a" cannot be compared; the order falls back to the keys' repr, and is still the same every time.
    assert tree.flatten({"a": "A", 1: "one"}) == tree.flatten({1: "one", "a": "A"})


def test_map_structure_keeps_types_and_dict_key_order():
    out = tree.map_structure(lambda v: v * 10, {"b": [1, (2, 3)], "a": Pair(4, 5)})
    assert out == {"b": [10, (20, 30)], "a": Pair(40, 50)}
    assert list(out) == ["b", "a"]
    assert isinstance(out["a"], Pair) and isinstance(out["b"][1], tuple)
    assert tree.map_structure(lambda v: v, None) is None


def test_map_structure_over_several_structures():
    x = {"w": [1, 2], "b": 3}
    y = {"b": 30, "w": [10, 20]}  # the same keys in another order
    assert tree.map_structure(lambda a, b: a + b, x, y) == {"w": [11, 22], "b": 33}
    assert tree.map_structure(lambda a, b, c: a * b * c, (1, 2), (3, 4), (5, 6)) == (15, 48)


@pytest.mark.parametrize("first, other, message", [
    ([1, 2], [1, 2, 3], "a list of 2 against a list of 3"),
    ({"a": 1, "b": 2}, {"a": 1, "c": 2}, "a dict with keys ['a', 'b'] against a dict with keys ['a', 'c']"),
    ([1, 2], [1, [2]], "a leaf (int) against a list of 1"),
    (1, [1], "a leaf (int) against a list of 1"),
    ([1, 2], {"a": 1, "b": 2}, "a list of 2 against a dict with keys ['a', 'b']"),
])
def test_map_structure_says_where_the_structures_differ(first, other, message):
    with pytest.raises(ValueError, match="The structures differ") as info:
        tree.map_structure(lambda a, b: a, first, other)
    assert message in str(info.value)


def test_map_structure_needs_a_structure():
    with pytest.raises(TypeError, match="at least one"):
        tree.map_structure(lambda: 0)


@pytest.mark.parametrize("structure", [
    [1, (2, 3), {"b": 5, "a": 4}],
    {"z": [1, 2], "a": {"y": 3, "x": (4, None)}},
    Pair(left={"q": 1, "p": 2}, right=[3]),
    7,
    None,
    [],
])
def test_pack_sequence_as_is_the_inverse_of_flatten(structure):
    assert tree.pack_sequence_as(structure, tree.flatten(structure)) == structure


def test_pack_sequence_as_fills_dicts_by_sorted_key_and_keeps_their_own_order():
    built_forward, built_backward = {"a": 0, "b": 0}, {"b": 0, "a": 0}
    assert tree.pack_sequence_as(built_forward, [1, 2]) == {"a": 1, "b": 2}
    back = tree.pack_sequence_as(built_backward, [1, 2])
    assert back == {"a": 1, "b": 2} and list(back) == ["b", "a"]
    # Flattened from one order, packed into the other: every value goes back under its own key.
    assert tree.pack_sequence_as(built_backward, tree.flatten({"a": "A", "b": "B"})) == {"b": "B", "a": "A"}


def test_pack_sequence_as_rebuilds_namedtuples_and_tuples():
    out = tree.pack_sequence_as(Pair(0, (0, 0)), ["l", "r1", "r2"])
    assert isinstance(out, Pair) and out == Pair("l", ("r1", "r2"))
    assert type(out.right) is tuple


def test_pack_sequence_as_counts_the_leaves():
    with pytest.raises(ValueError, match="got 1 items for a structure with more leaves"):
        tree.pack_sequence_as([0, 0], [1])
    with pytest.raises(ValueError, match="got 3 items for a structure with fewer leaves"):
        tree.pack_sequence_as([0, 0], [1, 2, 3])


def test_gradient_tape_returns_gradients_in_the_sources_structure():
    # The tape flattens the sources and packs the gradients back with plait.tree, so a dict, however its keys
    # were ordered, gets each gradient under its own key, and a namedtuple stays one.
    w, b = torch.tensor(3.0, requires_grad=True), torch.tensor(2.0, requires_grad=True)
    with plait.GradientTape(persistent=True) as tape:
        y = w * w + 5 * b
    grads = tape.gradient(y, {"w": w, "b": b})
    assert list(grads) == ["w", "b"] and float(grads["w"]) == 6.0 and float(grads["b"]) == 5.0
    pair = tape.gradient(y, Pair(left=b, right=[w]))
    assert isinstance(pair, Pair) and float(pair.left) == 5.0 and float(pair.right[0]) == 6.0
