"""Every built-in layer survives model.save/load_model: identical predictions, equal configs, same training after.

The cases are keyed by class name; every class in `plait.layers.LAYERS` must have one here or in the layer
harness (whose `check_layer` saves and loads each layer), so a new layer without a save/load case fails here
with a message saying where to add it.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

import plait
from plait import layers as L
from plait.layers import LAYERS

# name -> (layer factory, input shapes without batch, input dtype)
LAYER_CASES: dict[str, tuple[Callable[[], Any], list[tuple[int, ...]], str]] = {
    "Activation": (lambda: L.Activation("tanh"), [(4,)], "float32"),
    "Dense": (lambda: L.Dense(3, activation="relu", kernel_initializer="he_normal", bias_initializer="ones",
                              kernel_regularizer=plait.regularizers.L1L2(l1=0.01, l2=0.02)), [(4,)], "float32"),
    "Dropout": (lambda: L.Dropout(0.3), [(4,)], "float32"),
    "Flatten": (lambda: L.Flatten(), [(2, 3)], "float32"),
    "Reshape": (lambda: L.Reshape((2, 2)), [(4,)], "float32"),
    "InputLayer": (lambda: L.Activation("linear"), [(4,)], "float32"),  # every case starts with an InputLayer
    "Conv1D": (lambda: L.Conv1D(2, 3, padding="same", activation="relu"), [(6, 3)], "float32"),
    "Conv2D": (lambda: L.Conv2D(2, (2, 2), strides=(1, 2)), [(5, 5, 2)], "float32"),
    "MaxPooling1D": (lambda: L.MaxPooling1D(pool_size=2), [(6, 3)], "float32"),
    "AveragePooling1D": (lambda: L.AveragePooling1D(pool_size=3, strides=1, padding="same"), [(6, 3)], "float32"),
    "MaxPooling2D": (lambda: L.MaxPooling2D(pool_size=(2, 2)), [(4, 4, 2)], "float32"),
    "AveragePooling2D": (lambda: L.AveragePooling2D(pool_size=2, strides=1), [(4, 4, 2)], "float32"),
    "GlobalMaxPooling1D": (lambda: L.GlobalMaxPooling1D(), [(6, 3)], "float32"),
    "GlobalAveragePooling1D": (lambda: L.GlobalAveragePooling1D(keepdims=True), [(6, 3)], "float32"),
    "GlobalMaxPooling2D": (lambda: L.GlobalMaxPooling2D(), [(4, 4, 2)], "float32"),
    "GlobalAveragePooling2D": (lambda: L.GlobalAveragePooling2D(), [(4, 4, 2)], "float32"),
    "BatchNormalization": (lambda: L.BatchNormalization(momentum=0.9, epsilon=1e-3), [(4,)], "float32"),
    "LayerNormalization": (lambda: L.LayerNormalization(epsilon=1e-4), [(3, 4)], "float32"),
    "Embedding": (lambda: L.Embedding(10, 3), [(5,)], "int64"),
    "Add": (lambda: L.Add(), [(4,), (4,)], "float32"),
    "Subtract": (lambda: L.Subtract(), [(4,), (4,)], "float32"),
    "Multiply": (lambda: L.Multiply(), [(4,), (4,)], "float32"),
    "Average": (lambda: L.Average(), [(4,), (4,)], "float32"),
    "Maximum": (lambda: L.Maximum(), [(4,), (4,)], "float32"),
    "Minimum": (lambda: L.Minimum(), [(4,), (4,)], "float32"),
    "Concatenate": (lambda: L.Concatenate(axis=-1), [(4,), (2,)], "float32"),
    # Models are layers (registered in LAYERS): nested in a functional model, rebuilt from their own configs.
    "Sequential": (lambda: plait.Sequential([L.Dense(3, activation="relu"), L.Dense(3)], name="inner"),
                   [(4,)], "float32"),
    "Model": (lambda: _inner_functional_model(), [(4,)], "float32"),
}


def _inner_functional_model() -> Any:
    inputs = plait.Input(shape=(4,), name="inner_in")
    return plait.Model(inputs, L.Dense(3, activation="tanh", name="inner_dense")(inputs), name="inner")


def _registered_layer_names() -> list[str]:
    seen: dict[int, str] = {}
    for key in LAYERS.names():
        cls = LAYERS.lookup(key)
        if isinstance(cls, type):
            seen.setdefault(id(cls), cls.__name__)
    return sorted(set(seen.values()))


def _build(name: str) -> tuple[Any, list[np.ndarray], np.ndarray]:
    factory, shapes, dtype = LAYER_CASES[name]
    plait.set_random_seed(7)
    inputs = [plait.Input(shape=s, dtype=dtype, name=f"in_{i}") for i, s in enumerate(shapes)]
    x = factory()(inputs if len(inputs) > 1 else inputs[0])
    if len(x.shape) > 2:
        x = L.Flatten(name="flat")(x)
    outputs = L.Dense(2, name="head")(x)
    model = plait.Model(inputs if len(inputs) > 1 else inputs[0], outputs)
    rng = np.random.default_rng(0)
    data = [rng.integers(0, 10, (24,) + s).astype(dtype) if dtype == "int64" else
            rng.standard_normal((24,) + s).astype(dtype) for s in shapes]
    y = rng.standard_normal((24, 2)).astype("float32")
    return model, data, y


def _harnessed_layer_names() -> set[str]:
    """The layers whose case in tests/layers' harness (`check_layer`) saves and loads them bit for bit."""
    sys.path.insert(0, str(Path(__file__).parents[1] / "layers"))
    try:
        from test_every_layer import CASES, NOT_HARNESSED
    finally:
        sys.path.pop(0)
    return set(CASES) | set(NOT_HARNESSED)


def test_every_registered_layer_has_a_case():
    covered = set(LAYER_CASES) | _harnessed_layer_names()
    missing = [n for n in _registered_layer_names() if n not in covered]
    assert not missing, (f"Layers without a save/load round-trip case: {missing}. Add them to LAYER_CASES in "
                         "tests/saving/test_saving_layers.py or to the layer harness "
                         "(tests/layers/test_every_layer.py, whose check_layer saves and loads each layer).")


@pytest.mark.parametrize("name", sorted(LAYER_CASES))
def test_layer_round_trip(name, tmp_path):
    model, data, y = _build(name)
    model.compile(optimizer="adam", loss="mse")
    x = data if len(data) > 1 else data[0]
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    path = tmp_path / f"{name}.plait"
    model.save(path)
    restored = plait.load_model(path)

    np.testing.assert_array_equal(restored.predict(x, verbose=0), model.predict(x, verbose=0))
    assert restored.get_config() == model.get_config()
    for original, loaded in zip(model.layers, restored.layers):
        assert type(loaded) is type(original)
        assert loaded.get_config() == original.get_config()
    for a, b in zip(model.get_weights(), restored.get_weights()):
        np.testing.assert_array_equal(a, b)

    # Training continues exactly as it would have without the round trip.
    plait.set_random_seed(11)
    expected = model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=True).history
    plait.set_random_seed(11)
    got = restored.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=True).history
    assert got == expected
    for a, b in zip(model.get_weights(), restored.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_sequential_with_every_single_input_layer_kind(tmp_path):
    plait.set_random_seed(1)
    model = plait.Sequential([
        plait.Input(shape=(6, 3)),
        L.Conv1D(4, 3, padding="same", activation="relu"),
        L.BatchNormalization(),
        L.MaxPooling1D(2),
        L.LayerNormalization(),
        L.Flatten(),
        L.Dropout(0.2),
        L.Dense(5, activation="softmax"),
    ], name="stack")
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((16, 6, 3)).astype("float32"), rng.integers(0, 5, 16)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    model.save(tmp_path / "stack.plait")
    restored = plait.load_model(tmp_path / "stack.plait")
    assert isinstance(restored, plait.Sequential) and restored.name == "stack"
    assert restored.get_config() == model.get_config()
    np.testing.assert_array_equal(restored.predict(x, verbose=0), model.predict(x, verbose=0))
    assert restored.evaluate(x, y, verbose=0) == model.evaluate(x, y, verbose=0)
    plait.set_random_seed(3)
    expected = model.fit(x, y, batch_size=8, epochs=1, verbose=0).history
    plait.set_random_seed(3)
    assert restored.fit(x, y, batch_size=8, epochs=1, verbose=0).history == expected
