"""Custom objects are found by lookup through a scope: nesting, thread isolation, the end of a scope, each
registry seeing only its own kind, and no registry ever written to."""
from __future__ import annotations

import ast
import pathlib
import threading

import pytest
import torch

import plait
from plait import activations, initializers, losses, metrics, optimizers, regularizers
from plait.custom_objects import get_registered_object, open_scopes
from plait.layers import LAYERS
from plait.models.functional import deserialize_layer
from plait.saving.serialization import deserialize_model
from plait.optimizers import schedules
from plait.saving import FormatError, custom_object_scope

REGISTRIES = {"layers": LAYERS, "activations": activations.ACTIVATIONS, "losses": losses.LOSSES,
              "loss functions": losses.LOSS_FUNCTIONS, "metrics": metrics.METRICS,
              "metric functions": metrics.METRIC_FUNCTIONS, "optimizers": optimizers.OPTIMIZERS,
              "schedules": schedules.SCHEDULES, "initializers": initializers.INITIALIZERS,
              "regularizers": regularizers.REGULARIZERS}
PLAIT = pathlib.Path(plait.__file__).parent


def swish2(x):
    return x * torch.sigmoid(2 * x)


def halved(x):
    return x / 2


class Tripled(plait.layers.Layer):
    def call(self, x):
        return 3 * x


class Counted(metrics.Mean):
    pass


def test_nested_scopes_inner_wins_and_the_name_goes_when_the_scope_ends():
    with custom_object_scope({"swish2": swish2}):
        assert activations.get("swish2") is swish2
        with custom_object_scope({"swish2": halved}):
            assert activations.get("swish2") is halved and len(open_scopes()) == 2
        assert activations.get("swish2") is swish2
    assert open_scopes() == () and "swish2" not in activations.ACTIVATIONS
    with pytest.raises(ValueError, match="Unknown activation 'swish2'"):
        activations.get("swish2")


def test_a_scope_never_writes_into_a_registry():
    before = {name: (registry._items, dict(registry._items)) for name, registry in REGISTRIES.items()}
    with custom_object_scope({"swish2": swish2, "Tripled": Tripled, "Counted": Counted}):
        assert activations.get("swish2") is swish2 and LAYERS.lookup("tripled") is Tripled
        for name, registry in REGISTRIES.items():
            items, copy = before[name]
            assert registry._items is items and registry._items == copy, name
    for name, registry in REGISTRIES.items():
        assert registry._items == before[name][1], name


def test_each_registry_sees_only_its_own_kind():
    with custom_object_scope({"swish2": swish2, "Tripled": Tripled, "Counted": Counted}):
        assert {name for name, reg in REGISTRIES.items() if "swish2" in reg} == {
            "activations", "loss functions", "metric functions"}
        assert "Counted" in metrics.METRICS and "Counted" not in losses.LOSSES
        assert "Tripled" not in metrics.METRICS and "Tripled" not in optimizers.OPTIMIZERS
        assert type(metrics.get("counted")) is Counted and "Counted" in metrics.METRICS.names()


def test_a_scope_belongs_to_its_thread():
    opened, checked = threading.Event(), threading.Event()
    seen: dict[str, bool] = {}

    def worker() -> None:
        seen["worker sees main's scope"] = "swish2" in activations.ACTIVATIONS
        with custom_object_scope({"halved": halved}):
            opened.set()
            checked.wait(10)
            seen["worker sees its own scope"] = "halved" in activations.ACTIVATIONS

    with custom_object_scope({"swish2": swish2}):
        thread = threading.Thread(target=worker)
        thread.start()
        assert opened.wait(10)
        assert "halved" not in activations.ACTIVATIONS  # the worker's scope is open right now
        checked.set()
        thread.join(10)
    assert seen == {"worker sees main's scope": False, "worker sees its own scope": True}


def test_registered_objects_are_seen_inside_a_scope_by_full_and_bare_name():
    @plait.saving.register_serializable(package="scope_test")
    def scaled_relu(x):
        return 2 * torch.relu(x)

    assert "scope_test>scaled_relu" not in activations.ACTIVATIONS
    with custom_object_scope() as objects:
        assert objects["scaled_relu"] is scaled_relu
        assert activations.get("scope_test>scaled_relu") is scaled_relu
        assert activations.get("scaled_relu") is scaled_relu
    with custom_object_scope(bare_names=False):
        assert "scaled_relu" not in activations.ACTIVATIONS
        assert activations.serialize(scaled_relu) == "scope_test>scaled_relu"  # what save_model writes
    assert get_registered_object("scope_test>scaled_relu") is scaled_relu
    with custom_object_scope({"mine": halved}):
        assert get_registered_object("mine") is halved and get_registered_object("mine", {"mine": swish2}) is swish2


def test_deserialize_sees_its_custom_objects_for_that_call_only():
    config = {"class_name": "MeanMetricWrapper", "config": {"fn": "halved", "name": "h"}}
    metric = metrics.deserialize(config, custom_objects={"halved": halved})
    assert metric._fn is halved and open_scopes() == ()
    with pytest.raises(FormatError, match=r"custom_objects=\{'halved': halved\}"):
        metrics.deserialize(config)
    assert type(losses.deserialize({"class_name": "Tripled2"}, {"Tripled2": type("Tripled2", (losses.Loss,), {})}))


def test_an_unknown_name_in_a_config_is_a_format_error_that_says_how_to_fix():
    for deserialize in (losses.deserialize, metrics.deserialize, optimizers.deserialize, initializers.deserialize,
                        schedules.deserialize):
        with pytest.raises(FormatError, match=r"register_serializable.*custom_objects=\{'Nope': Nope\}"):
            deserialize({"class_name": "Nope", "config": {}})
    with pytest.raises(FormatError, match="names 'Dense' as a layer, but that is not a Model class"):
        deserialize_model({"class_name": "Dense", "config": {"units": 2}})
    with pytest.raises(FormatError, match="Unknown layer 'Adam'"):
        deserialize_layer({"class_name": "Adam", "config": {}})


def test_format_error_is_one_class_exported_from_the_root_and_saving():
    assert plait.errors.FormatError is plait.saving.FormatError is plait.saving.errors.FormatError
    assert issubclass(FormatError, ValueError)


def _plait_imports(path: pathlib.Path) -> set[str]:
    """Every `plait.*` module a file imports, lazy imports included."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.split(".")[0] == "plait"}


def test_saving_imports_no_model_class_and_models_import_nothing_from_saving():
    for path in (PLAIT / "saving").glob("*.py"):
        assert not {m for m in _plait_imports(path) if m.startswith("plait.models")}, path.name
    assert not {m for m in _plait_imports(PLAIT / "models" / "functional.py") if m.startswith("plait.saving")}
    # The metric base class does not reach up to the wrappers built on it (they live in reduction.py).
    assert "plait.metrics.reduction" not in _plait_imports(PLAIT / "metrics" / "metric.py")
    assert _plait_imports(PLAIT / "saving" / "weights.py") == set()
