"""The Metric base: states, reset/merge, devices, no host sync, names, string ids and configs."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from plait import metrics
from plait.metrics import Metric

ALL_CLASSES = [
    metrics.Accuracy, metrics.BinaryAccuracy, metrics.CategoricalAccuracy, metrics.SparseCategoricalAccuracy,
    metrics.TopKCategoricalAccuracy, metrics.SparseTopKCategoricalAccuracy, metrics.MeanSquaredError,
    metrics.MeanAbsoluteError, metrics.RootMeanSquaredError, metrics.MeanAbsolutePercentageError,
    metrics.MeanSquaredLogarithmicError, metrics.LogCoshError, metrics.CosineSimilarity,
]


def _inputs(cls, n=8, device="cpu"):
    """(y_true, y_pred) torch tensors of the kind `cls` expects."""
    g = torch.Generator().manual_seed(0)
    scores = torch.rand(n, 6, generator=g)
    labels = torch.randint(0, 6, (n,), generator=g)
    if cls in (metrics.SparseCategoricalAccuracy, metrics.SparseTopKCategoricalAccuracy):
        pair = labels, scores
    elif cls in (metrics.CategoricalAccuracy, metrics.TopKCategoricalAccuracy):
        pair = torch.nn.functional.one_hot(labels, 6).float(), scores
    elif cls is metrics.Accuracy:
        pair = labels, torch.randint(0, 6, (n,), generator=g)
    elif cls is metrics.BinaryAccuracy:
        pair = (labels % 2).float().unsqueeze(1), scores[:, :1]
    else:
        pair = torch.rand(n, 3, generator=g) + 0.5, torch.rand(n, 3, generator=g)
    return tuple(t.to(device) for t in pair)


# --- a custom metric exercising every reduce kind ------------------------------------------------
class _Stats(Metric):
    def __init__(self, name="stats", dtype=None):
        super().__init__(dtype=dtype, name=name)
        self.add_state("total", 0.0, reduce="sum")
        self.add_state("biggest", float("-inf"), reduce="max")
        self.add_state("smallest", float("inf"), reduce="min")
        self.add_state("level", 0.0, reduce="mean")
        self.add_state("seen", [], reduce="cat")

    def update_state(self, values, sample_weight=None):
        values = self._to_tensor(values)
        self.total += values.sum()
        self.biggest = torch.maximum(self.biggest, values.max())
        self.smallest = torch.minimum(self.smallest, values.min())
        self.level.fill_(1.0)
        self.seen.append(values)

    def result(self):
        return torch.cat(self.seen) if self.seen else torch.zeros(0)


def test_add_state_reduce_kinds_merge_and_reset():
    a, b = _Stats(), _Stats()
    a.update_state([1.0, 5.0])
    b.update_state([-2.0])
    b.update_state([3.0])
    b.level.fill_(3.0)
    a.merge_state(b)
    assert float(a.total) == 7.0 and float(a.biggest) == 5.0 and float(a.smallest) == -2.0
    assert float(a.level) == 2.0  # 'mean' averages the copies
    np.testing.assert_array_equal(a.result().numpy(), [1.0, 5.0, -2.0, 3.0])
    np.testing.assert_array_equal(a.variables[4].numpy(), [1.0, 5.0, -2.0, 3.0])
    a.reset_state()
    assert float(a.total) == 0.0 and float(a.biggest) == float("-inf") and a.seen == []
    assert [v.shape for v in a.variables] == [(), (), (), (), (0,)]
    assert metrics.combine_states("max", [torch.tensor(1.0), torch.tensor(4.0), torch.tensor(2.0)]) == 4.0


def test_add_state_validation():
    m = _Stats()
    with pytest.raises(ValueError, match="already has"):
        m.add_state("total", 0.0)
    with pytest.raises(ValueError, match="already has"):
        m.add_state("name", 0.0)
    with pytest.raises(ValueError, match="reduce must be one of"):
        m.add_state("other", 0.0, reduce="median")
    with pytest.raises(ValueError, match="empty list"):
        m.add_state("other", 0.0, reduce="cat")
    with pytest.raises(TypeError, match="same kind"):
        m.merge_state(metrics.Mean())


class _KerasStyle(Metric):
    """A custom metric written as in Keras: add_variable + assign_add, state held under another attribute."""

    def __init__(self, name="positives", **kwargs):
        super().__init__(name=name, **kwargs)
        self.tp = self.add_variable(shape=(), initializer="zeros", name="true_positives")

    def update_state(self, y_true, y_pred, sample_weight=None):
        hits = (self._to_tensor(y_true) > 0.5) & (self._to_tensor(y_pred) > 0.5)
        self.tp.assign_add(hits.sum().to(self.tp.dtype))

    def result(self):
        return self.tp.detach().clone()


def test_keras_style_add_variable_metric():
    a, b = _KerasStyle(), _KerasStyle()
    a.update_state([1, 1, 0], [0.9, 0.2, 0.8])
    b.update_state([1, 1], [0.9, 0.7])
    assert float(a.result()) == 1.0
    a.merge_state(b)
    assert float(a.result()) == 3.0 and a.tp is a.variables[0]
    a.reset_state()
    assert float(a.result()) == 0.0 and a.tp.trainable is False
    assert a.true_positives is a.tp


@pytest.mark.parametrize("cls", ALL_CLASSES)
def test_reset_merge_and_result_shape_for_every_metric(cls):
    y_true, y_pred = _inputs(cls)
    whole, first, second = cls(), cls(), cls()
    whole.update_state(y_true, y_pred)
    first.update_state(y_true[:3], y_pred[:3])
    second.update_state(y_true[3:], y_pred[3:])
    torch.testing.assert_close(first.merge_state([second]).result(), whole.result(), rtol=1e-6, atol=1e-7)
    assert whole.result().shape == ()
    value = whole.result()
    whole.reset_state()
    torch.testing.assert_close(whole.result(), cls().result())
    whole.update_state(y_true, y_pred)
    torch.testing.assert_close(whole.result(), value)


@pytest.mark.parametrize("cls", ALL_CLASSES)
def test_call_returns_the_accumulated_result(cls):
    y_true, y_pred = _inputs(cls)
    m = cls()
    m(y_true[:4], y_pred[:4])
    called = m(y_true[4:], y_pred[4:])
    reference = cls()
    reference.update_state(y_true, y_pred)
    torch.testing.assert_close(called, reference.result(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("cls", ALL_CLASSES)
def test_inputs_as_lists_numpy_and_torch_agree(cls):
    y_true, y_pred = _inputs(cls)
    results = []
    for convert in (lambda t: t, lambda t: t.numpy(), lambda t: t.tolist()):
        m = cls()
        m.update_state(convert(y_true), convert(y_pred), sample_weight=convert(torch.linspace(0, 1, len(y_true))))
        results.append(m.result())
    torch.testing.assert_close(results[0], results[1])
    torch.testing.assert_close(results[0], results[2])


def test_update_state_does_not_track_gradients():
    y_pred = torch.rand(5, 3, requires_grad=True)
    m = metrics.MeanSquaredError()
    m.update_state(torch.rand(5, 3), y_pred)
    assert not m.total.requires_grad and not m.result().requires_grad


def test_states_follow_the_device_of_y_pred_and_to_moves_them():
    # The meta device stands in for an accelerator: no data (so nothing can come back from it), but
    # devices are tracked exactly.
    m = metrics.SparseCategoricalAccuracy()
    assert m.device == torch.device("cpu")
    m.update_state(torch.zeros(4, device="meta"), torch.zeros(4, 3, device="meta"))
    assert m.device.type == "meta" and all(v.device.type == "meta" for v in m.variables)
    assert m.result().device.type == "meta"
    m.reset_state()
    assert all(v.device.type == "meta" for v in m.variables)

    keras_style = _KerasStyle()
    held = keras_style.tp
    assert keras_style.to("meta") is keras_style
    assert held is keras_style.tp and held.device.type == "meta" and held.name == "true_positives"

    stats = _Stats()
    stats.update_state(torch.ones(2))
    stats.to("meta")
    assert stats.seen[0].device.type == "meta" and stats.total.device.type == "meta"


_SYNCING = ("item", "tolist", "numpy", "cpu", "__bool__", "__float__", "__int__", "__index__")


@pytest.mark.parametrize("cls", ALL_CLASSES)
def test_update_state_never_reads_tensor_values_on_the_host(cls, monkeypatch):
    y_true, y_pred = _inputs(cls)
    weight = torch.rand(len(y_true))
    metric = cls()
    metric.update_state(y_true, y_pred)  # first call may place the states; steady state is what matters

    def forbidden(*args, **kwargs):
        raise AssertionError("host sync inside update_state")

    for attr in _SYNCING:
        monkeypatch.setattr(torch.Tensor, attr, forbidden)
    metric.update_state(y_true, y_pred, sample_weight=weight)
    metric.update_state(y_true, y_pred)
    metric.result()
    monkeypatch.undo()
    assert metric.result().shape == ()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA to observe device synchronizations")
@pytest.mark.parametrize("cls", ALL_CLASSES)
def test_update_state_on_cuda_does_not_synchronize(cls):
    y_true, y_pred = _inputs(cls, device="cuda")
    weight = torch.rand(len(y_true), device="cuda")
    metric = cls()
    metric.update_state(y_true, y_pred)  # moves the states (a synchronizing copy) once
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        metric.update_state(y_true, y_pred, sample_weight=weight)
        result = metric.result()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert result.device.type == "cuda"


# --- names, directions, ids, configs -------------------------------------------------------------
KERAS_NAMES = {
    metrics.Accuracy: "accuracy", metrics.BinaryAccuracy: "binary_accuracy",
    metrics.CategoricalAccuracy: "categorical_accuracy",
    metrics.SparseCategoricalAccuracy: "sparse_categorical_accuracy",
    metrics.TopKCategoricalAccuracy: "top_k_categorical_accuracy",
    metrics.SparseTopKCategoricalAccuracy: "sparse_top_k_categorical_accuracy",
    metrics.MeanSquaredError: "mean_squared_error", metrics.MeanAbsoluteError: "mean_absolute_error",
    metrics.RootMeanSquaredError: "root_mean_squared_error",
    metrics.MeanAbsolutePercentageError: "mean_absolute_percentage_error",
    metrics.MeanSquaredLogarithmicError: "mean_squared_logarithmic_error",
    metrics.LogCoshError: "logcosh", metrics.CosineSimilarity: "cosine_similarity",
    metrics.Mean: "mean", metrics.Sum: "sum",
}


def test_default_names_and_directions():
    for cls, name in KERAS_NAMES.items():
        m = cls()
        assert m.name == name and m.dtype == "float32"
        expected = None if cls in (metrics.Mean, metrics.Sum) else (
            cls.__name__.endswith(("Accuracy", "Similarity")))
        assert m.higher_is_better is expected, cls


@pytest.mark.parametrize("identifier,cls", [
    ("mse", metrics.MeanSquaredError), ("MSE", metrics.MeanSquaredError), ("mae", metrics.MeanAbsoluteError),
    ("MAE", metrics.MeanAbsoluteError), ("mape", metrics.MeanAbsolutePercentageError),
    ("MAPE", metrics.MeanAbsolutePercentageError), ("msle", metrics.MeanSquaredLogarithmicError),
    ("rmse", metrics.RootMeanSquaredError), ("accuracy", metrics.Accuracy),
    ("binary_accuracy", metrics.BinaryAccuracy), ("SparseCategoricalAccuracy", metrics.SparseCategoricalAccuracy),
    ("top_k_categorical_accuracy", metrics.TopKCategoricalAccuracy), ("logcosh", metrics.LogCoshError),
    ("cosine_similarity", metrics.CosineSimilarity), ("root_mean_squared_error", metrics.RootMeanSquaredError),
])
def test_get_string_ids_name_the_metric_after_the_string(identifier, cls):
    m = metrics.get(identifier)
    assert type(m) is cls and m.name == identifier


def test_get_other_identifiers_and_errors():
    m = metrics.MeanAbsoluteError(name="l1")
    assert metrics.get(m) is m and metrics.get(None) is None
    assert type(metrics.get(metrics.Mean)) is metrics.Mean
    wrapped = metrics.get(metrics.mean_squared_error)
    assert type(wrapped) is metrics.MeanMetricWrapper and wrapped.name == "mean_squared_error"
    assert wrapped.higher_is_better is False
    assert type(metrics.get({"class_name": "BinaryAccuracy", "config": {"threshold": 0.3}})) is metrics.BinaryAccuracy
    with pytest.raises(ValueError, match="Did you mean"):
        metrics.get("mean_sqared_error")
    with pytest.raises(ValueError, match="compile"):
        metrics.get("acc")
    with pytest.raises(TypeError, match="Could not interpret"):
        metrics.get(3)


@pytest.mark.parametrize("metric", [
    metrics.BinaryAccuracy(name="b", threshold=0.3, from_logits=True), metrics.TopKCategoricalAccuracy(k=2),
    metrics.SparseTopKCategoricalAccuracy(k=3, from_sorted_ids=True), metrics.CosineSimilarity(axis=1),
    metrics.RootMeanSquaredError(dtype="float64"), metrics.Mean(name="loss"), metrics.LogCoshError(),
], ids=lambda m: type(m).__name__)
def test_config_round_trip_through_json(metric):
    config = json.loads(json.dumps(metrics.serialize(metric)))
    clone = metrics.deserialize(config)
    assert type(clone) is type(metric) and clone.get_config() == metric.get_config()
    assert clone.name == metric.name and clone.dtype == metric.dtype


def test_deserialize_custom_objects_and_bad_dtype():
    clone = metrics.deserialize({"class_name": "_Stats", "config": {"name": "s"}}, custom_objects={"_Stats": _Stats})
    assert isinstance(clone, _Stats) and clone.name == "s"
    with pytest.raises(ValueError, match="Unknown metric dtype"):
        metrics.Mean(dtype="float33")
    with pytest.raises(ValueError, match="class_name"):
        metrics.deserialize({"config": {}})
