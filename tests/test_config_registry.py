"""config (seeding, determinism, floatx), and the registry: lookups, suggestions, get/serialize/deserialize."""
import random

import numpy as np
import pytest
import torch

import plait
from plait import config
from plait.registry import Registry, to_snake_case


def test_set_random_seed_repeats_python_numpy_and_torch():
    plait.set_random_seed(123)
    a = (random.random(), np.random.rand(), torch.rand(1).item())
    plait.utils.set_random_seed(123)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == a
    with pytest.raises(ValueError, match="non-negative integer"):
        plait.set_random_seed(-1)


def test_enable_determinism_turns_on_torch_deterministic_algorithms():
    try:
        config.enable_determinism()
        assert torch.are_deterministic_algorithms_enabled()
    finally:
        config.disable_determinism()
    assert not torch.are_deterministic_algorithms_enabled()


def test_floatx_and_epsilon():
    assert config.floatx() == "float32" and config.epsilon() == 1e-7
    with pytest.raises(ValueError, match="floatx must be one of"):
        config.set_floatx("float8")


def test_registry_lookup_case_and_suggestions():
    reg = Registry("thing")

    @reg.register("alias")
    class FancyThing:
        def __init__(self, size=1):
            self.size = size

    assert reg.lookup("FancyThing") is FancyThing and reg.lookup("fancy_thing") is FancyThing
    assert reg.lookup("FANCY_THING") is FancyThing and reg.lookup("alias") is FancyThing
    assert reg.get("fancy_thing", size=3).size == 3
    with pytest.raises(ValueError, match="Did you mean 'fancy_thing'"):
        reg.lookup("fancy_thnig")
    with pytest.raises(TypeError, match="string thing id"):
        reg.lookup(3)
    assert to_snake_case("SparseCategoricalCrossentropy") == "sparse_categorical_crossentropy"
    assert to_snake_case("RMSprop") == "rm_sprop"  # Keras's own rule; 'rmsprop' is registered as an alias
    assert plait.optimizers.get("rmsprop").__class__.__name__ == "RMSprop"


# --------------------------------------------------------------------------------------- Registry: identifiers
class _Shape:
    def __init__(self, size=1):
        self.size = size

    def get_config(self):
        return {"size": self.size}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class _Wrapped(_Shape):
    def __init__(self, fn=None, size=1):
        super().__init__(size)
        self.fn = fn


def _shapes() -> Registry:
    reg = Registry("shape", base=_Shape, hint="Pass 'square' or a _Shape.")
    reg.register("square")(_Shape)
    reg.register(wrapper=True)(_Wrapped)
    return reg


def test_registry_get_takes_every_kind_of_identifier():
    reg = _shapes()
    shape = _Shape(2)
    assert reg.get(None) is None and reg.get(shape) is shape
    assert type(reg.get("square")) is _Shape and reg.get("SQUARE", size=4).size == 4
    assert reg.get({"class_name": "square", "config": {"size": 5}}).size == 5
    assert reg.get(_Shape, size=6).size == 6
    wrapped = reg.get(len)
    assert type(wrapped) is _Wrapped and wrapped.fn is len
    with pytest.raises(TypeError, match=r"Could not interpret shape identifier 3\.5 \(of type float\)\. Pass 'square'"):
        reg.get(3.5)


def test_registry_serialize_and_deserialize_round_trip():
    reg = _shapes()
    config = reg.serialize(_Shape(3))
    # A class outside plait carries its own name as registered_name (Keras's rule); plait's own carry None.
    assert config == {"module": __name__, "class_name": "_Shape", "config": {"size": 3}, "registered_name": "_Shape"}
    assert reg.serialize(_Shape(3), short=True) == {"class_name": "_Shape", "config": {"size": 3}}
    assert reg.deserialize(config).size == 3 and reg.deserialize("square").size == 1
    with pytest.raises(TypeError, match="only _Shape instances carry a config"):
        reg.serialize(object())
    with pytest.raises(plait.saving.FormatError, match="'class_name'"):
        reg.deserialize({"config": {}})
    with pytest.raises(plait.saving.FormatError, match="must be a dict"):
        reg.deserialize({"class_name": "square", "config": [1]})


def test_a_registry_of_functions_saves_functions_by_name():
    reg = Registry("op", functions=True)

    @reg.register("ident")
    def identity(x):
        return x

    assert reg.get("ident") is identity and reg.get(len) is len
    assert reg.serialize(identity) == "identity" and reg.name_of(len) is None
    keras_layout = {"module": "keras.ops", "class_name": "function", "config": "identity", "registered_name": None}
    assert reg.deserialize(keras_layout) is identity and reg.deserialize("ident") is identity
    with pytest.raises(TypeError, match="not a registered op"):
        reg.serialize(len)


@pytest.mark.parametrize("kind, identifier, expected", [
    ("losses", "mse", "MeanSquaredError"), ("metrics", "mse", "MeanSquaredError"),
    ("initializers", "he_normal", "HeNormal"), ("optimizers", "adam", "Adam"), ("regularizers", "l2", "L2"),
    ("activations", "relu", "function"),
])
def test_every_kind_resolves_serializes_and_deserializes_through_its_registry(kind, identifier, expected):
    module = getattr(plait, kind)
    obj = module.get(identifier)
    assert type(obj).__name__ == expected
    again = module.deserialize(module.serialize(obj))
    assert again is obj if kind == "activations" else type(again) is type(obj)


def test_per_kind_hooks_of_get():
    def per_sample(y_true, y_pred):
        return (y_true - y_pred).abs()

    assert type(plait.metrics.get(per_sample)) is plait.metrics.MeanMetricWrapper
    assert plait.metrics.get("MSE").name == "MSE"  # a string id names the metric (Keras's rule)
    assert type(plait.losses.get(per_sample)) is plait.losses.LossFunctionWrapper
    assert plait.initializers.get(per_sample) is per_sample and plait.activations.get(None) is plait.activations.linear
    assert isinstance(plait.regularizers.get(plait.regularizers.L2), plait.regularizers.L2)  # a class: its instance
    with pytest.raises(TypeError, match="Could not interpret optimizer identifier None"):
        plait.optimizers.get(None)
    schedule = plait.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)
    config = plait.optimizers.schedules.serialize(schedule)
    assert config["module"] == "plait.optimizers.schedules" and config["registered_name"] is None
    assert plait.optimizers.schedules.deserialize(config).get_config() == schedule.get_config()
    assert plait.losses.LOSS_FUNCTIONS.get("huber") is plait.losses.huber  # a Registry, like METRIC_FUNCTIONS


def test_model_classes_are_layers_resolved_through_the_layer_registry():
    from plait.saving.serialization import deserialize_model, serialize_model

    assert plait.layers.LAYERS.lookup("Functional") is plait.Model
    assert plait.layers.LAYERS.lookup("Model") is plait.Model
    assert plait.layers.LAYERS.lookup("Sequential") is plait.Sequential
    inputs = plait.Input(shape=(3,))
    model = plait.Model(inputs, plait.layers.Dense(2)(inputs))
    config = serialize_model(model)
    assert config["class_name"] == "Functional" and config["registered_name"] is None
    assert type(deserialize_model(config)) is plait.Model
    assert type(plait.layers.LAYERS.deserialize(serialize_model(plait.Sequential([plait.layers.Dense(1)])))) \
        is plait.Sequential
