"""plait.layers.symbolic: KerasTensor, Node, symbolic_call and shapes, below Layer (no import of layer.py)."""
import ast
from pathlib import Path

import numpy as np
import pytest
import torch

import plait
from plait.layers import Dense, Input, InputLayer, KerasTensor, symbolic
from plait.layers.symbolic import Node, is_shape, is_symbolic, map_shapes, normalize_shape, shapes_of, symbolic_call

LAYERS_DIR = Path(plait.__file__).parent / "layers"


def _imported_modules(path: Path) -> set[str]:
    """Every module a file imports, lazy imports (inside functions) included."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
    return out


def test_symbolic_sits_below_layer_and_input_layer():
    assert not {"plait.layers.layer", "plait.layers.input_layer"} & _imported_modules(LAYERS_DIR / "symbolic.py")
    assert "plait.layers.input_layer" not in _imported_modules(LAYERS_DIR / "layer.py")
    assert "plait.layers.symbolic" in _imported_modules(LAYERS_DIR / "layer.py")
    assert "plait.layers.symbolic" in _imported_modules(LAYERS_DIR / "input_layer.py")


def test_public_names_stay_where_users_import_them():
    from plait.layers import input_layer

    assert KerasTensor is symbolic.KerasTensor is input_layer.KerasTensor
    assert plait.Input is Input is input_layer.Input and plait.layers.InputLayer is InputLayer
    assert isinstance(plait.Input(shape=(2,)), KerasTensor)


# ------------------------------------------------------------------ shapes
@pytest.mark.parametrize("given, expected", [
    (3, (3,)), (np.int64(3), (3,)), ([None, 4], (None, 4)), ((2, np.int32(5)), (2, 5)), ((), ()), (None, None),
])
def test_normalize_shape(given, expected):
    assert normalize_shape(given) == expected


def test_normalize_shape_errors_say_what_was_received():
    with pytest.raises(TypeError, match=r"input_shape must be a tuple of integers \(or None\), got 'ab'"):
        normalize_shape("ab", "input_shape")
    with pytest.raises(ValueError, match=r"must not have negative dimensions, got \(2, -1\)"):
        normalize_shape((2, -1))


def test_is_shape():
    for shape in [(None, 3), [2, 3], (), torch.Size([4, 5]), (np.int64(2),)]:
        assert is_shape(shape)
    for other in [[(None, 3)], {"a": (1,)}, torch.zeros(2), 3, ((None, 1), (None, 2))]:
        assert not is_shape(other)


def test_map_shapes_treats_a_shape_as_a_leaf_and_returns_several_as_a_list():
    assert map_shapes(len, (None, 3)) == 2
    assert map_shapes(len, ((None, 3), (None, 4, 5))) == [2, 3]  # a tuple of shapes: several inputs
    assert map_shapes(len, [(None, 3), {"b": (1,), "a": [(2, 2), ()]}]) == [2, {"b": 1, "a": [2, 0]}]
    assert list(map_shapes(len, {"b": (1,), "a": (2,)})) == ["b", "a"]


def test_shapes_of_real_tensors_leaves_the_batch_dimension_unknown():
    a, b = torch.zeros(8, 3), torch.zeros(8, 2, 5)
    assert shapes_of(a) == (None, 3)
    assert shapes_of((a, b)) == [(None, 3), (None, 2, 5)]
    assert shapes_of({"x": a, "y": [b]}) == {"x": (None, 3), "y": [(None, 2, 5)]}


# ------------------------------------------------------------------ symbolic calls
class _DuckLayer:
    """Just the surface symbolic_call uses: no Layer base class."""

    def __init__(self, out_shape):
        self.name, self.dtype, self._inbound_nodes = "duck", torch.float64, []
        self.out_shape, self.built_with = out_shape, None

    def _maybe_build(self, input_shape):
        self.built_with = input_shape

    def compute_output_shape(self, input_shape):
        return self.out_shape


def test_symbolic_call_takes_any_object_with_a_layer_surface():
    x, y = KerasTensor((None, 3)), KerasTensor((None, 4))
    duck = _DuckLayer((None, 7))
    out = symbolic_call(duck, (x, y), (), {"flag": True})
    assert duck.built_with == [(None, 3), (None, 4)]
    assert isinstance(out, KerasTensor) and out.shape == (None, 7)
    assert out.torch_dtype == torch.float64 and out.dtype == "float64"
    node = out.node
    assert duck._inbound_nodes == [node]
    assert isinstance(node, Node) and node.layer is duck and node.kwargs == {"flag": True}
    assert node.input_tensors() == [x, y]


@pytest.mark.parametrize("out_shape, check", [
    ([(None, 1), (None, 2)], lambda o: [t.shape for t in o] == [(None, 1), (None, 2)]),
    (((None, 1), (None, 2)), lambda o: isinstance(o, list) and [t.shape for t in o] == [(None, 1), (None, 2)]),
    ({"p": (None, 1), "q": [None, 3]},
     lambda o: {k: t.shape for k, t in o.items()} == {"p": (None, 1), "q": (None, 3)}),
    ([None, 5], lambda o: isinstance(o, KerasTensor) and o.shape == (None, 5)),
])
def test_symbolic_call_makes_one_keras_tensor_per_output_shape(out_shape, check):
    out = symbolic_call(_DuckLayer(out_shape), KerasTensor((None, 2)), (), {})
    assert check(out)


def test_is_symbolic_finds_a_keras_tensor_anywhere_in_a_structure():
    t = KerasTensor((None, 2))
    assert is_symbolic(t) and is_symbolic([1, {"a": (None, t)}]) and is_symbolic({1: t, "b": 2})
    assert not is_symbolic([np.zeros(2), {"a": torch.zeros(1)}, None])


def test_keras_tensor_has_no_values():
    with pytest.raises(TypeError, match="has no values"):
        np.asarray(Input(shape=(2,)))


# ------------------------------------------------------------------ Layer and the shapes it builds from
class _Recorder(plait.Layer):
    def build(self, input_shape):
        self.seen = input_shape

    def call(self, inputs):
        return inputs[0] if isinstance(inputs, (list, tuple)) else inputs["a"]


def test_a_layer_builds_from_the_same_shapes_eagerly_and_symbolically():
    eager, traced = _Recorder(), _Recorder()
    eager((torch.zeros(5, 3), torch.zeros(5, 4)))
    traced((Input(shape=(3,)), Input(shape=(4,))))
    assert eager.seen == traced.seen == [(None, 3), (None, 4)]


def test_default_compute_output_shape_for_several_and_named_inputs():
    assert _Recorder().compute_output_shape([(None, 3), (None, 4)]) == (None, 3)
    assert _Recorder().compute_output_shape({"b": (None, 2), "a": (None, 6)}) == (None, 6)
    assert Dense(2).compute_output_shape((None, 5)) == (None, 2)


def test_a_list_of_numbers_is_one_input_and_a_dict_of_inputs_is_traced_by_name():
    class Identity(plait.Layer):
        def call(self, inputs):
            return inputs

    assert torch.equal(Identity()([1.0, 2.0, 3.0]), torch.tensor([1.0, 2.0, 3.0]))
    pair = Identity()((np.zeros((2, 3)), [4.0, 5.0]))
    assert type(pair) is tuple and pair[0].shape == (2, 3) and pair[1].shape == (2,)
    a, b = Input(shape=(2,), name="a"), Input(shape=(1,), name="b")
    model = plait.Model({"b": b, "a": a}, plait.layers.Concatenate()([a, b]))
    x = {"a": np.ones((2, 2), "float32"), "b": np.zeros((2, 1), "float32")}
    reordered = {"b": x["b"], "a": x["a"]}
    np.testing.assert_array_equal(model.predict(x, verbose=0), model.predict(reordered, verbose=0))
    np.testing.assert_array_equal(model.predict(x, verbose=0)[0], [1.0, 1.0, 0.0])
