"""Regression metrics against scikit-learn or float64 NumPy, per batch and accumulated, weighted or not."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from metric_tester import check_metric, make_batches, make_weights
from sklearn.metrics import (
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    mean_squared_log_error,
)

from plait import metrics


def _normal(rng, n, d):
    shape = (n,) if d == 0 else (n, d)
    return rng.normal(size=shape).astype(np.float32), rng.normal(size=shape).astype(np.float32)


def _positive(rng, n, d):
    shape = (n,) if d == 0 else (n, d)
    return rng.uniform(0.5, 3.0, size=shape).astype(np.float32), rng.uniform(0.0, 4.0, size=shape).astype(np.float32)


def _signed_away_from_zero(rng, n, d):
    shape = (n,) if d == 0 else (n, d)
    y_true = rng.uniform(0.5, 3.0, size=shape) * rng.choice([-1.0, 1.0], size=shape)
    return y_true.astype(np.float32), rng.normal(size=shape).astype(np.float32)


def _weighted_sample_mean(per_sample, w):
    return np.average(per_sample, weights=w)


def _per_sample(values):
    return values.mean(axis=-1) if values.ndim >= 2 else values


# (metric class, data maker, reference(y_true, y_pred, w) in float64)
CASES = {
    "mse": (metrics.MeanSquaredError, _normal, lambda t, p, w: mean_squared_error(t, p, sample_weight=w)),
    "mae": (metrics.MeanAbsoluteError, _normal, lambda t, p, w: mean_absolute_error(t, p, sample_weight=w)),
    "rmse": (metrics.RootMeanSquaredError, _normal,
             lambda t, p, w: np.sqrt(mean_squared_error(t, p, sample_weight=w))),
    "mape": (metrics.MeanAbsolutePercentageError, _signed_away_from_zero,
             lambda t, p, w: 100.0 * mean_absolute_percentage_error(t, p, sample_weight=w)),
    "msle": (metrics.MeanSquaredLogarithmicError, _positive,
             lambda t, p, w: mean_squared_log_error(t, p, sample_weight=w)),
    "logcosh": (metrics.LogCoshError, _normal,
                lambda t, p, w: _weighted_sample_mean(_per_sample(np.log(np.cosh(p - t))), w)),
}


@pytest.mark.parametrize("width", [0, 1, 3], ids=["rank1", "column", "width3"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_regression_metric_matches_reference(case, width):
    cls, maker, reference = CASES[case]
    check_metric(cls, reference, make_batches(lambda rng, n: maker(rng, n, width)))


@pytest.mark.parametrize("case", ["mse", "rmse", "mae"])
def test_column_weights_and_mixed_ranks(case):
    # y_true (n,), y_pred (n, 1) as a one-unit model gives, with (n, 1) weights.
    cls, _, reference = CASES[case]

    def make(rng, n):
        return rng.normal(size=n).astype(np.float32), rng.normal(size=(n, 1)).astype(np.float32)

    batches = make_batches(make)
    check_metric(cls, lambda t, p, w: reference(t, p.ravel(), None if w is None else w.ravel()),
                 batches, make_weights(batches, shape="column"))


def _cosine_reference(axis):
    def reference(t, p, w):
        cos = (t * p).sum(axis) / (np.linalg.norm(t, axis=axis) * np.linalg.norm(p, axis=axis))
        return np.average(cos.reshape(len(cos), -1).mean(-1), weights=w)
    return reference


@pytest.mark.parametrize("axis", [-1, 1])
def test_cosine_similarity_matches_numpy(axis):
    def make(rng, n):
        return tuple(rng.uniform(0.1, 1.0, size=(n, 4, 3)).astype(np.float32) for _ in range(2))

    check_metric(lambda: metrics.CosineSimilarity(axis=axis), _cosine_reference(axis), make_batches(make))


def test_cosine_similarity_zero_vector_gives_zero_and_rank1_is_one_vector():
    assert float(metrics.CosineSimilarity()([[0.0, 0.0], [1.0, 1.0]], [[1.0, 0.0], [1.0, 1.0]])) == pytest.approx(0.5)
    value = metrics.cosine_similarity(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 4.0]))
    expected = 17.0 / (np.sqrt(14.0) * np.sqrt(21.0))
    assert value.shape == () and float(value) == pytest.approx(expected, rel=1e-6)


def test_log_cosh_is_accurate_for_tiny_and_huge_errors():
    x = np.array([1e-4, 3e-3, 0.5, 9.99, 10.0, 50.0, 200.0], dtype=np.float32)
    got = metrics.log_cosh(np.zeros_like(x), x).numpy().astype(np.float64)
    x64 = x.astype(np.float64)
    expected = np.where(x64 < 20, np.log(np.cosh(np.minimum(x64, 20))), x64 - np.log(2.0))
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_function_twins_are_per_sample():
    rng = np.random.default_rng(0)
    t, p = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    np.testing.assert_allclose(metrics.mean_squared_error(t, p).numpy(), ((t - p) ** 2).mean(-1), rtol=1e-6)
    np.testing.assert_allclose(metrics.mean_absolute_error(t[:, 0], p[:, 0]).numpy(), np.abs(t - p)[:, 0], rtol=1e-6)
    assert metrics.mean_squared_logarithmic_error(np.abs(t), np.abs(p)).shape == (5,)
    assert metrics.mean_absolute_percentage_error(t, p).shape == (5,)


def test_mape_clips_zero_targets_and_integer_inputs_work():
    value = float(metrics.MeanAbsolutePercentageError()([[0, 1], [0, 0]], [[1, 1], [0, 0]]))
    assert value == pytest.approx(2.5e8, rel=1e-6)  # Keras's documented value
    assert float(metrics.MeanSquaredError()(np.array([1, 2]), np.array([1, 4]))) == pytest.approx(2.0)


def test_rmse_takes_the_root_of_the_accumulated_mean():
    m = metrics.RootMeanSquaredError()
    m.update_state([0.0, 0.0], [3.0, 3.0])
    m.update_state([0.0], [0.0])
    assert float(m.result()) == pytest.approx(np.sqrt(18.0 / 3.0))
    m.update_state(torch.zeros(2), torch.ones(2), sample_weight=torch.tensor([0.0, 0.0]))
    assert float(m.result()) == pytest.approx(np.sqrt(18.0 / 3.0))
