"""Every registered layer through `check_layer` (build, shapes, config, training mode, fit step, save/load).

`CASES` has one entry per layer class in `plait.layers.LAYERS`; a registered layer without one fails
`test_every_registered_layer_has_a_case`, so a new layer cannot skip the harness. Model classes are registered
too (they are layers) and have their own tests under tests/models/.

A family of layers may keep its cases in its own module beside this one, `layer_cases_<family>.py`, defining
`CASES` (and optionally `NOT_HARNESSED`) built with `layer_harness.case`; they are merged here.
"""
from __future__ import annotations

import importlib
import pathlib
from typing import Any

import pytest
from layer_harness import case, check_layer

import plait
from plait.layers import LAYERS


# class name -> constructor kwargs, input shape (batch first; a list for several inputs), the output shape worked
# out by hand, and options of check_layer.
CASES: dict[str, dict[str, Any]] = {
    "Activation": case({"activation": "tanh"}, (4, 3), (4, 3)),
    "Dense": case({"units": 3, "activation": "tanh", "bias_initializer": "ones"}, (4, 5), (4, 3)),
    "Dropout": case({"rate": 0.5, "seed": 1}, (4, 6), (4, 6), training_differs=True),
    "Flatten": case({}, (4, 2, 3), (4, 6)),
    "Reshape": case({"target_shape": (2, 3)}, (4, 6), (4, 2, 3)),
    "Conv1D": case({"filters": 2, "kernel_size": 3, "padding": "same", "activation": "tanh"}, (4, 6, 3), (4, 6, 2)),
    # height (5 - 2) / 1 + 1 = 4, width (5 - 2) // 2 + 1 = 2
    "Conv2D": case({"filters": 2, "kernel_size": (2, 2), "strides": (1, 2)}, (4, 5, 5, 2), (4, 4, 2, 2)),
    "MaxPooling1D": case({"pool_size": 2}, (4, 6, 3), (4, 3, 3)),
    "AveragePooling1D": case({"pool_size": 3, "strides": 1, "padding": "same"}, (4, 6, 3), (4, 6, 3)),
    "MaxPooling2D": case({"pool_size": (2, 2)}, (4, 4, 4, 2), (4, 2, 2, 2)),
    "AveragePooling2D": case({"pool_size": 2, "strides": 1}, (4, 4, 4, 2), (4, 3, 3, 2)),
    "GlobalMaxPooling1D": case({}, (4, 6, 3), (4, 3)),
    "GlobalAveragePooling1D": case({"keepdims": True}, (4, 6, 3), (4, 1, 3)),
    "GlobalMaxPooling2D": case({}, (4, 4, 4, 2), (4, 2)),
    "GlobalAveragePooling2D": case({}, (4, 4, 4, 2), (4, 2)),
    "BatchNormalization": case({"momentum": 0.9}, (8, 4), (8, 4), training_differs=True),
    "LayerNormalization": case({"epsilon": 1e-4}, (4, 3, 4), (4, 3, 4)),
    "Embedding": case({"input_dim": 10, "output_dim": 3}, (4, 5), (4, 5, 3), input_dtype="int64", int_high=10),
    "Add": case({}, [(4, 3), (4, 3)], (4, 3)),
    "Subtract": case({}, [(4, 3), (4, 3)], (4, 3)),
    "Multiply": case({}, [(4, 3), (4, 3)], (4, 3)),
    "Average": case({}, [(4, 3), (4, 3)], (4, 3)),
    "Maximum": case({}, [(4, 3), (4, 3)], (4, 3)),
    "Minimum": case({}, [(4, 3), (4, 3)], (4, 3)),
    "Concatenate": case({"axis": -1}, [(4, 3), (4, 2)], (4, 5)),
}

# Registered classes the harness does not apply to, each with the reason.
NOT_HARNESSED: dict[str, str] = {
    "InputLayer": "a model's entry point, never called on data inside a model (plait.Input builds it); "
                  "tests/layers/test_core_layers.py covers it and every model test starts from one",
}


for _path in sorted(pathlib.Path(__file__).parent.glob("layer_cases_*.py")):
    _family = importlib.import_module(_path.stem)
    _clash = set(_family.CASES) & set(CASES)
    assert not _clash, f"{_path.name} repeats the cases {sorted(_clash)}"
    CASES.update(_family.CASES)
    NOT_HARNESSED.update(getattr(_family, "NOT_HARNESSED", {}))


def _registered_layer_classes() -> dict[str, type]:
    """plait's own registered layer classes by name (not models; not a layer some test registered)."""
    classes: dict[str, type] = {}
    for key in LAYERS.names():
        obj = LAYERS.lookup(key)
        if isinstance(obj, type) and obj.__module__.startswith("plait.") and not issubclass(obj, plait.Model):
            classes.setdefault(obj.__name__, obj)
    return classes


def test_every_registered_layer_has_a_case():
    registered = _registered_layer_classes()
    missing = sorted(set(registered) - set(CASES) - set(NOT_HARNESSED))
    assert not missing, (f"Registered layers without a harness case: {missing}. Add each to CASES in "
                         "tests/layers/test_every_layer.py (constructor kwargs, input shape, output shape), or to "
                         "NOT_HARNESSED with the reason.")
    stale = sorted((set(CASES) | set(NOT_HARNESSED)) - set(registered))
    assert not stale, f"Cases for layers that are not registered in plait.layers.LAYERS: {stale}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_layer(name, tmp_path):
    cls = _registered_layer_classes().get(name)
    assert cls is not None, f"{name} is not registered in plait.layers.LAYERS"
    check_layer(cls, tmp_path=tmp_path, **CASES[name])
