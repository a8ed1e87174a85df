"""Mean, Sum and MeanMetricWrapper against float64 NumPy (Keras's per-sample reduction rules)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from metric_tester import check_metric, make_batches, make_weights

from plait import metrics


def _values(rng, n, shape=()):
    # The tester passes (y_true, y_pred); Mean/Sum take a single `values`, so y_true is a dummy.
    v = rng.normal(size=(n, *shape)).astype(np.float32)
    return np.zeros(n, np.float32), v


class _ValuesOnly:
    """Adapts Mean/Sum to the tester's (y_true, y_pred, sample_weight) calls."""

    def __init__(self, metric):
        self.metric = metric

    def update_state(self, y_true, y_pred, sample_weight=None):
        self.metric.update_state(y_pred, sample_weight=sample_weight)

    def __call__(self, y_true, y_pred, sample_weight=None):
        return self.metric(y_pred, sample_weight=sample_weight)

    def result(self):
        return self.metric.result()

    def reset_state(self):
        self.metric.reset_state()

    def merge_state(self, other):
        self.metric.merge_state(other.metric)
        return self


def _mean_ref(t, v, w):
    per_sample = v.reshape(len(v), -1).mean(-1)
    return np.average(per_sample, weights=w)


def _sum_ref(t, v, w):
    per_sample = v.reshape(len(v), -1).sum(-1)
    return (per_sample * (1.0 if w is None else w)).sum()


@pytest.mark.parametrize("shape", [(), (1,), (3,), (2, 3)])
def test_mean_matches_numpy(shape):
    check_metric(lambda: _ValuesOnly(metrics.Mean()), _mean_ref, make_batches(lambda r, n: _values(r, n, shape)))


@pytest.mark.parametrize("shape", [(), (3,), (2, 3)])
def test_sum_matches_numpy(shape):
    check_metric(lambda: _ValuesOnly(metrics.Sum()), _sum_ref, make_batches(lambda r, n: _values(r, n, shape)),
                 rtol=2e-6, atol=1e-5)


def test_mean_with_elementwise_weights_follows_keras():
    # Weights of the values' shape: total += mean_j(v_ij * w_ij), count += mean_j(w_ij) per sample.
    rng = np.random.default_rng(0)
    v, w = rng.normal(size=(6, 3)), rng.uniform(size=(6, 3))
    m = metrics.Mean(dtype="float64")
    m.update_state(v, sample_weight=w)
    np.testing.assert_allclose(m.result().numpy(), (v * w).mean(-1).sum() / w.mean(-1).sum(), rtol=1e-12)
    assert m.result().dtype == torch.float64


def test_mean_column_weights_and_scalar_weight():
    rng = np.random.default_rng(1)
    batches = make_batches(lambda r, n: _values(r, n))
    check_metric(lambda: _ValuesOnly(metrics.Mean()),
                 lambda t, v, w: np.average(v, weights=None if w is None else w.ravel()),
                 batches, make_weights(batches, shape="column"))
    v = rng.normal(size=5)
    for scalar in (2.0, torch.tensor(2.0)):
        m = metrics.Mean()
        m.update_state(v, sample_weight=scalar)  # a scalar weights every sample
        m.update_state(v[:2])
        expected = (2.0 * v.sum() + v[:2].sum()) / (2.0 * 5 + 2)
        np.testing.assert_allclose(m.result().numpy(), expected, rtol=1e-6)


def test_mean_empty_and_zero_weights_give_zero():
    m = metrics.Mean()
    assert float(m.result()) == 0.0
    m.update_state([1.0, 2.0], sample_weight=[0.0, 0.0])
    assert float(m.result()) == 0.0
    m.update_state(4.0)  # a 0-d value counts as one sample
    assert float(m.result()) == 4.0


def test_mean_rejects_mismatched_weights_with_a_clear_error():
    with pytest.raises(ValueError, match="sample_weight of shape"):
        metrics.Mean().update_state(np.ones(4), sample_weight=np.ones(3))


def test_mean_metric_wrapper_with_custom_function_and_kwargs():
    def scaled_abs_error(y_true, y_pred, scale=1.0):
        assert isinstance(y_true, torch.Tensor) and isinstance(y_pred, torch.Tensor)
        return scale * (y_true - y_pred).abs()

    def make(rng, n):
        return rng.normal(size=(n, 2)).astype(np.float32), rng.normal(size=(n, 2)).astype(np.float32)

    check_metric(lambda: metrics.MeanMetricWrapper(scaled_abs_error, scale=3.0),
                 lambda t, p, w: np.average(3.0 * np.abs(t - p).mean(-1), weights=w), make_batches(make))
    m = metrics.MeanMetricWrapper(scaled_abs_error, scale=3.0)
    assert m.name == "scaled_abs_error" and m.higher_is_better is None
    assert m.get_config() == {"name": "scaled_abs_error", "dtype": "float32", "fn": "scaled_abs_error", "scale": 3.0}
    assert metrics.MeanMetricWrapper(lambda t, p: t - p).name == "mean_metric_wrapper"
    with pytest.raises(TypeError, match="needs a function"):
        metrics.MeanMetricWrapper("not callable")


def test_mean_metric_wrapper_round_trips_a_plait_function():
    m = metrics.MeanMetricWrapper(metrics.binary_accuracy, name="acc_at_0.3", threshold=0.3)
    clone = metrics.deserialize(metrics.serialize(m))
    assert type(clone) is metrics.MeanMetricWrapper and clone.name == "acc_at_0.3"
    assert clone._fn is metrics.binary_accuracy and clone._fn_kwargs == {"threshold": 0.3}
    assert m.higher_is_better is True
    y_true, y_pred = np.array([1.0, 0.0, 1.0]), np.array([0.4, 0.2, 0.1])
    assert float(clone(y_true, y_pred)) == pytest.approx(2 / 3)
