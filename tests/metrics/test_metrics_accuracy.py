"""Accuracy metrics against scikit-learn, per batch and accumulated, with and without sample weights."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from metric_tester import check_metric, make_batches, make_weights
from scipy.special import expit
from sklearn.metrics import accuracy_score, top_k_accuracy_score

from plait import metrics
from plait.metrics.accuracy import accuracy

C = 6  # classes


def _scores(rng, n):
    return rng.normal(size=(n, C)).astype(np.float32)


def _one_hot(labels):
    return np.eye(C, dtype=np.float32)[labels]


def _flat_accuracy(y_true, y_pred, w):
    # Per-element hits averaged per sample, then weighted per sample == element accuracy with repeated weights.
    per_row = y_true.reshape(len(y_true), -1).shape[1]
    return accuracy_score(y_true.ravel(), y_pred.ravel(), sample_weight=None if w is None else np.repeat(w, per_row))


# --- Accuracy ------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", ["flat", "column"])
def test_accuracy_matches_sklearn(shape):
    def make(rng, n):
        yt, yp = rng.integers(0, 3, size=n), rng.integers(0, 3, size=n)
        return (yt[:, None], yp[:, None]) if shape == "column" else (yt, yp)

    check_metric(metrics.Accuracy, lambda t, p, w: accuracy_score(t.ravel(), p.ravel(), sample_weight=w),
                 make_batches(make))


def test_accuracy_rank_alignment_and_function_twin():
    hits = accuracy(np.array([1, 2, 3, 4]), np.array([[0], [2], [3], [4]]))
    np.testing.assert_array_equal(hits.numpy(), [0.0, 1.0, 1.0, 1.0])


# --- BinaryAccuracy ------------------------------------------------------------------------------
@pytest.mark.parametrize("threshold", [0.5, 0.3])
@pytest.mark.parametrize("labels", ["flat", "column", "multilabel"])
def test_binary_accuracy_matches_sklearn(threshold, labels):
    def make(rng, n):
        if labels == "multilabel":
            return rng.integers(0, 2, size=(n, 3)).astype(np.float32), rng.uniform(size=(n, 3)).astype(np.float32)
        yt, yp = rng.integers(0, 2, size=n).astype(np.float32), rng.uniform(size=(n, 1)).astype(np.float32)
        return (yt[:, None] if labels == "column" else yt), yp

    check_metric(lambda: metrics.BinaryAccuracy(threshold=threshold),
                 lambda t, p, w: _flat_accuracy(t.reshape(p.shape), (p > threshold).astype(float), w),
                 make_batches(make))


def test_binary_accuracy_from_logits_matches_sigmoid_reference():
    def make(rng, n):
        return rng.integers(0, 2, size=n).astype(np.float32), (3 * rng.normal(size=n)).astype(np.float32)

    check_metric(lambda: metrics.BinaryAccuracy(threshold=0.9, from_logits=True),
                 lambda t, p, w: accuracy_score(t, (expit(p) > 0.9).astype(float), sample_weight=w),
                 make_batches(make))


def test_binary_accuracy_threshold_is_strict_and_validated():
    m = metrics.BinaryAccuracy(threshold=0.5)
    assert float(m([0.0, 0.0], [0.5, 0.5])) == 1.0  # 0.5 is not > 0.5, so both predict 0
    for bad in (0, 1, 1.5, -0.1, None, True):
        with pytest.raises(ValueError, match="threshold"):
            metrics.BinaryAccuracy(threshold=bad)


# --- Categorical / sparse ------------------------------------------------------------------------
def test_categorical_accuracy_matches_sklearn():
    def make(rng, n):
        return _one_hot(rng.integers(0, C, size=n)), _scores(rng, n)

    check_metric(metrics.CategoricalAccuracy,
                 lambda t, p, w: accuracy_score(t.argmax(-1), p.argmax(-1), sample_weight=w), make_batches(make))


@pytest.mark.parametrize("shape", ["flat", "column", "float"])
def test_sparse_categorical_accuracy_matches_sklearn(shape):
    def make(rng, n):
        labels = rng.integers(0, C, size=n)
        if shape == "float":  # labels read from a float array, as datasets often give them
            return labels.astype(np.float32), _scores(rng, n)
        return (labels[:, None] if shape == "column" else labels), _scores(rng, n)

    check_metric(metrics.SparseCategoricalAccuracy,
                 lambda t, p, w: accuracy_score(t.ravel(), p.argmax(-1), sample_weight=w), make_batches(make),
                 sample_weights=None)


def test_sparse_categorical_accuracy_column_weights():
    def make(rng, n):
        return rng.integers(0, C, size=(n, 1)), _scores(rng, n)

    batches = make_batches(make)
    check_metric(metrics.SparseCategoricalAccuracy,
                 lambda t, p, w: accuracy_score(t.ravel(), p.argmax(-1),
                                                sample_weight=None if w is None else w.ravel()),
                 batches, make_weights(batches, shape="column"))


def test_from_logits_is_accepted_and_ignored_by_categorical_metrics():
    y_true, y_pred = np.array([2, 1, 0]), np.array([[0.1, 0.2, 3.0], [1.0, 0.0, -1.0], [2.0, 1.0, 0.0]])
    for cls in (metrics.SparseCategoricalAccuracy, metrics.SparseTopKCategoricalAccuracy):
        kwargs = {"k": 1} if cls is metrics.SparseTopKCategoricalAccuracy else {}
        assert float(cls(from_logits=True, **kwargs)(y_true, y_pred)) == float(cls(**kwargs)(y_true, y_pred))
        assert cls.from_config(cls(from_logits=True, **kwargs).get_config()).from_logits is True


# --- Top-k ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("k", [1, 2, 5])
def test_top_k_categorical_accuracy_matches_sklearn(k):
    def make(rng, n):
        return _one_hot(rng.integers(0, C, size=n)), _scores(rng, n)

    check_metric(lambda: metrics.TopKCategoricalAccuracy(k=k),
                 lambda t, p, w: top_k_accuracy_score(t.argmax(-1), p, k=k, labels=np.arange(C), sample_weight=w),
                 make_batches(make))


@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("shape", ["flat", "column"])
def test_sparse_top_k_categorical_accuracy_matches_sklearn(k, shape):
    def make(rng, n):
        labels = rng.integers(0, C, size=n)
        return (labels[:, None] if shape == "column" else labels), _scores(rng, n)

    check_metric(lambda: metrics.SparseTopKCategoricalAccuracy(k=k),
                 lambda t, p, w: top_k_accuracy_score(t.ravel(), p, k=k, labels=np.arange(C), sample_weight=w),
                 make_batches(make))


def test_sparse_top_k_from_sorted_ids_matches_numpy_and_scores_path():
    def make(rng, n):
        scores = _scores(rng, n)
        return rng.integers(0, C, size=n), np.argsort(-scores, axis=-1)[:, :4]

    def reference(t, ids, w):
        return np.average((ids[:, :2] == t[:, None]).any(-1), weights=w)

    check_metric(lambda: metrics.SparseTopKCategoricalAccuracy(k=2, from_sorted_ids=True), reference,
                 make_batches(make))
    rng = np.random.default_rng(5)
    labels, scores = rng.integers(0, C, size=40), _scores(rng, 40)
    by_ids = metrics.sparse_top_k_categorical_accuracy(labels, np.argsort(-scores, axis=-1), k=3, from_sorted_ids=True)
    expected = metrics.sparse_top_k_categorical_accuracy(labels, scores, k=3)
    np.testing.assert_array_equal(by_ids.numpy(), expected.numpy())


def test_top_k_ties_count_as_hits_and_large_k_is_clamped():
    scores = np.array([[0.5, 0.5, 0.1], [0.9, 0.5, 0.5]], dtype=np.float32)
    hits = metrics.sparse_top_k_categorical_accuracy(np.array([1, 2]), scores, k=1)
    np.testing.assert_array_equal(hits.numpy(), [1.0, 0.0])  # label 1 ties the top score; label 2 does not
    hits = metrics.sparse_top_k_categorical_accuracy(np.array([1, 2]), scores, k=2)
    np.testing.assert_array_equal(hits.numpy(), [1.0, 1.0])  # 0.5 ties the 2nd largest score in row 2
    assert float(metrics.TopKCategoricalAccuracy(k=10)(np.eye(3)[[0, 2]], scores)) == 1.0
    out_of_range = metrics.sparse_top_k_categorical_accuracy(np.array([7, -1]), scores, k=3)
    np.testing.assert_array_equal(out_of_range.numpy(), [0.0, 0.0])
    with pytest.raises(ValueError, match="k must be a positive integer"):
        metrics.TopKCategoricalAccuracy(k=0)


def test_function_twins_return_per_sample_values():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, C, size=9)
    scores = _scores(rng, 9)
    np.testing.assert_array_equal(metrics.sparse_categorical_accuracy(labels, scores).numpy(),
                                  (scores.argmax(-1) == labels).astype(np.float32))
    np.testing.assert_array_equal(metrics.categorical_accuracy(_one_hot(labels), scores).numpy(),
                                  (scores.argmax(-1) == labels).astype(np.float32))
    ranks = (-scores).argsort(-1).argsort(-1)[np.arange(9), labels]
    np.testing.assert_array_equal(metrics.top_k_categorical_accuracy(_one_hot(labels), scores, k=3).numpy(),
                                  (ranks < 3).astype(np.float32))
    assert metrics.sparse_categorical_accuracy(labels[:, None], scores).shape == (9,)
    yt = torch.tensor([1.0, 0.0, 1.0])
    np.testing.assert_array_equal(metrics.binary_accuracy(yt, torch.tensor([0.7, 0.2, 0.4])).numpy(), [1, 1, 0])


def test_keras_docstring_values():
    m = metrics.Accuracy()
    m.update_state([[1], [2], [3], [4]], [[0], [2], [3], [4]], sample_weight=[1, 1, 0, 0])
    assert float(m.result()) == pytest.approx(0.5)
    m = metrics.BinaryAccuracy()
    m.update_state([[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]], sample_weight=[1, 0, 0, 1])
    assert float(m.result()) == pytest.approx(0.5)
    m = metrics.CategoricalAccuracy()
    m.update_state([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]], sample_weight=[0.7, 0.3])
    assert float(m.result()) == pytest.approx(0.3)
    m = metrics.SparseTopKCategoricalAccuracy(k=1)
    m.update_state([2, 1], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]], sample_weight=[0.7, 0.3])
    assert float(m.result()) == pytest.approx(0.3)
