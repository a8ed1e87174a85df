"""Crossentropy, KL and Poisson metrics against scikit-learn's log_loss or float64 NumPy, per batch and
accumulated, weighted, reset and merged; from_logits, label smoothing and ignore_class."""
from __future__ import annotations

import numpy as np
import pytest
from metric_tester import check_metric, make_batches
from scipy.special import expit, softmax
from sklearn.metrics import log_loss

from plait import metrics

K = 4
EPS = 1e-7


def binary(shape, logits=False):
    def make(rng, n):
        y = rng.integers(0, 2, size=n).astype(np.float32)
        p = (2 * rng.normal(size=n) if logits else rng.uniform(0.01, 0.99, size=n)).astype(np.float32)
        return (y[:, None], p[:, None]) if shape == "column" else (y, p)
    return make


def classes(labels, logits=False):
    def make(rng, n):
        ids = rng.integers(0, K, size=n)
        scores = rng.normal(size=(n, K)).astype(np.float32)
        p = scores if logits else softmax(scores, axis=-1).astype(np.float32)
        return (np.eye(K, dtype=np.float32)[ids] if labels == "onehot" else ids), p
    return make


@pytest.mark.parametrize("shape", ["flat", "column"])
def test_binary_crossentropy_matches_log_loss_one_value_per_sample(shape):
    check_metric(metrics.BinaryCrossentropy,
                 lambda t, p, w: log_loss(t.ravel(), p.ravel(), sample_weight=w, labels=[0, 1]),
                 make_batches(binary(shape)))


def test_binary_crossentropy_from_logits_and_label_smoothing():
    check_metric(lambda: metrics.BinaryCrossentropy(from_logits=True),
                 lambda t, p, w: log_loss(t, expit(p), sample_weight=w, labels=[0, 1]),
                 make_batches(binary("flat", logits=True)))

    def smoothed(t, p, w):  # float64 derivation of Keras's formula
        t = t * 0.8 + 0.5 * 0.2
        p = np.clip(p, EPS, 1 - EPS)
        return np.average(-(t * np.log(p) + (1 - t) * np.log(1 - p)).mean(-1), weights=w)

    def multilabel(rng, n):
        return (rng.uniform(size=(n, 3)) < 0.5).astype(np.float32), rng.uniform(0.01, 0.99, (n, 3)).astype(np.float32)

    check_metric(lambda: metrics.BinaryCrossentropy(label_smoothing=0.2), smoothed, make_batches(multilabel))


@pytest.mark.parametrize("logits", [False, True])
def test_categorical_and_sparse_crossentropy_match_log_loss(logits):
    def ref(t, p, w):
        ids = t.argmax(-1) if t.ndim == 2 else t
        probs = softmax(p, axis=-1) if logits else p
        return log_loss(ids.astype(int), probs / probs.sum(-1, keepdims=True), sample_weight=w, labels=list(range(K)))

    check_metric(lambda: metrics.CategoricalCrossentropy(from_logits=logits), ref,
                 make_batches(classes("onehot", logits)))
    check_metric(lambda: metrics.SparseCategoricalCrossentropy(from_logits=logits), ref,
                 make_batches(classes("sparse", logits)))


def test_sparse_crossentropy_ignore_class_leaves_the_mean():
    def ref(t, p, w):
        keep = t != 1
        w = np.ones(len(t)) if w is None else w
        if not (keep & (w > 0)).any():
            return 0.0
        probs = p[keep] / p[keep].sum(-1, keepdims=True)
        return log_loss(t[keep].astype(int), probs, sample_weight=w[keep], labels=list(range(K)))

    check_metric(lambda: metrics.SparseCategoricalCrossentropy(ignore_class=1), ref,
                 make_batches(classes("sparse"), sizes=(7, 16, 9, 33)))


def test_kl_divergence_and_poisson_match_numpy():
    def distributions(rng, n):
        return rng.dirichlet(np.ones(K), n).astype(np.float32), rng.dirichlet(np.ones(K), n).astype(np.float32)

    def kl(t, p, w):
        t, p = np.clip(t, EPS, 1), np.clip(p, EPS, 1)
        return np.average((t * np.log(t / p)).sum(-1), weights=w)

    check_metric(metrics.KLDivergence, kl, make_batches(distributions))

    def counts(rng, n):
        return rng.poisson(2.0, size=n).astype(np.float32), rng.uniform(0.5, 4.0, size=n).astype(np.float32)

    check_metric(metrics.Poisson, lambda t, p, w: np.average(p - t * np.log(p + EPS), weights=w),
                 make_batches(counts))


def test_keras_docstring_values_directions_and_config():
    assert float(metrics.BinaryCrossentropy()([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]])) == \
        pytest.approx(0.81492424, rel=1e-6)
    assert float(metrics.KLDivergence()([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]])) == pytest.approx(0.45814306,
                                                                                                    rel=1e-6)
    for metric in (metrics.BinaryCrossentropy(from_logits=True, label_smoothing=0.1, name="b"),
                   metrics.CategoricalCrossentropy(label_smoothing=0.2, axis=-1),
                   metrics.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0),
                   metrics.KLDivergence(), metrics.Poisson()):
        assert metric.higher_is_better is False
        assert type(metric).from_config(metric.get_config()).get_config() == metric.get_config()
    assert metrics.get("bce").name == "bce" and isinstance(metrics.get("kld"), metrics.KLDivergence)
    assert isinstance(metrics.get("binary_crossentropy"), metrics.BinaryCrossentropy)
