"""F1Score and FBetaScore against scikit-learn's f1_score / fbeta_score: every average, sparse and one-hot labels,
multi-label thresholds, binary columns, logits, per batch and accumulated, weighted, reset and merged."""
from __future__ import annotations

import numpy as np
import pytest
from metric_tester import check_metric, make_batches
from scipy.special import expit
from sklearn.metrics import f1_score, fbeta_score

from plait import metrics

K = 5


def multiclass(labels):
    def make(rng, n):
        ids = rng.integers(0, K, size=n)
        probs = rng.dirichlet(np.ones(K), size=n).astype(np.float32)
        return {"sparse": ids, "column": ids[:, None], "onehot": np.eye(K, dtype=np.float32)[ids]}[labels], probs
    return make


def multilabel(rng, n):
    return (rng.uniform(size=(n, K)) < 0.4).astype(np.float32), rng.uniform(size=(n, K)).astype(np.float32)


def _ids(t):
    return t.argmax(-1) if t.ndim == 2 and t.shape[1] == K else t.ravel().astype(int)


@pytest.mark.parametrize("labels,average", [(labels, average) for labels in ("sparse", "onehot")
                                            for average in (None, "micro", "macro", "weighted")]
                         + [("column", "macro")])
def test_f1_multiclass_matches_sklearn(labels, average):
    check_metric(lambda: metrics.F1Score(average=average),
                 lambda t, p, w: f1_score(_ids(t), p.argmax(-1), labels=list(range(K)), average=average,
                                          sample_weight=w, zero_division=0),
                 make_batches(multiclass(labels)))


@pytest.mark.parametrize("beta,average", [(0.5, None), (0.5, "micro"), (2.0, "macro"), (2.0, "weighted")])
def test_fbeta_multilabel_with_threshold_matches_sklearn(beta, average):
    check_metric(lambda: metrics.FBetaScore(average=average, beta=beta, threshold=0.4),
                 lambda t, p, w: fbeta_score(t.astype(int), (p > 0.4).astype(int), beta=beta, average=average,
                                             sample_weight=w, zero_division=0),
                 make_batches(multilabel))


@pytest.mark.parametrize("shape", ["flat", "column"])
def test_binary_columns_default_to_a_half_threshold(shape):
    def make(rng, n):
        y, p = rng.integers(0, 2, size=n).astype(np.float32), rng.uniform(size=n).astype(np.float32)
        return (y[:, None], p[:, None]) if shape == "column" else (y, p)

    check_metric(lambda: metrics.F1Score(average="micro"),
                 lambda t, p, w: f1_score(t.ravel().astype(int), (p.ravel() > 0.5).astype(int), sample_weight=w,
                                          zero_division=0),
                 make_batches(make))


def test_from_logits_thresholds_the_sigmoid():
    def make(rng, n):
        return (rng.uniform(size=(n, K)) < 0.4).astype(np.float32), (2 * rng.normal(size=(n, K))).astype(np.float32)

    check_metric(lambda: metrics.F1Score(average="macro", threshold=0.7, from_logits=True),
                 lambda t, p, w: f1_score(t.astype(int), (expit(p) > 0.7).astype(int), average="macro",
                                          sample_weight=w, zero_division=0),
                 make_batches(make))


def test_row_maximum_rule_counts_every_tie_and_ignores_all_zero_rows():
    m = metrics.F1Score(average=None)
    m.update_state(np.eye(3)[[0, 1, 2]], [[0.5, 0.5, 0.0], [0.0, 0.0, 0.0], [0.1, 0.2, 0.7]])
    # Row 0 predicts classes 0 and 1 (tie), row 1 predicts nothing, row 2 predicts class 2.
    np.testing.assert_allclose(m.result().numpy(), [1.0, 0.0, 1.0], rtol=1e-6)
    np.testing.assert_allclose(m.true_positives[0].numpy(), [1, 0, 1])
    np.testing.assert_allclose(m.false_positives[0].numpy(), [0, 1, 0])


def test_keras_docstring_values():
    y_true = np.array([[1, 1, 1], [1, 0, 0], [1, 1, 0]], np.int32)
    y_pred = np.array([[0.2, 0.6, 0.7], [0.2, 0.6, 0.6], [0.6, 0.8, 0.0]], np.float32)
    np.testing.assert_allclose(metrics.F1Score(threshold=0.5)(y_true, y_pred).numpy(), [0.5, 0.8, 0.6666667],
                               rtol=1e-6)
    np.testing.assert_allclose(metrics.FBetaScore(beta=2.0, threshold=0.5)(y_true, y_pred).numpy(),
                               [0.3846154, 0.90909094, 0.8333334], rtol=1e-6)


def test_validation_config_and_names():
    for bad in ({"average": "samples"}, {"beta": 0.0}, {"beta": -1.0}, {"threshold": 0.0}, {"threshold": 1.5}):
        with pytest.raises(ValueError):
            metrics.FBetaScore(**bad)
    m = metrics.FBetaScore(average="weighted", beta=0.5, threshold=0.3, from_logits=True, name="fb")
    assert metrics.FBetaScore.from_config(m.get_config()).get_config() == m.get_config()
    f1 = metrics.F1Score(average="macro")
    assert "beta" not in f1.get_config() and metrics.F1Score.from_config(f1.get_config()).average == "macro"
    assert metrics.F1Score().name == "f1_score" and metrics.FBetaScore().name == "fbeta_score"
    assert metrics.F1Score.higher_is_better is True
    assert isinstance(metrics.get("f_beta_score"), metrics.FBetaScore)
    by_id = metrics.get("f1_score")
    assert by_id.name == "f1_score" and by_id.average == "macro" and type(by_id) is metrics.F1Score
    assert metrics.get("fbeta_score").average == "macro" and metrics.F1Score().average is None
    assert metrics.get("F1Score").average is None  # a class name builds the class with Keras's defaults
