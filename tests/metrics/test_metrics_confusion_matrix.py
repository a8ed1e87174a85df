"""ConfusionMatrix against scikit-learn's confusion_matrix: binary scores, logits, probabilities, one-hot and
integer labels, class ids; per batch and accumulated, weighted, reset and merged."""
from __future__ import annotations

import numpy as np
import pytest
from metric_tester import check_metric, make_batches
from scipy.special import expit
from sklearn.metrics import confusion_matrix

from plait import metrics

K = 4


def _ref(pred_fn, k=K):
    def ref(t, p, w):
        ids = t.argmax(-1) if t.ndim == 2 and t.shape[-1] == k else t.ravel()
        return confusion_matrix(ids.astype(int), pred_fn(p), labels=list(range(k)), sample_weight=w)
    return ref


@pytest.mark.parametrize("labels", ["sparse", "column", "onehot"])
def test_multiclass_from_probabilities(labels):
    def make(rng, n):
        ids = rng.integers(0, K, size=n)
        y = {"sparse": ids, "column": ids[:, None], "onehot": np.eye(K, dtype=np.float32)[ids]}[labels]
        return y, rng.dirichlet(np.ones(K), size=n).astype(np.float32)

    check_metric(lambda: metrics.ConfusionMatrix(K), _ref(lambda p: p.argmax(-1)), make_batches(make))
    check_metric(metrics.ConfusionMatrix, _ref(lambda p: p.argmax(-1)), make_batches(make))  # K from y_pred


@pytest.mark.parametrize("shape", ["flat", "column"])
@pytest.mark.parametrize("threshold,logits", [(0.5, False), (0.3, False), (0.8, True)])
def test_binary_scores_with_threshold(shape, threshold, logits):
    def make(rng, n):
        y = rng.integers(0, 2, size=n)
        p = (2 * rng.normal(size=n) if logits else rng.uniform(size=n)).astype(np.float32)
        return (y[:, None], p[:, None]) if shape == "column" else (y, p)

    def predict(p):
        return ((expit(p) if logits else p).ravel() > threshold).astype(int)

    check_metric(lambda: metrics.ConfusionMatrix(2, threshold=threshold, from_logits=logits),
                 _ref(predict, k=2), make_batches(make))


def test_predicted_class_ids():
    def make(rng, n):
        return rng.integers(0, K, size=n), rng.integers(0, K, size=n)

    check_metric(lambda: metrics.ConfusionMatrix(K), _ref(lambda p: p.astype(int)), make_batches(make))


def test_out_of_range_ids_are_left_out_and_layout_is_rows_true():
    m = metrics.ConfusionMatrix(3)
    matrix = m([0, 1, 2, 5, -1], [1, 1, 2, 0, 0]).numpy()
    np.testing.assert_array_equal(matrix, [[0, 1, 0], [0, 1, 0], [0, 0, 1]])  # row = true class
    assert m.higher_is_better is None and m.name == "confusion_matrix"


def test_errors_config_and_string_id():
    with pytest.raises(ValueError, match="num_classes"):
        metrics.ConfusionMatrix()([0, 1, 2], [0, 2, 1])  # ids without num_classes
    with pytest.raises(ValueError, match="num_classes"):
        metrics.ConfusionMatrix(3)([0, 1], np.eye(4)[[0, 1]])
    with pytest.raises(ValueError):
        metrics.ConfusionMatrix(1)
    m = metrics.ConfusionMatrix(5, threshold=0.4, from_logits=True, name="cm")
    assert metrics.ConfusionMatrix.from_config(m.get_config()).get_config() == m.get_config()
    assert isinstance(metrics.get("confusion_matrix"), metrics.ConfusionMatrix)
