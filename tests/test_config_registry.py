"""config (seeding, determinism, floatx) and the registry's lookups and suggestions."""
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
