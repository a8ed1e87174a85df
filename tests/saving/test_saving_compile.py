"""Every built-in loss, metric and optimizer survives save/load: equal configs, equal values, same training after."""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import plait
from plait import losses, metrics, optimizers
from plait.losses import LOSSES
from plait.metrics import METRICS
from plait.optimizers import OPTIMIZERS, schedules


def _classes(registry: Any, base: type) -> dict[str, type]:
    out: dict[str, type] = {}
    for key in registry.names():
        obj = registry.lookup(key)
        if isinstance(obj, type) and issubclass(obj, base):
            out.setdefault(obj.__name__, obj)
    return out


def _data(kind: str) -> tuple[np.ndarray, np.ndarray, int, str]:
    """x, y, output units and output activation for a task kind."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((32, 4)).astype("float32")
    labels = rng.integers(0, 3, 32)
    if kind == "binary":
        return x, (labels % 2).astype("float32").reshape(-1, 1), 1, "sigmoid"
    if kind == "hinge":
        return x, (labels % 2).astype("float32").reshape(-1, 1), 1, "tanh"
    if kind == "categorical":
        return x, np.eye(3, dtype="float32")[labels], 3, "softmax"
    if kind == "sparse":
        return x, labels, 3, "softmax"
    return x, rng.uniform(0.5, 2.0, (32, 2)).astype("float32"), 2, "softplus"


def _model(units: int, activation: str) -> Any:
    plait.set_random_seed(4)
    return plait.Sequential([plait.layers.Dense(6, activation="relu", input_shape=(4,)),
                             plait.layers.Dense(units, activation=activation)])


def _round_trip(model: Any, tmp_path, name: str) -> Any:
    path = tmp_path / f"{name}.plait"
    model.save(path)
    return plait.load_model(path)


def _assert_same_training_after(model: Any, restored: Any, x: Any, y: Any) -> None:
    plait.set_random_seed(9)
    expected = model.fit(x, y, batch_size=8, epochs=1, verbose=0).history
    plait.set_random_seed(9)
    got = restored.fit(x, y, batch_size=8, epochs=1, verbose=0).history
    assert got == expected
    for a, b in zip(model.get_weights(), restored.get_weights()):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------------------------------------------- losses
LOSS_KINDS = {"BinaryCrossentropy": "binary", "CategoricalCrossentropy": "categorical",
              "CategoricalHinge": "categorical",
              "CosineSimilarity": "regression", "Hinge": "hinge", "Huber": "regression", "KLDivergence": "categorical",
              "LogCosh": "regression", "MeanAbsoluteError": "regression", "MeanAbsolutePercentageError": "regression",
              "MeanSquaredError": "regression", "MeanSquaredLogarithmicError": "regression", "Poisson": "regression",
              "SparseCategoricalCrossentropy": "sparse", "SquaredHinge": "hinge", "LossFunctionWrapper": "regression"}
LOSS_ARGS = {"BinaryCrossentropy": {"label_smoothing": 0.1}, "CategoricalCrossentropy": {"label_smoothing": 0.05},
             "Huber": {"delta": 0.5}, "SparseCategoricalCrossentropy": {"ignore_class": 2},
             "LossFunctionWrapper": {"fn": losses.mean_absolute_error}}


# Wrappers of torch objects, whose save/load round trips are in tests/training/test_torch_objects.py.
TORCH_WRAPPERS = {"TorchLoss", "TorchMetric"}


def test_every_registered_loss_has_a_case():
    missing = sorted(set(_classes(LOSSES, losses.Loss)) - set(LOSS_KINDS) - TORCH_WRAPPERS)
    assert not missing, f"Losses without a save/load case: {missing}; add them to LOSS_KINDS here."


@pytest.mark.parametrize("name", sorted(LOSS_KINDS))
def test_loss_round_trip(name, tmp_path):
    cls = _classes(LOSSES, losses.Loss)[name]
    loss = cls(**LOSS_ARGS.get(name, {}))
    assert type(losses.deserialize(losses.serialize(loss))) is cls
    assert losses.deserialize(losses.serialize(loss)).get_config() == loss.get_config()
    x, y, units, activation = _data(LOSS_KINDS[name])
    model = _model(units, activation)
    model.compile(optimizer="sgd", loss=loss)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    restored = _round_trip(model, tmp_path, name)
    restored_loss = restored._compile_config["loss"]
    assert type(restored_loss) is cls and restored_loss.get_config() == loss.get_config()
    assert restored.evaluate(x, y, verbose=0) == model.evaluate(x, y, verbose=0)
    _assert_same_training_after(model, restored, x, y)


def test_loss_given_as_string_or_function(tmp_path):
    x, y, units, activation = _data("regression")
    for spec in ("mse", "huber", losses.mean_absolute_error, [losses.MeanSquaredError(reduction="sum")]):
        model = _model(units, activation)
        model.compile(optimizer="sgd", loss=spec)
        model.fit(x, y, epochs=1, verbose=0)
        restored = _round_trip(model, tmp_path, "spec")
        assert restored.evaluate(x, y, verbose=0) == model.evaluate(x, y, verbose=0)
        _assert_same_training_after(model, restored, x, y)


# ------------------------------------------------------------------------------------------------------ metrics
METRIC_CASES: dict[str, tuple[dict[str, Any], str]] = {
    "AUC": ({"num_thresholds": 50}, "binary"), "Accuracy": ({}, "sparse_ids"),
    "BinaryAccuracy": ({"threshold": 0.4}, "binary"), "BinaryCrossentropy": ({}, "binary"),
    "BinaryIoU": ({}, "binary"), "CategoricalAccuracy": ({}, "categorical"),
    "CategoricalCrossentropy": ({}, "categorical"), "ConfusionMatrix": ({}, "binary"),
    "CosineSimilarity": ({}, "regression"), "F1Score": ({}, "categorical"),
    "FBetaScore": ({"beta": 2.0}, "categorical"), "FalseNegatives": ({}, "binary"),
    "FalsePositives": ({}, "binary"), "IoU": ({"num_classes": 2, "target_class_ids": [0, 1]}, "binary"),
    "KLDivergence": ({}, "categorical"), "LogCoshError": ({}, "regression"),
    "MeanAbsoluteError": ({}, "regression"), "MeanAbsolutePercentageError": ({}, "regression"),
    "MeanSquaredError": ({}, "regression"), "MeanSquaredLogarithmicError": ({}, "regression"),
    "MeanIoU": ({"num_classes": 2}, "binary"),
    "OneHotIoU": ({"num_classes": 3, "target_class_ids": [0, 2]}, "categorical"),
    "OneHotMeanIoU": ({"num_classes": 3}, "categorical"), "Poisson": ({}, "regression"),
    "Precision": ({"thresholds": 0.4}, "binary"), "PrecisionAtRecall": ({"recall": 0.5}, "binary"),
    "R2Score": ({}, "regression"), "Recall": ({}, "binary"), "RecallAtPrecision": ({"precision": 0.5}, "binary"),
    "RootMeanSquaredError": ({}, "regression"),
    "SensitivityAtSpecificity": ({"specificity": 0.5}, "binary"),
    "SparseCategoricalAccuracy": ({}, "sparse"), "SparseCategoricalCrossentropy": ({}, "sparse"),
    "SparseTopKCategoricalAccuracy": ({"k": 2}, "sparse"),
    "SpecificityAtSensitivity": ({"sensitivity": 0.5}, "binary"),
    "TopKCategoricalAccuracy": ({"k": 2}, "categorical"), "TrueNegatives": ({}, "binary"),
    "TruePositives": ({}, "binary"),
    "MeanMetricWrapper": ({"fn": metrics.binary_accuracy}, "binary"),
}
NOT_COMPILE_METRICS = {"Mean": {}, "Sum": {}}  # they take values, not (y_true, y_pred): config round trip only


def test_every_registered_metric_has_a_case():
    missing = sorted(set(_classes(METRICS, metrics.Metric)) - set(METRIC_CASES) - set(NOT_COMPILE_METRICS)
                     - TORCH_WRAPPERS)
    assert not missing, f"Metrics without a save/load case: {missing}; add them to METRIC_CASES here."


@pytest.mark.parametrize("name", sorted(METRIC_CASES) + sorted(NOT_COMPILE_METRICS))
def test_metric_config_round_trip(name):
    cls = _classes(METRICS, metrics.Metric)[name]
    metric = cls(**{**NOT_COMPILE_METRICS, **METRIC_CASES}.get(name, ({}, ""))[0]) if name in METRIC_CASES \
        else cls()
    again = metrics.deserialize(metrics.serialize(metric))
    assert type(again) is cls and again.get_config() == metric.get_config()


@pytest.mark.parametrize("name", sorted(METRIC_CASES))
def test_metric_round_trip_through_a_saved_model(name, tmp_path):
    kwargs, kind = METRIC_CASES[name]
    cls = _classes(METRICS, metrics.Metric)[name]
    if kind == "sparse_ids":  # exact-match Accuracy on rounded outputs
        x, y, units, activation = _data("regression")
        y = np.round(y)
    else:
        x, y, units, activation = _data(kind)
    model = _model(units, activation)
    loss = {"binary": "binary_crossentropy", "categorical": "categorical_crossentropy",
            "sparse": "sparse_categorical_crossentropy"}.get(kind, "mse")
    model.compile(optimizer="adam", loss=loss, metrics=[cls(**kwargs)])
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    restored = _round_trip(model, tmp_path, name)
    (restored_metric,) = restored._compile_config["metrics"]
    assert type(restored_metric) is cls
    assert restored_metric.get_config() == model._compile_config["metrics"][0].get_config()
    got, expected = restored.evaluate(x, y, verbose=0, return_dict=True), model.evaluate(x, y, verbose=0,
                                                                                         return_dict=True)
    assert got.keys() == expected.keys()
    for key in expected:
        np.testing.assert_array_equal(np.asarray(got[key]), np.asarray(expected[key]))


def test_metric_ids_and_the_accuracy_rule_survive(tmp_path):
    x, y, units, activation = _data("sparse")
    model = _model(units, activation)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy", "acc", "sparse_top_k_categorical_accuracy"], weighted_metrics=["accuracy"])
    model.fit(x, y, epochs=1, verbose=0)
    restored = _round_trip(model, tmp_path, "ids")
    assert restored.evaluate(x, y, return_dict=True, verbose=0) == model.evaluate(x, y, return_dict=True, verbose=0)
    assert restored.metrics_names == model.metrics_names


# --------------------------------------------------------------------------------------------------- optimizers
OPTIMIZER_CASES = {
    "SGD": [lambda: optimizers.SGD(0.05, momentum=0.9, nesterov=True),
            lambda: optimizers.SGD(schedules.ExponentialDecay(0.1, decay_steps=3, decay_rate=0.5), clipnorm=1.0)],
    "Adam": [lambda: optimizers.Adam(0.01, amsgrad=True),
             lambda: optimizers.Adam(0.01, use_ema=True, ema_overwrite_frequency=3)],
    "AdamW": [lambda: optimizers.AdamW(0.01, weight_decay=0.05)],
    "Adamax": [lambda: optimizers.Adamax(0.02, gradient_accumulation_steps=2)],
    "Nadam": [lambda: optimizers.Nadam(0.01)],
    "RMSprop": [lambda: optimizers.RMSprop(0.01, momentum=0.5, centered=True)],
    "Adagrad": [lambda: optimizers.Adagrad(0.1, global_clipnorm=0.5)],
}


def test_every_registered_optimizer_has_a_case():
    missing = sorted(set(_classes(OPTIMIZERS, optimizers.Optimizer)) - set(OPTIMIZER_CASES))
    assert not missing, f"Optimizers without a save/load case: {missing}; add them to OPTIMIZER_CASES here."


@pytest.mark.parametrize("name, index", [(n, i) for n in sorted(OPTIMIZER_CASES) for i in
                                         range(len(OPTIMIZER_CASES[n]))])
def test_optimizer_round_trip_resumes_exactly(name, index, tmp_path):
    optimizer = OPTIMIZER_CASES[name][index]()
    x, y, units, activation = _data("regression")
    model = _model(units, activation)
    model.compile(optimizer=optimizer, loss="mse")
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    restored = _round_trip(model, tmp_path, name)
    assert type(restored.optimizer) is type(optimizer)
    assert restored.optimizer.get_config() == optimizer.get_config()
    assert int(restored.optimizer.iterations) == int(optimizer.iterations)
    state, again = optimizer.state_dict(), restored.optimizer.state_dict()
    assert state.keys() == again.keys()
    for key in state:
        np.testing.assert_array_equal(again[key].cpu().numpy(), state[key].cpu().numpy())
    _assert_same_training_after(model, restored, x, y)


def test_an_unbuilt_optimizer_and_compile_false(tmp_path):
    x, y, units, activation = _data("regression")
    model = _model(units, activation)
    model.compile(optimizer="adam", loss="mse")
    restored = _round_trip(model, tmp_path, "fresh")
    assert not restored.optimizer.built
    _assert_same_training_after(model, restored, x, y)
    model.fit(x, y, epochs=1, verbose=0)
    plain = tmp_path / "plain.plait"
    model.save(plain)
    uncompiled = plait.load_model(plain, compile=False)
    assert not uncompiled.compiled
    np.testing.assert_array_equal(uncompiled.predict(x, verbose=0), model.predict(x, verbose=0))
    with pytest.raises(ValueError, match="compile"):
        uncompiled.fit(x, y, verbose=0)
